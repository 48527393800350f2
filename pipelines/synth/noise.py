"""Noise as people type it, as vectorized Polars expressions over whole columns.

Each function takes the column to disturb, a boolean mask of the rows to disturb, and uniform
random numbers drawn by the caller (numpy, from the run's seeded generator), so results are
deterministic by seed and nothing loops over rows.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.synth.population import NO_DAY
from pipelines.synth.tables import ACCENTED


@dataclass(frozen=True)
class CourtNoise:
    """Rates of the noise in a court extract (per case unless noted). The defaults are the
    "default noise" the linkage targets are measured against (docs/synth.md)."""

    name_typo: float = 0.04  # one edit (drop, substitute, swap or double a letter) in the surname or first name
    nickname: float = 0.05  # first name written as a nickname (of those who have one)
    swapped_names: float = 0.02  # first and last name in each other's place
    accent: float = 0.3  # Spanish names written with their accent (PEÑA), of those that have one
    middle_full: float = 0.5  # of people with a middle name: written in full / as an initial / left out
    middle_initial: float = 0.3
    compound_full: float = 0.4  # compound surnames: "GARCIA LOPEZ"; the rest split evenly over
    #                             "GARCIA-LOPEZ", "GARCIA", "LOPEZ"
    dob_missing: float = 0.04
    dob_transposed: float = 0.015  # day and month swapped (where that is a valid date)
    dob_typo: float = 0.01  # year or day off by a digit
    cii_missing: float = 0.45  # per row: CII on only some rows
    cii_letter_dropped: float = 0.5  # of CIIs that have a leading letter, written without it
    ssn_present: float = 0.3
    dl_present: float = 0.4
    case_number_variant: float = 0.03  # per row: the case number in another surface form
    charge_in_comment: float = 0.03  # per row: charge field blank or "SEE COMMENT", the statute in the comment
    miskeyed_section: float = 0.01  # per row: section typed wrong (11375 for 11357)
    charge_form_other: float = 0.2  # per row: the statute written in another form than the court's usual one
    second_person_key: float = 0.08  # per person: a duplicate person record in the CMS, used on half their cases

    @staticmethod
    def none() -> CourtNoise:
        """No noise at all (for tests that need clean data)."""
        return CourtNoise(
            name_typo=0, nickname=0, swapped_names=0, accent=0, middle_full=1, middle_initial=0, compound_full=1,
            dob_missing=0, dob_transposed=0, dob_typo=0, cii_missing=0, cii_letter_dropped=0, ssn_present=1,
            dl_present=1, case_number_variant=0, charge_in_comment=0, miskeyed_section=0, charge_form_other=0,
            second_person_key=0,
        )


def typo(values: pl.Series, mask: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """`values` with one typing error where `mask` (drop, substitute, transpose or double a
    letter); names shorter than 3 letters are left alone. Only the masked rows are computed."""
    idx = np.flatnonzero(mask)
    n = len(idx)
    sub = pl.DataFrame({
        "v": values.gather(idx), "u_pos": rng.random(n), "u_op": rng.random(n),
        "letter": pl.Series(list(string.ascii_uppercase)).gather(rng.integers(0, 26, n)),
    })
    c = pl.col("v")
    length = c.str.len_chars()
    k = (pl.col("u_pos") * (length - 1).clip(lower_bound=1)).floor().cast(pl.Int64)  # 0 .. len-2
    head = c.str.slice(0, k)
    edited = (
        pl.when(pl.col("u_op") < 0.3).then(pl.concat_str(head, c.str.slice(k + 1)))  # dropped
        .when(pl.col("u_op") < 0.6).then(pl.concat_str(head, pl.col("letter"), c.str.slice(k + 1)))  # substituted
        .when(pl.col("u_op") < 0.85).then(pl.concat_str(head, c.str.slice(k + 1, 1), c.str.slice(k, 1), c.str.slice(k + 2)))
        .otherwise(pl.concat_str(head, c.str.slice(k, 1), c.str.slice(k)))  # doubled
    )
    new = sub.select(pl.when(length >= 3).then(edited).otherwise(c)).to_series()
    return values.clone().scatter(idx, new) if n else values


def accent(values: pl.Series, mask: np.ndarray) -> pl.Series:
    """`values` with Spanish names written with their accents (PEÑA for PENA) where `mask`."""
    idx = np.flatnonzero(mask & values.is_in(list(ACCENTED)).fill_null(False).to_numpy())
    if not len(idx):
        return values
    return values.clone().scatter(idx, values.gather(idx).replace(list(ACCENTED), list(ACCENTED.values())))


def pick_nickname(first_idx: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For first-name indices: (nickname strings or "", applied mask). Only names that have a
    nickname can get one."""
    from pipelines.synth.tables import name_tables

    nt = name_tables()
    count = nt.nick_count[first_idx]
    applied = mask & (count > 0)
    j = nt.nick_start[first_idx] + (rng.random(len(first_idx)) * np.maximum(count, 1)).astype(np.int64)
    nick = np.where(applied, nt.nick_flat[np.where(applied, j, 0)], "")
    return nick.astype(str), applied


def dob_noise(dob: np.ndarray, noise: CourtNoise, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Court DOBs as keyed: (int32 days or NO_DAY when missing, kind code 0 exact / 1 missing /
    2 day-month transposed / 3 typo)."""
    n = len(dob)
    u = rng.random(n)
    d = dob.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    kind = np.select(
        [u < noise.dob_missing, u < noise.dob_missing + noise.dob_transposed,
         u < noise.dob_missing + noise.dob_transposed + noise.dob_typo],
        [1, 2, 3], 0,
    )
    kind = np.where((kind == 2) & ((dd > 12) | (dd == m)), 3, kind)  # not transposable: a typo instead
    out = dob.astype(np.int64).copy()
    t = kind == 2
    out[t] = _days(y[t], dd[t], m[t])
    typo_ = kind == 3
    which = rng.random(n)
    year_typo = typo_ & (which < 0.5)
    out[year_typo] = _days(y[year_typo] + np.where(rng.random(int(year_typo.sum())) < 0.5, 1, 10), m[year_typo],
                           np.minimum(dd[year_typo], 28))
    day_typo = typo_ & ~(which < 0.5)
    out[day_typo] = _days(y[day_typo], m[day_typo], np.where(dd[day_typo] > 1, dd[day_typo] - 1, 2))
    out[kind == 1] = NO_DAY
    return out.astype(np.int32), kind.astype(np.int8)


def _days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    months = (np.asarray(y) - 1970) * 12 + (np.asarray(m) - 1)
    return (months.astype("datetime64[M]").astype("datetime64[D]") + (np.asarray(d) - 1)).astype(np.int64)
