"""Dates: every format, the century rules, missing vs invalid; property: format then parse = same date."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize.dates import (
    DATE_FORMATS,
    TWO_DIGIT_YEAR_FORMATS,
    dob_pivot,
    is_invalid,
    is_missing,
    parse_date,
    parse_four_digit_year,
)


def parse(values: list[str | None], fmt: str, pivot: int = 2024, latest: int | None = None) -> list[date | None]:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return frame.select(parse_date(pl.col("raw"), fmt, pivot_year=pivot, latest_year=latest)).to_series().to_list()


@pytest.mark.parametrize(
    ("fmt", "raw", "expected"),
    [
        ("YYYYMMDD", "19990420", date(1999, 4, 20)),
        ("YYYY-MM-DD", "1999-04-20", date(1999, 4, 20)),
        ("YYYY-MM-DD", "1999-4-2", date(1999, 4, 2)),
        ("YYYY-MM-DD", "1999-04-20 00:00:00", date(1999, 4, 20)),  # Excel / SQL datetimes
        ("YYYY-MM-DD", "1999-04-20T10:30", date(1999, 4, 20)),
        ("MM/DD/YYYY", "04/20/1999", date(1999, 4, 20)),
        ("MM/DD/YYYY", "4/2/1999", date(1999, 4, 2)),
        ("MM/DD/YYYY", "04-20-1999", date(1999, 4, 20)),
        ("MMDDYYYY", "04201999", date(1999, 4, 20)),
        ("MMDDYY", "042099", date(1999, 4, 20)),
        ("MMDDYY", " 042099 ", date(1999, 4, 20)),
        ("MM/DD/YY", "4/20/99", date(1999, 4, 20)),
    ],
)
def test_formats(fmt: str, raw: str, expected: date) -> None:
    assert parse([raw], fmt) == [expected]


def test_century_rule_for_events_folds_after_the_pivot_year() -> None:
    # Pivot 2024: 24 is 2024 (not in the future), 25 is 1925.
    assert parse(["022924", "010125", "123100"], "MMDDYY", pivot=2024) == [
        date(2024, 2, 29), date(1925, 1, 1), date(2000, 12, 31)]
    # The same text with an older compute-at year reads differently: the rule is relative.
    assert parse(["010110"], "MMDDYY", pivot=2009) == [date(1910, 1, 1)]
    assert parse(["010110"], "MMDDYY", pivot=2010) == [date(2010, 1, 1)]


def test_dob_century_uses_the_row_event_minus_minimum_age() -> None:
    frame = pl.DataFrame({
        "dob": ["061505", "061505", "061505"],
        "event": [date(1985, 1, 1), date(2021, 1, 1), None],
    })
    out = frame.select(
        parse_date(pl.col("dob"), "MMDDYY", pivot_year=dob_pivot(pl.col("event"), 2024), latest_year=2024)
    ).to_series().to_list()
    # A 1985 case cannot have a defendant born in 2005; in 2021 a 2005 birth is 16 years before.
    assert out == [date(1905, 6, 15), date(2005, 6, 15), date(2005, 6, 15)]


def test_leap_day_depends_on_the_century() -> None:
    assert parse(["022900"], "MMDDYY", pivot=2024) == [date(2000, 2, 29)]
    assert parse(["022900"], "MMDDYY", pivot=1999) == [None]  # 1900 was not a leap year


def test_missing_and_invalid_are_different() -> None:
    raw = ["", "  ", None, "00000000", "00/00/0000", "99999999", "20190230", "2019", "abcdefgh", "18991231", "20300101"]
    frame = pl.DataFrame({"raw": raw}, schema={"raw": pl.String})
    parsed = parse_date(pl.col("raw"), "YYYYMMDD", pivot_year=2024)
    out = frame.select(is_missing(pl.col("raw")).alias("missing"), is_invalid(pl.col("raw"), parsed).alias("invalid"))
    assert out["missing"].to_list() == [True] * 6 + [False] * 5
    assert out["invalid"].to_list() == [False] * 6 + [True] * 5


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown date format"):
        parse_date(pl.col("x"), "DD.MM.YYYY", pivot_year=2024)


_STRF = {"YYYYMMDD": "%Y%m%d", "YYYY-MM-DD": "%Y-%m-%d", "MM/DD/YYYY": "%m/%d/%Y", "MMDDYYYY": "%m%d%Y",
         "MMDDYY": "%m%d%y", "MM/DD/YY": "%m/%d/%y"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(min_value=date(1925, 1, 1), max_value=date(2024, 12, 31)), min_size=1, max_size=40),
       st.sampled_from(DATE_FORMATS))
def test_property_every_written_form_parses_back(days: list[date], fmt: str) -> None:
    """Any date in the century window, written in any format, parses back to itself."""
    assert set(_STRF) == set(DATE_FORMATS)
    written = [d.strftime(_STRF[fmt]) for d in days]
    assert parse(written, fmt, pivot=2024) == days


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31)).map(str),
                          st.text(alphabet="0123456789-/ T:", max_size=19)), min_size=1, max_size=30),
       st.sampled_from([f for f in DATE_FORMATS if f not in TWO_DIGIT_YEAR_FORMATS]))
def test_property_fast_path_agrees_with_parse_date(values: list[str], fmt: str) -> None:
    """The per-row fast path for four-digit years gives exactly what parse_date gives."""
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    out = frame.select(
        parse_date(pl.col("raw"), fmt, pivot_year=2024).alias("slow"),
        parse_four_digit_year(pl.col("raw"), fmt, latest_year=2025).alias("fast"),
    )
    assert out["slow"].to_list() == out["fast"].to_list()
