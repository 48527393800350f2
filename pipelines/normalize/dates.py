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

# format -> (shape regex, separator or None, order of the parts). The shape check is a plain
# regex match (no captures); the parts are then cut with slices or a split, which is far
# cheaper than capture groups on millions of values.
_SHAPES: dict[str, tuple[str, str | None, tuple[str, str, str]]] = {
    "YYYYMMDD": (r"^\d{8}$", None, ("y", "m", "d")),
    "YYYY-MM-DD": (r"^\d{4}-\d{1,2}-\d{1,2}$", "-", ("y", "m", "d")),
    "MM/DD/YYYY": (r"^\d{1,2}/\d{1,2}/\d{4}$", "/", ("m", "d", "y")),
    "MMDDYYYY": (r"^\d{8}$", None, ("m", "d", "y")),
    "MMDDYY": (r"^\d{6}$", None, ("m", "d", "y")),
    "MM/DD/YY": (r"^\d{1,2}/\d{1,2}/\d{2}$", "/", ("m", "d", "y")),
}
_WIDTHS = {"y": 4, "m": 2, "d": 2}

# Placeholders for "unknown": only zeros / nines and separators.
_PLACEHOLDER = r"^(?:[0/\-. ]*|[9/\-. ]*)$"

CANDIDATES = pl.Struct({"as_1900": pl.Date, "as_2000": pl.Date, "year": pl.Int32, "two_digit": pl.Boolean})


def is_missing(raw: pl.Expr) -> pl.Expr:
    """True where a raw date value is blank or a placeholder for unknown (null stays null-safe)."""
    s = raw.str.strip_chars()
    return s.is_null() | (s == "") | s.str.contains(_PLACEHOLDER)


def _parts(s: pl.Expr, fmt: str) -> dict[str, pl.Expr]:
    shape, sep, order = _SHAPES[fmt]
    if sep is None:
        widths = [(_WIDTHS[p] if not (p == "y" and fmt == "MMDDYY") else 2) for p in order]
        out, at = {}, 0
        for part, width in zip(order, widths, strict=True):
            out[part] = s.str.slice(at, width)
            at += width
        return out
    split = s.str.split_exact(sep, 2)
    return {part: split.struct.field(f"field_{i}") for i, part in enumerate(order)}


def date_candidates(raw: pl.Expr, fmt: str) -> pl.Expr:
    """A struct ``{as_1900, as_2000, year, two_digit}`` for raw date text in ``fmt``.

    For four-digit years both dates are the same. For two-digit years they are the 19YY and
    20YY readings; ``choose_century`` picks one per row. Missing or malformed values give nulls.
    Depends only on the raw text, so it can be computed once per distinct value.
    """
    if fmt not in _SHAPES:
        raise ValueError(f"unknown date format {fmt!r}; known: {', '.join(DATE_FORMATS)}")
    shape = _SHAPES[fmt][0]
    s = raw.cast(pl.String).str.strip_chars()
    if fmt == "YYYY-MM-DD":
        # A time part (SQL, Excel: "1999-04-20 00:00:00", "1999-04-20T00:00") is ignored.
        s = s.str.replace("T", " ", literal=True).str.split_exact(" ", 1).struct.field("field_0").str.replace_all("/", "-", literal=True)
    elif "/" in fmt:
        s = s.str.replace_all("-", "/", literal=True)
    ok = s.str.contains(shape) & ~is_missing(raw)
    parts = _parts(s, fmt)
    y = parts["y"].cast(pl.Int32, strict=False)
    two = fmt in TWO_DIGIT_YEAR_FORMATS
    mm = parts["m"].str.zfill(2)
    dd = parts["d"].str.zfill(2)

    def on(year: pl.Expr) -> pl.Expr:
        iso = pl.concat_str([year.cast(pl.String).str.zfill(4), mm, dd], separator="-")
        return pl.when(ok).then(iso.str.to_date("%Y-%m-%d", strict=False))

    return pl.struct(
        on(y + 1900 if two else y).alias("as_1900"),
        on(y + 2000 if two else y).alias("as_2000"),
        pl.when(ok).then(y).alias("year"),
        pl.lit(two).alias("two_digit"),
    )


