"""Court case numbers -> one normalized form, plus their parts.

Formats differ by county and courthouse: ``BA336486`` (Los Angeles, courthouse letters + number),
``GA039399-01`` (with a defendant suffix), ``13F07014`` (year + case type + number),
``93WF1745``, ``CC633787``, ``SS102036B`` (trailing defendant letter), ``305563`` (San Francisco
court number). Case numbers collide across counties, so a case key is always (county, normalized
number); see ``case_key``.

**Normalized form**: upper case, every blank and punctuation mark removed, except the defendant
suffix, which is written ``-NN`` (at least two digits, so ``-1`` and ``-01`` agree):

    " ga 039399 - 1 "  -> GA039399-01
    "GA-039399-01"     -> GA039399-01
    "ss 102036 b"      -> SS102036B

A *defendant suffix* is 1-3 digits after a ``-`` or ``/`` at the end, when what comes before holds
at least five digits (so ``2019-123`` is one number, ``2019123``, not case 2019 defendant 123).
Blank values and placeholders (``NULL``, ``NONE``, ``N/A``, ``UNKNOWN``, all zeros) are null.

**Parts** (``case_number_parts``): ``year`` (two digits before letters: ``13`` in ``13F07014``),
``prefix`` (courthouse / case-type letters: ``GA``, ``F``, ``WF``), ``number`` (the digits),
``tail`` (trailing letters: ``B``), ``defendant_suffix`` (``01``, else the tail letter), and
``base`` (the normalized number without any defendant suffix or tail, for matching a DOJ ``OFN``
that omits it).

``case_number_frame(frame, column)`` computes the parts once per distinct value with materialized
steps (the regexes run only on the values that need them); ``normalize_case_number`` and
``case_number_parts`` are the same as expressions (a batch function over the column).
"""

from __future__ import annotations

import polars as pl

from pipelines.normalize.frames import where

PLACEHOLDERS = ("NULL", "NONE", "NA", "N/A", "UNKNOWN", "UNK")
PARTS = ("normalized", "base", "year", "prefix", "number", "tail", "defendant_suffix")
PARTS_STRUCT = pl.Struct({p: pl.String for p in PARTS})

_SUFFIX_RE = r"^(.*?)\s*[-/]\s*(\d{1,3})$"
_WITH_YEAR_RE = r"^(\d{2})([A-Z]+)(\d+)([A-Z]*)$"
_PLAIN_RE = r"^([A-Z]*)(\d+)([A-Z]*)$"


def _parts_of_distinct(values: pl.DataFrame) -> pl.DataFrame:
    """``_raw`` (distinct values) -> ``_raw`` + PARTS."""
    s, body, suffix = pl.col("_s"), pl.col("_body"), pl.col("_suffix")
    frame = values.with_columns(pl.col("_raw").cast(pl.String).str.to_uppercase().str.strip_chars().alias("_s"))
    frame = frame.with_columns(s.alias("_body"), pl.lit(None, dtype=pl.String).alias("_suffix"))
    # A defendant suffix: 1-3 digits after a final "-" or "/", with at least 5 digits before it.
    groups = s.str.extract_groups(_SUFFIX_RE)
    frame = where(frame, s.str.contains(r"[-/]\s*\d{1,3}$"), groups.struct.field("1").alias("_body"),
                  groups.struct.field("2").alias("_suffix"))
    frame = frame.with_columns(
        pl.when(suffix.is_not_null() & (body.str.count_matches(r"\d") >= 5)).then(body).otherwise(s).alias("_body"),
        pl.when(suffix.is_not_null() & (body.str.count_matches(r"\d") >= 5))
        .then(suffix.cast(pl.Int32, strict=False).cast(pl.String).str.zfill(2)).alias("_suffix"),
    )
    frame = where(frame, body.str.contains(r"[^A-Z0-9]"), body.str.replace_all(r"[^A-Z0-9]", "").alias("_body"))
    frame = frame.with_columns(
        pl.when((body == "") | body.is_in(list(PLACEHOLDERS)) | body.str.contains(r"^0+$")).then(None)
        .otherwise(body).alias("_body")
    )
    # Parts: [year][prefix letters][number][tail letters].
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias("year"), pl.lit(None, dtype=pl.String).alias("prefix"),
        pl.lit(None, dtype=pl.String).alias("number"), pl.lit(None, dtype=pl.String).alias("tail"),
    )
    with_year = body.str.extract_groups(_WITH_YEAR_RE)
    plain = body.str.extract_groups(_PLAIN_RE)
    frame = where(frame, body.str.contains(r"^\d{2}[A-Z]"),
                  *[with_year.struct.field(str(i + 1)).alias(n) for i, n in enumerate(("year", "prefix", "number", "tail"))])
    frame = where(frame, pl.col("number").is_null() & body.is_not_null(),
                  *[plain.struct.field(str(i + 1)).alias(n) for i, n in enumerate(("prefix", "number", "tail"))])
    frame = frame.with_columns(pl.col("prefix").replace("", None), pl.col("tail").replace("", None))
    tail = pl.col("tail")
    return frame.select(
        "_raw",
        pl.when(suffix.is_null()).then(body).otherwise(pl.concat_str([body, suffix], separator="-")).alias("normalized"),
        pl.when(tail.is_null()).then(body).otherwise(body.str.slice(0, body.str.len_chars() - tail.str.len_chars()))
        .alias("base"),
        "year", "prefix", "number", "tail",
        pl.coalesce(suffix, tail).alias("defendant_suffix"),
    )


