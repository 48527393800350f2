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
"""

from __future__ import annotations

import polars as pl

PLACEHOLDERS = ("NULL", "NONE", "NA", "N/A", "UNKNOWN", "UNK")

_SUFFIX_RE = r"^(.*?\d.*?\d.*?\d.*?\d.*?\d.*?)\s*[-/]\s*(\d{1,3})$"
_WITH_YEAR_RE = r"^(\d{2})([A-Z]+)(\d+)([A-Z]*)$"
_PLAIN_RE = r"^([A-Z]*)(\d+)([A-Z]*)$"


def _clean(raw: pl.Expr) -> pl.Expr:
    return raw.cast(pl.String).str.to_uppercase().str.strip_chars()


def _body_and_suffix(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    s = _clean(raw)
    groups = s.str.extract_groups(_SUFFIX_RE)
    has_suffix = groups.struct.field("1").is_not_null()
    body_raw = pl.when(has_suffix).then(groups.struct.field("1")).otherwise(s)
    body = body_raw.str.replace_all(r"[^A-Z0-9]", "")
    body = pl.when((body == "") | body.is_in(list(PLACEHOLDERS)) | body.str.contains(r"^0+$")).then(None).otherwise(body)
    suffix_digits = groups.struct.field("2").cast(pl.Int32, strict=False)
    suffix = pl.when(has_suffix).then(suffix_digits.cast(pl.String).str.zfill(2))
    return body, suffix


def normalize_case_number(raw: pl.Expr) -> pl.Expr:
    """The normalized case number (see the module docstring); null when blank or a placeholder."""
    body, suffix = _body_and_suffix(raw)
    return pl.when(body.is_null()).then(None).otherwise(
        pl.when(suffix.is_null()).then(body).otherwise(pl.concat_str([body, suffix], separator="-"))
    )


def case_number_parts(raw: pl.Expr) -> pl.Expr:
    """A struct: normalized, base, year, prefix, number, tail, defendant_suffix."""
    body, suffix = _body_and_suffix(raw)
    with_year = body.str.extract_groups(_WITH_YEAR_RE)
    plain = body.str.extract_groups(_PLAIN_RE)
    year = with_year.struct.field("1")
    prefix = pl.coalesce(with_year.struct.field("2"), plain.struct.field("1"))
    number = pl.coalesce(with_year.struct.field("3"), plain.struct.field("2"))
    tail = pl.coalesce(with_year.struct.field("4"), plain.struct.field("3"))
    tail = pl.when(tail == "").then(None).otherwise(tail)
    normalized = pl.when(body.is_null()).then(None).otherwise(
        pl.when(suffix.is_null()).then(body).otherwise(pl.concat_str([body, suffix], separator="-"))
    )
    base = pl.when(tail.is_null()).then(body).otherwise(body.str.slice(0, body.str.len_chars() - tail.str.len_chars()))
    return pl.struct(
        normalized.alias("normalized"),
        base.alias("base"),
        year.alias("year"),
        pl.when(prefix == "").then(None).otherwise(prefix).alias("prefix"),
        number.alias("number"),
        tail.alias("tail"),
        pl.coalesce(suffix, tail).alias("defendant_suffix"),
    )


def case_key(county: pl.Expr | str, normalized: pl.Expr) -> pl.Expr:
    """``<COUNTY>:<normalized number>``: case numbers are only unique within a county."""
    county_expr = pl.lit(county) if isinstance(county, str) else county
    return pl.concat_str([county_expr, normalized], separator=":")


def matches_pattern(normalized: pl.Expr, pattern: str | None) -> pl.Expr:
    """True where a normalized number fits a county's ``case_number_pattern`` (true when none is set)."""
    if not pattern:
        return pl.lit(True)
    return normalized.str.contains(pattern)
