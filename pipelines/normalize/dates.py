"""Dates as courts and DOJ write them, turned into ``pl.Date`` with Polars expressions.

Formats (a layout names one per field; separators ``/`` and ``-`` are interchangeable where a
format has them, and one-digit months and days are accepted):

==============  ================  =============================================
format          example           where it is seen
==============  ================  =============================================
``YYYYMMDD``    ``19990420``      DOJ research file, legacy fixed-width extracts
``YYYY-MM-DD``  ``1999-04-20``    modern extracts, SQL, Excel, Parquet (a time part is ignored)
``MM/DD/YYYY``  ``04/20/1999``    spreadsheets, CMS exports
``MMDDYYYY``    ``04201999``
``MMDDYY``      ``042099``        San Francisco CMS (two-digit year)
``MM/DD/YY``    ``4/20/99``       (two-digit year)
==============  ================  =============================================

**Missing vs invalid.** Blank values and the placeholders courts use for "unknown" (all zeros
such as ``00000000`` or ``00/00/0000``, all nines) are *missing* (null, no complaint). Anything
else that is not a real calendar date in the given format, or whose year is before 1900 or after
the pivot year + 1, is *invalid*: the value becomes null and, where the field is required, the
row goes to quarantine with reason ``bad_date``.

**Century rule for two-digit years.** A two-digit year ``YY`` is read as ``20YY`` when that year
is not after the *pivot year*, else as ``19YY``:

- events (disposition, offense, filing dates): the pivot is the compute-at year (the "as of"
  date of the run; the current year only when none is given). With compute-at 2024, ``24`` is
  2024 and ``25`` is 1925: a court cannot have recorded a future event.
- dates of birth: the pivot is the year of the row's event (disposition, else filing, else
  offense date; the compute-at year when the row has none) minus ``DOB_MIN_AGE`` (10) years,
  because nobody in a criminal court extract was younger than that at the time. A 1985 case with
  DOB ``05`` gives 1905, not a 2005 birth twenty years after the case.
"""

from __future__ import annotations

import polars as pl

DATE_FORMATS = ("YYYYMMDD", "YYYY-MM-DD", "MM/DD/YYYY", "MMDDYYYY", "MMDDYY", "MM/DD/YY")
TWO_DIGIT_YEAR_FORMATS = frozenset({"MMDDYY", "MM/DD/YY"})
DOB_MIN_AGE = 10
EARLIEST_YEAR = 1900

# format -> (regex with groups in the order given by the tuple, group order)
_PATTERNS: dict[str, tuple[str, tuple[str, str, str]]] = {
    "YYYYMMDD": (r"^(\d{4})(\d{2})(\d{2})$", ("y", "m", "d")),
    "YYYY-MM-DD": (r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T].*)?$", ("y", "m", "d")),
    "MM/DD/YYYY": (r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$", ("m", "d", "y")),
    "MMDDYYYY": (r"^(\d{2})(\d{2})(\d{4})$", ("m", "d", "y")),
    "MMDDYY": (r"^(\d{2})(\d{2})(\d{2})$", ("m", "d", "y")),
    "MM/DD/YY": (r"^(\d{1,2})[/-](\d{1,2})[/-](\d{2})$", ("m", "d", "y")),
}

# Placeholders for "unknown": only zeros / nines and separators.
_PLACEHOLDER = r"^(?:[0/\-. ]*|[9/\-. ]*)$"


def is_missing(raw: pl.Expr) -> pl.Expr:
    """True where a raw date value is blank or a placeholder for unknown (null stays null-safe)."""
    s = raw.str.strip_chars()
    return s.is_null() | (s == "") | s.str.contains(_PLACEHOLDER)


def parse_date(
    raw: pl.Expr, fmt: str, *, pivot_year: int | pl.Expr, latest_year: int | pl.Expr | None = None
) -> pl.Expr:
    """Parse raw date text in ``fmt`` into ``pl.Date``; missing and invalid values become null.

    ``pivot_year`` decides the century of two-digit years (``20YY`` up to it, else ``19YY``);
    years after ``latest_year`` (default ``pivot_year + 1``) or before 1900 are invalid (see the
    module docstring). For dates of birth pass ``pivot_year=dob_pivot(...)`` and
    ``latest_year=<compute-at year>``.
    """
    if fmt not in _PATTERNS:
        raise ValueError(f"unknown date format {fmt!r}; known: {', '.join(DATE_FORMATS)}")
    pattern, order = _PATTERNS[fmt]
    pivot = pivot_year if isinstance(pivot_year, pl.Expr) else pl.lit(pivot_year, dtype=pl.Int32)
    latest = pivot + 1 if latest_year is None else latest_year
    groups = raw.str.strip_chars().str.extract_groups(pattern)
    parts = {name: groups.struct.field(str(i + 1)).cast(pl.Int32, strict=False) for i, name in enumerate(order)}
    year = parts["y"]
    if fmt in TWO_DIGIT_YEAR_FORMATS:
        year = pl.when(year + 2000 <= pivot).then(year + 2000).otherwise(year + 1900)
    iso = pl.format(
        "{}-{}-{}",
        year.cast(pl.String).str.zfill(4),
        parts["m"].cast(pl.String).str.zfill(2),
        parts["d"].cast(pl.String).str.zfill(2),
    )
    parsed = iso.str.to_date("%Y-%m-%d", strict=False)
    plausible = (year >= EARLIEST_YEAR) & (year <= latest)
    return pl.when(~is_missing(raw) & plausible).then(parsed).otherwise(None)


def dob_pivot(event_date: pl.Expr, as_of_year: int) -> pl.Expr:
    """The pivot year for a date of birth: the event's year (or ``as_of_year``) minus DOB_MIN_AGE."""
    return (event_date.dt.year().cast(pl.Int32).fill_null(as_of_year) - DOB_MIN_AGE).cast(pl.Int32)


def is_invalid(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """True where a value was present (not missing) but did not parse."""
    return ~is_missing(raw) & parsed.is_null()


def to_iso(date: pl.Expr) -> pl.Expr:
    """A ``pl.Date`` as ``YYYY-MM-DD`` text (null stays null)."""
    return date.dt.strftime("%Y-%m-%d")
