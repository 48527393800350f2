"""Comparison columns derived from a PERSON frame, in Polars, before anything is compared.

The readers normalize names, dates and identifiers; this module only derives what comparing needs
and is defensive about input that was normalized differently (any frame in the PERSON schema is
accepted): upper-cased letters, surname tokens for compound surnames written four ways
(GARCIA-LOPEZ, GARCIA LOPEZ, GARCIALOPEZ, GARCIA), nickname groups, date-of-birth parts and
blocking keys that survive swapped names and transposed day/month.
"""

from __future__ import annotations

import polars as pl

from pipelines.linkage.nicknames import name_groups
from pipelines.model import PERSON, conform
from pipelines.normalize.case_numbers import case_number_keys

# Surname particles that are not distinctive on their own ("DE LA CRUZ" ~ "CRUZ").
PARTICLES = ["DE", "DEL", "LA", "LAS", "LOS", "Y", "E", "VAN", "VON", "DER", "DEN", "DI", "DA", "DOS", "DU", "LE", "ST", "MC"]

# The columns a prepared frame has (what Splink and the deterministic pass compare).
PREPARED = [
    "unique_id", "first_name", "last_name", "middle_name", "middle_initial", "last_name_flat",
    "first_token", "last_name_tokens", "first_name_groups", "full_name", "name_key", "initials_key", "dob", "dob_str",
    "dob_key", "dob_year", "dob_md", "name_key_nodob", "last_name_flat_nodob", "first_token_nodob",
    "cii", "ssn", "cdl", "fbi", "gender", "name_suffix", "case_keys", "case_keys_full",
    "case_keys_unsuffixed",
]


# The PERSON columns the comparison columns are derived from.
_FROM_PERSON = (
    "person_id", "first_name", "last_name", "middle_name", "name_suffix", "dob", "gender",
    "cii", "ssn", "cdl", "fbi", "source_file", "source_line",
)


def _letters(col: str) -> pl.Expr:
    """Upper-case letters, single spaces and hyphens only; empty -> null."""
    cleaned = (
        pl.col(col).cast(pl.String).str.to_uppercase()
        .str.replace_all(r"[^A-Z \-]", "")
        .str.replace_all(r"\s*-\s*", "-")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" -")
    )
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def _digits(col: str, width: int | None = None) -> pl.Expr:
    d = pl.col(col).cast(pl.String).str.replace_all(r"[^0-9]", "")
    if width:
        d = pl.when(d.str.len_chars() > 0).then(d.str.zfill(width))
    # All-zero identifiers are placeholders, never evidence.
    return pl.when((d.str.len_chars() > 0) & ~d.str.contains(r"^0+$")).then(d)


def _alnum(col: str) -> pl.Expr:
    a = pl.col(col).cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(a.str.len_chars() > 0).then(a)


CASE_KEY_COLUMNS = ("case_keys", "case_keys_full", "case_keys_unsuffixed")


