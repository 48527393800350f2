"""Benchmark: read a court extract through its layout and normalize it into canonical frames.

run = read_court (generic_csv layout: structure, quarantine, dates, case numbers, dispositions)
+ court_counts + court_persons (statutes, levels, sentences, ids, names and match keys). The data
is a synthetic county from `autoclear generate` (court extract about the scale's row count,
cached under bench/out/data/court_<scale>/); where the generator is not available, template
charges are repeated with distinct case numbers and people instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

SEED = 20180927  # AB 1793 signed
COURT_RATIO = 3.0  # court rows per DOJ row: the DOJ file is a by-product here, keep it small


def _generate(rows: int, out: Path) -> bool:
    exe = Path(sys.executable).with_name("autoclear")
    cmd = [str(exe), "generate", "--rows", str(max(1, int(rows / COURT_RATIO))), "--seed", str(SEED),
           "--out", str(out), "--court-layout", "generic_csv", "--court-ratio", str(COURT_RATIO)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and any((out / "court").glob("extract_*.csv"))


def _replicate(rows: int, out: Path) -> None:
    """Template charges repeated with distinct case numbers and person keys (vectorized)."""
    import polars as pl

    names = ["GARCIA LOPEZ, MARIA ELENA", "NGUYEN, AN THI", "O'BRIEN JR, SEAN", "DE LA CRUZ, JUAN", "MUÑOZ, ÁNGEL"]
    charges = ["11357(C)HS", "11359 HS", "HS 11360(A)", "23152(A) VC", "11358HS"]
    dispositions = ["CONVICTED-JAIL", "DISMISSED PER PLEA", "GUILTY PLEA", "NOT GUILTY", "CONVICTED-PROBATION"]
    i = pl.col("i")
    case = i // 3
    frame = pl.DataFrame({"i": pl.int_range(rows, eager=True)}).select(
        pl.format("BA{}", (case + 100000).cast(pl.String)).alias("court_case_number"),
        pl.lit("CENTRAL").alias("courthouse"),
        (i % 3 + 1).cast(pl.String).alias("count_number"),
        pl.format("P{}", (case // 2).cast(pl.String)).alias("person_key"),
        pl.lit(pl.Series(names)).gather(case % len(names)).alias("defendant_name"),
        pl.format("19{}-0{}-1{}", (case % 50 + 40).cast(pl.String), (case % 9 + 1).cast(pl.String),
                  (case % 10).cast(pl.String)).alias("dob"),
        pl.lit("M").alias("gender"), pl.lit("HISPANIC").alias("race"),
        pl.format("A{}", (case // 2 + 10_000_000).cast(pl.String)).alias("cii"),
        pl.lit(None, dtype=pl.String).alias("ssn"), pl.lit(None, dtype=pl.String).alias("dl_number"),
        pl.lit(pl.Series(charges)).gather(i % len(charges)).alias("charge"),
        pl.lit("F").alias("charge_level"), pl.lit("MARIJUANA").alias("charge_description"),
        pl.lit("2001-02-03").alias("offense_date"), pl.lit(None, dtype=pl.String).alias("disposition_code"),
        pl.lit(pl.Series(dispositions)).gather(i % len(dispositions)).alias("disposition"),
        pl.format("20{}-03-04", (case % 14 + 10).cast(pl.String)).alias("disposition_date"),
        pl.lit("30").alias("sentence_length"), pl.lit("D").alias("sentence_unit"),
        pl.lit(None, dtype=pl.String).alias("comment"),
    )
    (out / "court").mkdir(parents=True, exist_ok=True)
    frame.write_csv(out / "court" / "extract_01.csv")


def prepare(scale: str, datadir: Path) -> dict:
    out = datadir / f"court_{scale}"
    files = sorted((out / "court").glob("extract_*.csv"))
    if not files:
        if not _generate(SCALE_ROWS[scale], out):
            _replicate(SCALE_ROWS[scale], out)
        files = sorted((out / "court").glob("extract_*.csv"))
    return {"paths": [str(p) for p in files]}


def run(paths: list[str]) -> dict:
    from datetime import date

    from pipelines.sources.court import court_counts, court_persons, read_court

    read = read_court(paths, "generic_csv", county="los_angeles", as_of=date(2024, 7, 1))
    counts = court_counts(read.rows, county="los_angeles")
    persons = court_persons(read.rows, county="los_angeles")
    return {
        "rows": int(read.stats["rows_read"].sum()),
        "notes": f"{counts.height:,} counts, {persons.height:,} persons, {read.quarantine.height} quarantined",
    }


CASES = [
    Case(
        name="court extract read + normalize",
        scales=["100k", "1M", "3M"],
        prepare=prepare,
        run=run,
        target="3M: < 6 s, < 3 GB",
        repeat={"3M": 3},
        rows=lambda scale: SCALE_ROWS[scale],
    )
]
