"""Personal identifiers (CII, SSN, driver's licence, FBI number) and gender -> one form each.

These are the strongest matching signals, so a placeholder that many people share must never
survive normalization: it would merge strangers. Invalid or placeholder values become null.

- **CII** (California's state identification number): courts write it with or without its
  leading letter (``A12345678``, ``12345678``, ``A-123-456-78``). Normalized: the digits after an
  optional single leading letter, left-padded with zeros to 9 digits (``A12345678`` ->
  ``012345678``); longer values keep all their digits. Null when: no digits, other letters
  inside, fewer than 6 or more than 10 digits, or all zeros.
- **SSN**: 9 digits, punctuation removed (``123-45-6789``). Null when the area is 000, 666 or
  900-999, the group 00 or the serial 0000, when all digits are the same, or for the well-known
  placeholders 123456789 and 987654321.
- **Driver's licence**: upper-case letters and digits; a trailing two-letter state written after
  a blank (``D7654321 KY``) is split off (``dl_state``), the number alone is the licence. Null
  unless it holds at least one digit and 5-20 characters (``x`` placeholders are null).
- **FBI number**: upper-case letters and digits; null without a digit or under 4 characters.
- **Gender**: ``M``/``MALE`` -> ``M``, ``F``/``FEMALE`` -> ``F``, ``X``/``NONBINARY`` ->
  ``X``; else null.
"""

from __future__ import annotations

import polars as pl

SSN_PLACEHOLDERS = ("123456789", "987654321")
GENDERS = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "X": "X", "NONBINARY": "X", "NON-BINARY": "X"}


def _upper_alnum(raw: pl.Expr) -> pl.Expr:
    return raw.cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def normalize_cii(raw: pl.Expr) -> pl.Expr:
    """CII digits without the leading letter, zero-padded to 9; null when implausible."""
    s = _upper_alnum(raw)
    digits = s.str.extract(r"^[A-Z]?(\d{6,10})$", 1)
    return pl.when(digits.str.contains(r"^0+$")).then(None).otherwise(digits.str.zfill(9))


def normalize_ssn(raw: pl.Expr) -> pl.Expr:
    """Nine SSN digits; null for impossible numbers and placeholders."""
    s = raw.cast(pl.String).str.replace_all(r"[\s\-.]", "")
    ok = (
        s.str.contains(r"^\d{9}$")
        & ~s.str.contains(r"^(?:000|666|9\d\d)")
        & (s.str.slice(3, 2) != "00")
        & (s.str.slice(5, 4) != "0000")
        & ~s.str.contains(r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$")
        & ~s.is_in(list(SSN_PLACEHOLDERS))
    )
    return pl.when(ok).then(s)


DL_STRUCT = pl.Struct({"dl_number": pl.String, "dl_state": pl.String})


def _dl_frame(values: pl.Series) -> pl.Series:
    """dl_parts on a Series, step by step (each intermediate computed once)."""
    frame = pl.DataFrame({"s": values.cast(pl.String).str.to_uppercase().str.strip_chars()})
    s = pl.col("s")
    # "D7654321 KY": slices, not a regex with backtracking (millions of rows).
    frame = frame.with_columns(s.str.slice(-2, 2).alias("state"), s.str.head(-3).alias("head"))
    frame = frame.with_columns(
        ((s.str.slice(-3, 1) == " ") & pl.col("state").str.contains(r"^[A-Z]{2}$")
         & pl.col("head").str.contains(r"\d")).fill_null(False).alias("has_state")
    )
    frame = frame.with_columns(
        _upper_alnum(pl.when(pl.col("has_state")).then(pl.col("head")).otherwise(s)).alias("number")
    )
    number = pl.col("number")
    frame = frame.with_columns((number.str.contains(r"\d") & number.str.len_chars().is_between(5, 20)).alias("ok"))
    return frame.select(pl.struct(
        pl.when(pl.col("ok")).then(number).alias("dl_number"),
        pl.when(pl.col("ok") & pl.col("has_state")).then(pl.col("state")).alias("dl_state"),
    ).alias(values.name)).to_series()


def dl_parts(raw: pl.Expr) -> pl.Expr:
    """A struct of ``dl_number`` (letters and digits) and ``dl_state`` (two letters or null)."""
    return raw.map_batches(_dl_frame, return_dtype=DL_STRUCT, is_elementwise=True)


def normalize_dl(raw: pl.Expr) -> pl.Expr:
    """The driver's licence number alone (state split off); null when implausible."""
    return dl_parts(raw).struct.field("dl_number")


def normalize_fbi(raw: pl.Expr) -> pl.Expr:
    """FBI number: upper-case letters and digits; null when implausible."""
    s = _upper_alnum(raw)
    return pl.when(s.str.contains(r"\d") & (s.str.len_chars() >= 4)).then(s)


def normalize_gender(raw: pl.Expr) -> pl.Expr:
    """``M`` / ``F`` / ``X`` or null."""
    s = raw.cast(pl.String).str.to_uppercase().str.strip_chars()
    return s.replace_strict(GENDERS, default=None, return_dtype=pl.String)
