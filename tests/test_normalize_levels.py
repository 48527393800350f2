"""Offense levels and wobblers."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.normalize.levels import is_wobbler, normalize_level


@pytest.mark.parametrize(
    ("raw", "level", "wobbler"),
    [
        ("F", "F", False), ("fel", "F", False), ("FELONY", "F", False), (" Fel. ", "F", False),
        ("M", "M", False), ("MISD", "M", False), ("Misdemeanor", "M", False),
        ("I", "I", False), ("INF", "I", False), ("INFRACTION", "I", False),
        ("WOBBLER", "F", True), ("W", "F", True), ("F/M", "F", True), ("m/f", "F", True),
        ("X", None, False), ("", None, False), (None, None, False),
    ],
)
def test_levels(raw: str | None, level: str | None, wobbler: bool) -> None:
    frame = pl.DataFrame({"raw": [raw]}, schema={"raw": pl.String})
    out = frame.select(normalize_level(pl.col("raw")).alias("level"), is_wobbler(pl.col("raw")).alias("w"))
    assert out.row(0) == (level, wobbler)
