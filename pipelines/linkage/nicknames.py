"""The packaged nickname table: which formal first names a given first name can stand for.

`data/nicknames.csv` (columns ``name,canonical``) is derived from the `nicknames` package
(Carlton Northern and Nick Crews, Apache-2.0: a hand-curated table of English names and
nicknames) plus `data/nicknames_es.csv`, a short table of Spanish diminutives common in
California court records (PACO -> FRANCISCO, CHUY -> JESUS, LUPE -> GUADALUPE, ...), which the
English table lacks. It is committed so a run never depends on a package's data changing under it
and a reviewer can read it; regenerate it with

    .venv/bin/python -m pipelines.linkage.nicknames

Two first names are "nickname-equivalent" when their groups intersect, where a name's group is the
name itself plus every formal name it is a nickname of (BOB -> {BOB, ROBERT}; BOBBY -> {BOBBY,
ROBERT}; ROBERT -> {ROBERT, ...}).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import polars as pl

DATA = Path(__file__).parent / "data"
TABLE = DATA / "nicknames.csv"
SPANISH = DATA / "nicknames_es.csv"


def build_nickname_table() -> pl.DataFrame:
    """Derive the (name, canonical) table from the `nicknames` package and the Spanish supplement."""
    import nicknames  # noqa: PLC0415 (only needed when regenerating)

    rows = [(t.name2.upper(), t.name1.upper()) for t in nicknames.name_triplets()]
    with SPANISH.open(newline="") as f:
        rows += [(r["name"].strip().upper(), r["canonical"].strip().upper()) for r in csv.DictReader(f)]
    frame = pl.DataFrame(rows, schema={"name": pl.String, "canonical": pl.String}, orient="row")
    return (
        frame.with_columns(pl.all().str.replace_all(r"[^A-Z]", ""))
        .filter((pl.col("name") != "") & (pl.col("canonical") != "") & (pl.col("name") != pl.col("canonical")))
        .unique()
        .sort("name", "canonical")
    )


@lru_cache(maxsize=4)
def nickname_table(extra: str | None = None) -> pl.DataFrame:
    """The packaged table (plus an optional county table with the same columns), one row per pair."""
    table = pl.read_csv(TABLE, schema={"name": pl.String, "canonical": pl.String})
    if extra:
        more = pl.read_csv(extra, schema={"name": pl.String, "canonical": pl.String})
        more = more.with_columns(pl.all().str.to_uppercase().str.replace_all(r"[^A-Z]", ""))
        table = pl.concat([table, more]).unique().sort("name", "canonical")
    return table


def name_groups(extra: str | None = None) -> pl.DataFrame:
    """name -> sorted list of the name itself and the formal names it can stand for."""
    table = nickname_table(extra)
    return (
        pl.concat([table, table.select("name", pl.col("name").alias("canonical"))])
        .unique()
        .group_by("name")
        .agg(pl.col("canonical").sort().alias("groups"))
        .sort("name")
    )


if __name__ == "__main__":  # pragma: no cover
    table = build_nickname_table()
    table.write_csv(TABLE)
    print(f"wrote {table.height} pairs to {TABLE}")