def case_keys(counts: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Each person's court cases as "COUNTY|NUMBER" keys, from a COUNT frame.

    A case number only identifies a case within a county (numbers collide across counties). Every
    number a count carries is used (DOJ joins several OFNs with "; "), normalized
    (pipelines.normalize.case_numbers). Three sorted lists per person_id:

    - ``case_keys``: the base numbers, without defendant suffix (GA039399-01 -> GA039399), since
      DOJ's OFN often omits the suffix;
    - ``case_keys_full``: the normalized numbers, suffix included;
    - ``case_keys_unsuffixed``: the base numbers of numbers written without any suffix (so a
      shared base with a suffix on one side only may be the same defendant, while two different
      suffixes are co-defendants).
    """
    lf = counts.lazy() if isinstance(counts, pl.DataFrame) else counts
    names = lf.collect_schema().names()
    written = pl.col("case_numbers") if "case_numbers" in names else pl.lit(None, dtype=pl.String)
    county = pl.col("county").fill_null("").str.to_uppercase().str.strip_chars() + "|"
    # Counts of one case repeat its numbers: each (person, county, number) once.
    written_numbers = (
        lf.select("person_id", "county", pl.coalesce(written, pl.col("case_number")).alias("number"))
        .filter(pl.col("number").is_not_null())
        .unique()
        .with_columns(pl.col("number").str.split(";"))
        .explode("number")
        .collect(engine="streaming")
    )
    # Numbers already in normalized form (the vast majority) are taken as they are; only the
    # others are parsed (case_number_keys).
    parts = case_number_keys(written_numbers, "number").select(
        "person_id",
        (county + pl.col("base")).alias("base"),
        (county + pl.col("normalized")).alias("full"),
        pl.col("defendant_suffix").is_null().alias("unsuffixed"),
    ).filter(pl.col("base").is_not_null())
    # One sort, then order-keeping aggregation: cheaper than sorting every list. (A full number
    # determines its base and suffix, so rows tied on (person_id, full) are equal.)
    return (
        parts.sort("person_id", "full")
        .group_by("person_id", maintain_order=True)
        .agg(
            pl.col("base").unique(maintain_order=True).alias("case_keys"),
            pl.col("full").unique(maintain_order=True).alias("case_keys_full"),
            pl.col("base").filter(pl.col("unsuffixed")).unique(maintain_order=True).alias("case_keys_unsuffixed"),
        )
    )


def prepare_persons(
    persons: pl.DataFrame,
    counts: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    extra_nicknames: str | None = None,
) -> pl.DataFrame:
    """One row per distinct person_id with the columns in PREPARED, sorted by unique_id (= person_id).

    When several rows share a person_id (one person in several files) the first row in
    (source_file, source_line) order is kept, so the result does not depend on row order.
    `counts` (a COUNT frame, eager or lazy: only person_id, county, case_numbers and case_number
    are read, so a `pl.scan_parquet` of a large frame costs little memory) supplies each person's
    case keys; a `case_keys` list column already on `persons` is used as it is.
    """
    frame = conform(persons, PERSON)
    given = "case_keys" in frame.columns
    # Only the columns comparisons derive from: sorting and copying the others costs for nothing.
    frame = frame.select(*_FROM_PERSON, *[c for c in CASE_KEY_COLUMNS if c in frame.columns])
    frame = frame.sort("person_id", "source_file", "source_line", nulls_last=True).unique(
        "person_id", keep="first", maintain_order=True
    )
    # The case-key lists are joined last, in person_id order (list columns are costly to move).
    if given:
        keys = frame.select(
            "person_id",
            *[pl.col(c if c in frame.columns else "case_keys").cast(pl.List(pl.String)).list.drop_nulls().list.unique(maintain_order=True).alias(c)
              for c in CASE_KEY_COLUMNS],
        )
    elif counts is not None:
        keys = case_keys(counts)
    else:
        keys = None
    frame = frame.drop([c for c in CASE_KEY_COLUMNS if c in frame.columns])

    frame = frame.with_columns(
        pl.col("person_id").alias("unique_id"),
        _letters("first_name").alias("first_name"),
        _letters("last_name").alias("last_name"),
        _letters("middle_name").alias("middle_name"),
        _digits("cii", 9).alias("cii"),
        _digits("ssn", 9).alias("ssn"),
        _alnum("cdl").alias("cdl"),
        _alnum("fbi").alias("fbi"),
        pl.col("gender").cast(pl.String).str.to_uppercase().str.slice(0, 1).alias("gender"),
        pl.col("dob").cast(pl.Date),
    )
    # SSNs that cannot be real (area 000, 666 or 9xx) are typing placeholders.
    frame = frame.with_columns(
        pl.when(~pl.col("ssn").str.contains(r"^(000|666|9)")).then(pl.col("ssn")).alias("ssn"),
        pl.when(pl.col("gender").is_in(["M", "F", "X"])).then(pl.col("gender")).alias("gender"),
    )
    # Hyphenated compound names arrive written four ways; tokens let any one of them match.
    tokens = (
        pl.col("last_name").str.replace_all("-", " ").str.split(" ")
        .list.eval(pl.element().filter((pl.element().str.len_chars() > 1) & ~pl.element().is_in(PARTICLES)))
    )
    flat = pl.col("last_name").str.replace_all(r"[ \-]", "")
    first_token = pl.col("first_name").str.replace_all("-", " ").str.split(" ").list.first()
    frame = frame.with_columns(
        flat.alias("last_name_flat"),
        pl.when(tokens.list.len() > 0).then(tokens).otherwise(pl.concat_list(flat)).alias("last_name_tokens"),
        first_token.alias("first_token"),
        pl.col("middle_name").str.slice(0, 1).alias("middle_initial"),
    )
    groups = name_groups(extra_nicknames).rename({"name": "first_token"})
    frame = frame.join(groups, on="first_token", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("groups").is_not_null()).then(pl.col("groups"))
        .when(pl.col("first_token").is_not_null()).then(pl.concat_list(pl.col("first_token")))
        .alias("first_name_groups")
    ).drop("groups")

    md = pl.col("dob").dt.strftime("%m%d")
    dm = pl.col("dob").dt.strftime("%d%m")
    a, b = pl.col("first_token"), pl.col("last_name_flat")
    ia, ib = a.str.slice(0, 1), b.str.slice(0, 1)
    frame = frame.with_columns(
        pl.when(pl.col("first_name").is_not_null() & pl.col("last_name").is_not_null())
        .then(pl.col("first_name") + " " + pl.col("last_name")).alias("full_name"),
        # Order-free keys: the same for "GARCIA JOSE" and "JOSE GARCIA".
        pl.when(a <= b).then(a + "|" + b).otherwise(b + "|" + a).alias("name_key"),
        pl.when(ia <= ib).then(ia + ib).otherwise(ib + ia).alias("initials_key"),
        pl.col("dob").dt.strftime("%Y%m%d").alias("dob_str"),
        # Year plus the unordered (month, day) pair: equal for 1980-03-07 and 1980-07-03.
        (pl.col("dob").dt.year().cast(pl.String) + pl.min_horizontal(md, dm) + pl.max_horizontal(md, dm)).alias("dob_key"),
        pl.col("name_suffix").cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z]", "").alias("name_suffix"),
    ).with_columns(
        pl.col("dob_str").str.slice(0, 4).alias("dob_year"),
        pl.col("dob_str").str.slice(4, 4).alias("dob_md"),
        # Name keys of records without a date of birth only: blocking on a name alone is then
        # selective (a join on these keys pairs a DOB-less record with everyone of its name).
        *[pl.when(pl.col("dob").is_null()).then(pl.col(c)).alias(f"{c}_nodob")
          for c in ("name_key", "last_name_flat", "first_token")],
        pl.when(pl.col("name_suffix") != "").then(pl.col("name_suffix")).alias("name_suffix"),
    )
    if keys is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias(c) for c in CASE_KEY_COLUMNS)
    else:
        # No null inside the lists here (case_keys() makes none; given lists were cleaned above):
        # an empty list becomes null.
        keys = keys.select(
            pl.col("person_id").alias("unique_id"),
            *[pl.when(pl.col(c).list.len() > 0).then(pl.col(c)).alias(c) for c in CASE_KEY_COLUMNS],
        )
        frame = frame.join(keys, on="unique_id", how="left", maintain_order="left")
    return frame.select(PREPARED).sort("unique_id")