KEYS = ("normalized", "base", "defendant_suffix")


def case_number_keys(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with ``normalized``, ``base`` and ``defendant_suffix`` of ``column`` added.

    Values already in normalized form without a tail letter (upper-case letters and digits,
    ending in a digit: the vast majority) are taken as they are; only the others are parsed.
    """
    raw = pl.col(column).cast(pl.String)
    plain = frame.select(
        (raw.str.contains(r"^[A-Z0-9]*[0-9]$") & ~raw.str.contains(r"^0+$")).fill_null(False)
    ).to_series()
    if int(plain.sum()) == frame.height:
        return frame.with_columns(raw.alias("normalized"), raw.alias("base"),
                                  pl.lit(None, dtype=pl.String).alias("defendant_suffix"))
    # Only the other rows are looked up, and their keys are put back in place.
    values = frame.select(raw.alias("_raw")).to_series()
    other = (~plain).arg_true()
    rest = values.gather(other).to_frame()
    parts = _parts_of_distinct(rest.unique()).select("_raw", *KEYS)
    mapped = rest.join(parts, on="_raw", how="left", nulls_equal=True, maintain_order="left")
    keys = pl.DataFrame([
        values.clone().scatter(other, mapped["normalized"]).alias("normalized"),
        values.clone().scatter(other, mapped["base"]).alias("base"),
        pl.repeat(None, frame.height, dtype=pl.String, eager=True).scatter(other, mapped["defendant_suffix"])
        .alias("defendant_suffix"),
    ])
    return pl.concat([frame.drop([k for k in KEYS if k in frame.columns]), keys], how="horizontal")


def case_number_frame(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with the PARTS columns of ``column`` added, in the same row order."""
    distinct = frame.select(pl.col(column).cast(pl.String).alias("_raw")).unique()
    parts = _parts_of_distinct(distinct)
    mapped = frame.select(pl.col(column).cast(pl.String).alias("_raw")).join(
        parts, on="_raw", how="left", nulls_equal=True, maintain_order="left"
    )
    return pl.concat([frame.drop([p for p in PARTS if p in frame.columns]), mapped.select(PARTS).rechunk()],
                     how="horizontal")


def case_number_parts(raw: pl.Expr) -> pl.Expr:
    """A struct: normalized, base, year, prefix, number, tail, defendant_suffix."""

    def run(series: pl.Series) -> pl.Series:
        frame = case_number_frame(pl.DataFrame({"_in": series.cast(pl.String)}), "_in")
        return frame.select(pl.struct(*PARTS).alias(series.name)).to_series()

    return raw.map_batches(run, return_dtype=PARTS_STRUCT, is_elementwise=True)


def normalize_case_number(raw: pl.Expr) -> pl.Expr:
    """The normalized case number (see the module docstring); null when blank or a placeholder."""
    return case_number_parts(raw).struct.field("normalized")


def case_key(county: pl.Expr | str, normalized: pl.Expr) -> pl.Expr:
    """``<COUNTY>:<normalized number>``: case numbers are only unique within a county."""
    county_expr = pl.lit(county) if isinstance(county, str) else county
    return pl.concat_str([county_expr, normalized], separator=":")


def matches_pattern(normalized: pl.Expr, pattern: str | None) -> pl.Expr:
    """True where a normalized number fits a county's ``case_number_pattern`` (true when none is set)."""
    if not pattern:
        return pl.lit(True)
    return normalized.str.contains(pattern)
