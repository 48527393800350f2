"""CII, SSN, driver's licence, FBI number, gender."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize.ids import dl_parts, normalize_cii, normalize_fbi, normalize_gender, normalize_ssn


def one(expr, value):
    return pl.DataFrame({"x": [value]}, schema={"x": pl.String}).select(expr(pl.col("x"))).item()


@pytest.mark.parametrize(
    ("raw", "cii"),
    [("A12345678", "012345678"), ("12345678", "012345678"), ("a-123-456-78", "012345678"),
     ("A123456780", "123456780"), ("1008675309", "1008675309"), ("x", None), ("AB1234567", None),
     ("000000000", None), ("12345", None), (None, None)],
)
def test_cii(raw, cii) -> None:
    assert one(normalize_cii, raw) == cii


@pytest.mark.parametrize(
    ("raw", "ssn"),
    [("765-89-4322", "765894322"), ("765 89 4322", "765894322"), ("000123456", None), ("666123456", None),
     ("912345678", None), ("123006789", None), ("123450000", None), ("123456789", None), ("111111111", None),
     ("76589432", None), (None, None)],
)
def test_ssn(raw, ssn) -> None:
    assert one(normalize_ssn, raw) == ssn


@pytest.mark.parametrize(
    ("raw", "number", "state"),
    [("F1234567 CA", "F1234567", "CA"), ("D7654321 KY", "D7654321", "KY"), ("n1234567", "N1234567", None),
     ("x       ", None, None), ("CA", None, None), (None, None, None)],
)
def test_driver_licence(raw, number, state) -> None:
    assert one(dl_parts, raw) == {"dl_number": number, "dl_state": state}


def test_fbi_and_gender() -> None:
    assert one(normalize_fbi, "123 456 ab7") == "123456AB7"
    assert one(normalize_fbi, "x") is None
    assert [one(normalize_gender, g) for g in ("m", "FEMALE", "X", "U", None)] == ["M", "F", "X", None, None]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=999_999_999), st.sampled_from(["", "A", "a"]),
       st.sampled_from(["", "-", " "]))
def test_property_cii_variants_normalize_to_the_same_digits(n: int, letter: str, sep: str) -> None:
    digits = f"{n:09d}"
    written = letter + sep.join([digits[:3], digits[3:6], digits[6:]])
    assert one(normalize_cii, written) == one(normalize_cii, digits) == digits
