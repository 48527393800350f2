"""Court case numbers: normalized form and parts; property: every written variant normalizes back."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize.case_numbers import (
    case_key,
    case_number_frame,
    case_number_keys,
    case_number_parts,
    matches_pattern,
    normalize_case_number,
)


def norm(values: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return frame.select(normalize_case_number(pl.col("raw"))).to_series().to_list()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("BA336486", "BA336486"), ("GA039399-01", "GA039399-01"), (" ga 039399 - 1 ", "GA039399-01"),
     ("GA-039399-01", "GA039399-01"), ("KA057009", "KA057009"), ("13F07014", "13F07014"), ("93WF1745", "93WF1745"),
     ("CC633787", "CC633787"), ("SS102036B", "SS102036B"), ("ss 102036 b", "SS102036B"), ("305563", "305563"),
     ("13F07014/2", "13F07014-02"), ("2019-123", "2019123"), ("NULL  ", None), ("", None), ("0000", None),
     (None, None)],
)
def test_examples(raw, expected) -> None:
    assert norm([raw]) == [expected]


def test_parts() -> None:
    frame = pl.DataFrame({"raw": ["GA039399-01", "13F07014", "SS102036B", "305563"]})
    out = frame.select(case_number_parts(pl.col("raw")).alias("p")).unnest("p")
    assert out.rows(named=True)[0] == {"normalized": "GA039399-01", "base": "GA039399", "year": None, "prefix": "GA",
                                       "number": "039399", "tail": None, "defendant_suffix": "01"}
    assert out.row(1, named=True)["year"] == "13" and out.row(1, named=True)["prefix"] == "F"
    assert out.row(2, named=True)["base"] == "SS102036" and out.row(2, named=True)["defendant_suffix"] == "B"
    assert out.row(3, named=True)["prefix"] is None and out.row(3, named=True)["number"] == "305563"
    # The frame helpers agree with the expressions.
    full = case_number_frame(frame, "raw")
    keys = case_number_keys(frame, "raw")
    assert full["normalized"].to_list() == keys["normalized"].to_list() == out["normalized"].to_list()
    assert full["base"].to_list() == keys["base"].to_list()
    assert full["defendant_suffix"].to_list() == keys["defendant_suffix"].to_list()


def test_case_key_and_pattern() -> None:
    frame = pl.DataFrame({"n": ["BA336486", "X1"]})
    out = frame.select(case_key("LOS ANGELES", pl.col("n")).alias("k"),
                       matches_pattern(pl.col("n"), r"^[A-Z]{2}\d{6}$").alias("ok"))
    assert out.rows() == [("LOS ANGELES:BA336486", True), ("LOS ANGELES:X1", False)]


@st.composite
def written_case_numbers(draw):
    year = draw(st.one_of(st.none(), st.integers(0, 99).map(lambda y: f"{y:02d}")))
    prefix = draw(st.text(alphabet="ABCDEFGHKMSWXZ", min_size=1 if year else 0, max_size=3))
    suffix = draw(st.one_of(st.none(), st.integers(1, 99)))
    digits = draw(st.text(alphabet="0123456789", min_size=5 if suffix is not None else 4, max_size=7)
                  .filter(lambda d: d.strip("0") != ""))
    tail = draw(st.one_of(st.none(), st.sampled_from("ABC"))) if suffix is None else None
    original = f"{year or ''}{prefix}{digits}{tail or ''}" + (f"-{suffix:02d}" if suffix is not None else "")
    # A written variant of it.
    sep = draw(st.sampled_from(["", " ", "-"]))
    text = f"{year or ''}{prefix}{sep if prefix else ''}{digits}{(' ' if draw(st.booleans()) else '') + tail if tail else ''}"
    if suffix is not None:
        written_suffix = draw(st.sampled_from([f"{suffix:02d}", str(suffix), f"{suffix:03d}"]))
        text += draw(st.sampled_from(["-", " - ", "/", "- "])) + written_suffix
    text = text.lower() if draw(st.booleans()) else text
    text = draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", "  "]))
    return text, original


@settings(max_examples=200, deadline=None)
@given(st.lists(written_case_numbers(), min_size=1, max_size=30))
def test_property_every_variant_normalizes_to_its_original(cases) -> None:
    assert norm([t for t, _ in cases]) == [o for _, o in cases]