def choose_century(candidates: pl.Expr, *, pivot_year: int | pl.Expr, latest_year: int | pl.Expr | None = None) -> pl.Expr:
    """Apply the century rule and the plausibility bounds to ``date_candidates`` (see the module
    docstring): 20YY when that year is not after ``pivot_year``, else 19YY; years before 1900 or
    after ``latest_year`` (default ``pivot_year + 1``) are invalid (null)."""
    pivot = pivot_year if isinstance(pivot_year, pl.Expr) else pl.lit(pivot_year, dtype=pl.Int32)
    latest = pivot + 1 if latest_year is None else (
        latest_year if isinstance(latest_year, pl.Expr) else pl.lit(latest_year, dtype=pl.Int32))
    late = candidates.struct.field("as_2000")
    early = candidates.struct.field("as_1900")
    two = candidates.struct.field("two_digit")
    chosen = pl.when(two & (candidates.struct.field("year") + 2000 <= pivot)).then(late).otherwise(early)
    year = chosen.dt.year()
    return pl.when((year >= EARLIEST_YEAR) & (year <= latest)).then(chosen)


def parse_date(
    raw: pl.Expr, fmt: str, *, pivot_year: int | pl.Expr, latest_year: int | pl.Expr | None = None
) -> pl.Expr:
    """Parse raw date text in ``fmt`` into ``pl.Date``; missing and invalid values become null.

    ``pivot_year`` decides the century of two-digit years (``20YY`` up to it, else ``19YY``);
    years after ``latest_year`` (default ``pivot_year + 1``) or before 1900 are invalid (see the
    module docstring). For dates of birth pass ``pivot_year=dob_pivot(...)`` and
    ``latest_year=<compute-at year>``.
    """
    return choose_century(date_candidates(raw, fmt), pivot_year=pivot_year, latest_year=latest_year)


_STRPTIME = {"YYYYMMDD": "%Y%m%d", "YYYY-MM-DD": "%Y-%m-%d", "MM/DD/YYYY": "%m/%d/%Y", "MMDDYYYY": "%m%d%Y"}


def _four_digit_series(values: pl.Series, fmt: str, latest_year: int) -> pl.Series:
    frame = pl.DataFrame({"s": values.cast(pl.String).str.strip_chars()})
    s, d = pl.col("s"), pl.col("d")
    frame = frame.with_columns(s.str.contains(_SHAPES[fmt][0]).alias("ok"))
    frame = frame.with_columns(pl.when(pl.col("ok")).then(s.str.to_date(_STRPTIME[fmt], strict=False)).alias("d"))
    # Values that did not parse as written: other separators, a time part. Only those rows retry.
    retry = frame.select((d.is_null() & s.is_not_null() & (s != "")).alias("r")).to_series()
    if fmt in ("YYYY-MM-DD", "MM/DD/YYYY") and retry.any():
        t = s
        if fmt == "YYYY-MM-DD":
            t = t.str.replace("T", " ", literal=True).str.replace_all("/", "-", literal=True)
            t = t.str.split_exact(" ", 1).struct.field("field_0")
        else:
            t = t.str.replace_all("-", "/", literal=True)
        fixed = frame.filter(retry).select(t.alias("t")).with_columns(
            pl.when(pl.col("t").str.contains(_SHAPES[fmt][0])).then(pl.col("t").str.to_date(_STRPTIME[fmt], strict=False))
            .alias("d")
        )["d"]
        frame = frame.with_columns(pl.Series("d", frame["d"].scatter(retry.arg_true(), fixed)))
    year = d.dt.year()
    return frame.select(pl.when((year >= EARLIEST_YEAR) & (year <= latest_year)).then(d).alias(values.name)).to_series()


def parse_four_digit_year(raw: pl.Expr, fmt: str, *, latest_year: int) -> pl.Expr:
    """``parse_date`` for the formats with four-digit years (no century rule needed), as one
    strptime per row with a retry for the few unusual values: the fast path for large extracts.
    Same results as ``parse_date``."""
    if fmt not in _STRPTIME:
        raise ValueError(f"{fmt!r} has no four-digit year; use parse_date")
    return raw.map_batches(lambda s: _four_digit_series(s, fmt, latest_year), return_dtype=pl.Date,
                           is_elementwise=True)


def dob_pivot(event_date: pl.Expr, as_of_year: int) -> pl.Expr:
    """The pivot year for a date of birth: the event's year (or ``as_of_year``) minus DOB_MIN_AGE."""
    return (event_date.dt.year().cast(pl.Int32).fill_null(as_of_year) - DOB_MIN_AGE).cast(pl.Int32)


def is_invalid(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """True where a value was present (not missing) but did not parse."""
    return ~is_missing(raw) & parsed.is_null()


def to_iso(date: pl.Expr) -> pl.Expr:
    """A ``pl.Date`` as ``YYYY-MM-DD`` text (null stays null)."""
    return date.dt.strftime("%Y-%m-%d")
