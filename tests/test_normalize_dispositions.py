"""Dispositions: a plea-bargain dismissal is never a conviction."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.model import DISPOSITIONS
from pipelines.normalize.dispositions import classify_disposition, is_conviction


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (None, "CONVICTED-JAIL", "convicted"),  # DOJ
        (None, "CONVICTED-PROBATION", "convicted"),
        (None, "GUILTY PLEA", "convicted"),
        (None, "NOLO CONTENDERE", "convicted"),
        (None, "BAIL FORFEITED", "convicted"),
        (None, "DISMISSED/CHARGE DROPPED", "dismissed"),
        (None, "DISMISSED PER PLEA", "dismissed"),  # plea bargain: not a conviction
        (None, "PLEA BARGAIN - COUNT DISMISSED", "dismissed"),
        (None, "PC 1385 DISM", "dismissed"),
        (None, "NOT GUILTY", "acquitted"),
        (None, "ACQUITTED BY JURY", "acquitted"),
        (None, "BENCH WARRANT ISSUED", "pending"),
        (None, "DIVERSION", "pending"),
        (None, "1203.4 DISMISSAL GRANTED", "convicted"),  # set aside later, still a conviction
        (None, "REL/TOT OTHER JURIS/AUTH", "unknown"),
        (None, None, "unknown"),
        (" 190", None, "convicted"),  # San Francisco's code, with the extract's stray blank
        ("190", "COUNTY JAIL W/ PROBATION CONDITION", "convicted"),
        ("999", None, "unknown"),
    ],
)
def test_shipped_rules(code: str | None, text: str | None, expected: str) -> None:
    frame = pl.DataFrame({"code": [code], "text": [text]}, schema={"code": pl.String, "text": pl.String})
    out = frame.select(classify_disposition(pl.col("code"), pl.col("text")))
    assert out.item() == expected
    assert expected in DISPOSITIONS


def test_layout_code_table_wins_over_description() -> None:
    frame = pl.DataFrame({"code": ["D7", "D7", "C1"], "text": ["JAIL", None, None]})
    out = frame.select(classify_disposition(pl.col("code"), pl.col("text"), codes={"d7": "dismissed", "C1": "convicted"}))
    assert out.to_series().to_list() == ["dismissed", "dismissed", "convicted"]


def test_code_table_values_are_checked() -> None:
    with pytest.raises(ValueError, match="allowed"):
        classify_disposition(pl.col("c"), None, codes={"1": "guilty"})


def test_is_conviction_only_for_convicted() -> None:
    frame = pl.DataFrame({"d": list(DISPOSITIONS) + [None]})
    assert frame.select(is_conviction(pl.col("d"))).to_series().to_list() == [True, False, False, False, False, False]
