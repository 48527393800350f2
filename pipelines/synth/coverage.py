"""What each source sees of the population: the cases DOJ missed, court records destroyed,
persons DOJ split under two SUBJECT_IDs, and the resulting row counts per person.

DOJ misses a share of the county's court cases (by default like Los Angeles, where local court
records held about 58,000 cannabis cases the DOJ data lacked, next to about 66,000 it had), and
the misses are skewed toward misdemeanors and old cases: each county court case is missed with
probability sigmoid(b + 1.6·misdemeanor + 1.2·before 1980 + 0.7·1980s + 0.3·1990s), with the
intercept b solved so that the share of the county's *cannabis* cases missed equals the
configured rate.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pipelines.synth.population import LEVEL_F, NO_DAY, Population, day
from pipelines.synth.tables import charge_table

# Default: DOJ missed about 58,000 of about 124,000 Los Angeles cannabis cases.
LA_MISS_RATE = 58_000 / 124_000

MISS_SKEW = {"misdemeanor": 1.6, "before_1980": 1.2, "1980s": 0.7, "1990s": 0.3}


@dataclass
class Coverage:
    """Per-cycle and per-person visibility flags (aligned with a Population)."""

    # cycles
    county_case: np.ndarray  # bool: a court case of the target county
    has_cannabis: np.ndarray  # bool: the cycle has a cannabis count
    misdemeanor_case: np.ndarray  # bool: the most serious count is a misdemeanor or infraction
    doj_missed: np.ndarray  # bool: a county court case whose court step never reached DOJ
    purged: np.ndarray  # bool: a county court case whose court record was destroyed
    doj_court: np.ndarray  # bool: DOJ shows the court step
    doj_arrest: np.ndarray  # bool: DOJ shows the arrest step
    # persons
    in_doj: np.ndarray  # bool: the person is in the county's DOJ research file
    split_cycle: np.ndarray  # int32: from this cycle number on, DOJ files the person under a second SUBJECT_ID; -1 never
    doj_rows: np.ndarray  # int64: rows in the DOJ file
    court_rows: np.ndarray  # int64: rows in the court extract (before refresh overlaps)


def _solve_intercept(x: np.ndarray, rate: float) -> float:
    """b such that mean(sigmoid(b + x)) == rate (bisection; deterministic)."""
    if len(x) == 0 or rate <= 0:
        return -np.inf
    if rate >= 1:
        return np.inf
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + x)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def decide(
    pop: Population, target: int, rng: np.random.Generator, *, doj_miss_rate: float, cannabis: bool,
    two_subject_rate: float = 0.02,
) -> Coverage:
    """Decide what DOJ and the court see of `pop` (county index `target`)."""
    ct = charge_table()
    C = len(pop.cyc_person)
    P = pop.n_persons
    county_case = pop.has_court & (pop.cyc_county == target)
    cnt_can = ct.is_cannabis[pop.charge]
    has_cannabis = np.zeros(C, dtype=bool)
    has_cannabis[pop.cnt_cycle[cnt_can]] = True
    most_serious = np.full(C, 9, dtype=np.int8)
    np.minimum.at(most_serious, pop.cnt_cycle, pop.level)
    misd = most_serious > LEVEL_F

    year_day = pop.court_date
    x = (
        MISS_SKEW["misdemeanor"] * misd
        + MISS_SKEW["before_1980"] * (year_day < day(1980))
        + MISS_SKEW["1980s"] * ((year_day >= day(1980)) & (year_day < day(1990)))
        + MISS_SKEW["1990s"] * ((year_day >= day(1990)) & (year_day < day(2000)))
    )
    u = rng.random(C)
    if cannabis and doj_miss_rate <= 0:
        doj_missed = np.zeros(C, dtype=bool)
    elif cannabis:
        b = _solve_intercept(x[county_case & has_cannabis], doj_miss_rate)
        p_miss = 1 / (1 + np.exp(-np.clip(b + x, -500, 500)))
        doj_missed = county_case & (u < p_miss)
    else:
        doj_missed = county_case.copy()  # background people are not in the research file at all

    # Court records of some old cases were destroyed (and HS 11361.5 orders the destruction of
    # old minor-possession records); DOJ still has them unless it missed them too.
    pu = rng.random(C)
    purge_p = np.select([year_day < day(1975), year_day < day(1985)], [0.10, 0.03], 0.005)
    purged = county_case & (pu < purge_p)

    doj_court = pop.has_court & ~doj_missed
    au = rng.random(C)
    # DOJ often has the arrest of a case whose disposition never reached it.
    doj_arrest = pop.has_arrest & np.where(doj_missed, au < 0.55, au < 0.97)
    if not cannabis:
        doj_court[:] = False
        doj_arrest[:] = False

    # The research file holds the people with a cannabis event in the county in DOJ's data.
    cyc_of = pop.cnt_cycle
    seen = cnt_can & (pop.cyc_county[cyc_of] == target) & (doj_court[cyc_of] | doj_arrest[cyc_of])
    in_doj = np.zeros(P, dtype=bool)
    in_doj[pop.cyc_person[cyc_of[seen]]] = True

    # DOJ rows: arrest counts + court counts (one row per sentence part) + registration + death.
    per_count = np.where(doj_arrest[cyc_of], 1, 0) + np.where(doj_court[cyc_of], np.maximum(pop.n_parts, 1), 0)
    doj_rows = np.bincount(pop.cyc_person[cyc_of], weights=per_count, minlength=P).astype(np.int64)
    doj_rows += (pop.registered != NO_DAY).astype(np.int64) + (pop.deceased != NO_DAY).astype(np.int64)
    doj_rows[~in_doj] = 0

    # Some people are under two SUBJECT_IDs: their later cycles went to a second record.
    doj_cycles = np.bincount(pop.cyc_person, weights=doj_court | doj_arrest, minlength=P)
    split = in_doj & (doj_cycles >= 2) & (rng.random(P) < two_subject_rate)
    split_cycle = np.where(split, 1 + (rng.random(P) * np.maximum(pop.n_cycles - 1, 1)).astype(np.int64), -1)
    split_cycle = np.minimum(split_cycle, pop.n_cycles - 1).astype(np.int32)

    court_case_rows = np.where(county_case & ~purged, pop.n_counts, 0)
    court_rows = np.bincount(pop.cyc_person, weights=court_case_rows, minlength=P).astype(np.int64)

    return Coverage(
        county_case=county_case, has_cannabis=has_cannabis, misdemeanor_case=misd, doj_missed=doj_missed,
        purged=purged, doj_court=doj_court, doj_arrest=doj_arrest, in_doj=in_doj, split_cycle=split_cycle,
        doj_rows=doj_rows, court_rows=court_rows,
    )


CYCLE_FIELDS = ("county_case", "has_cannabis", "misdemeanor_case", "doj_missed", "purged", "doj_court", "doj_arrest")


def head(cov: Coverage, pop_head: Population) -> Coverage:
    """The coverage of the first persons (matching Population.head)."""
    P, C = pop_head.n_persons, len(pop_head.cyc_person)
    return Coverage(**{f.name: getattr(cov, f.name)[: C if f.name in CYCLE_FIELDS else P] for f in fields(cov)})


def concat(a: Coverage, b: Coverage) -> Coverage:
    """Coverage of two populations placed one after the other."""
    return Coverage(**{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)})
