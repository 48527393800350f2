"""Demographic groups for reports: race, gender and age band, as Polars expressions.

Sources write race differently (DOJ: a code and a description such as ``HISPANIC`` or ``OTHER
ASIAN``; court extracts: often the one-letter DOJ code), so both are folded into the few groups
reports use (DOMAIN.md section 1 reports Los Angeles as Latino, Black, white, other or unknown).
"""

from __future__ import annotations

import polars as pl

RACE_GROUPS = ("Latino", "Black", "White", "Asian or Pacific Islander", "Native American", "Other or unknown")
GENDER_GROUPS = ("Male", "Female", "Other or unknown")
AGE_BANDS = ("Under 21", "21-29", "30-39", "40-49", "50-59", "60 and over", "Unknown")

# DOJ race codes and descriptions (and the spellings court extracts use) -> group.
_RACE: dict[str, str] = {
    "H": "Latino", "HISPANIC": "Latino", "LATINO": "Latino", "MEXICAN": "Latino",
    "B": "Black", "BLACK": "Black", "AFRICAN AMERICAN": "Black",
    "W": "White", "WHITE": "White", "CAUCASIAN": "White",
    "A": "Asian or Pacific Islander", "OTHER ASIAN": "Asian or Pacific Islander", "ASIAN": "Asian or Pacific Islander",
    "C": "Asian or Pacific Islander", "CHINESE": "Asian or Pacific Islander",
    "F": "Asian or Pacific Islander", "FILIPINO": "Asian or Pacific Islander",
    "J": "Asian or Pacific Islander", "JAPANESE": "Asian or Pacific Islander",
    "K": "Asian or Pacific Islander", "KOREAN": "Asian or Pacific Islander",
    "V": "Asian or Pacific Islander", "VIETNAMESE": "Asian or Pacific Islander",
    "D": "Asian or Pacific Islander", "CAMBODIAN": "Asian or Pacific Islander",
    "L": "Asian or Pacific Islander", "LAOTIAN": "Asian or Pacific Islander",
    "Z": "Asian or Pacific Islander", "ASIAN INDIAN": "Asian or Pacific Islander",
    "P": "Asian or Pacific Islander", "PACIFIC ISLANDER": "Asian or Pacific Islander",
    "G": "Asian or Pacific Islander", "GUAMANIAN": "Asian or Pacific Islander",
    "S": "Asian or Pacific Islander", "SAMOAN": "Asian or Pacific Islander",
    "U": "Asian or Pacific Islander", "HAWAIIAN": "Asian or Pacific Islander",
    "I": "Native American", "AMERICAN INDIAN": "Native American", "NATIVE AMERICAN": "Native American",
}
_GENDER = {"M": "Male", "MALE": "Male", "F": "Female", "FEMALE": "Female"}


def race_group(race: pl.Expr) -> pl.Expr:
    """The report group of a race code or description (unknown spellings: "Other or unknown")."""
    key = race.cast(pl.String).str.strip_chars().str.to_uppercase()
    return key.replace_strict(_RACE, default="Other or unknown", return_dtype=pl.String)


def gender_group(gender: pl.Expr) -> pl.Expr:
    key = gender.cast(pl.String).str.strip_chars().str.to_uppercase()
    return key.replace_strict(_GENDER, default="Other or unknown", return_dtype=pl.String)


def age_band(age_years: pl.Expr) -> pl.Expr:
    """Age band of an age in (fractional) years; null -> "Unknown"."""
    return (
        pl.when(age_years.is_null()).then(pl.lit("Unknown"))
        .when(age_years < 21).then(pl.lit("Under 21"))
        .when(age_years < 30).then(pl.lit("21-29"))
        .when(age_years < 40).then(pl.lit("30-39"))
        .when(age_years < 50).then(pl.lit("40-49"))
        .when(age_years < 60).then(pl.lit("50-59"))
        .otherwise(pl.lit("60 and over"))
    )
