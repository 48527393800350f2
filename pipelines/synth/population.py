"""The simulated population: people and their criminal histories, 1961-2019.

Everything here is numpy arrays (no per-person Python loops), laid out as three ragged levels
ordered by their parent: persons -> cycles (arrest incidents, by date) -> counts (charges).
A cycle may have an arrest step, a court step (the court case), or both. The DOJ file and the
court extract are views of this population (see doj_view.py and court_view.py).

Dates are int32 days since 1970-01-01.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from pipelines.synth.tables import CATEGORIES, ERAS, County, charge_table, counties, name_tables

EPOCH = date(1970, 1, 1)


def day(y: int, m: int = 1, d: int = 1) -> int:
    return (date(y, m, d) - EPOCH).days


FIRST_DAY = day(1961)
LAST_DAY = day(2019, 12, 31)
PROP64_DAY = day(2016, 11, 9)
MOSCONE_DAY = day(1976)  # possession of any amount was a felony before 1976
INFRACTION_DAY = day(2011)  # 11357(b) became an infraction on 1/1/2011

# Race as DOJ writes it (code, description) and the LA mix (DOMAIN section 1: 45% Latino,
# 32% Black, 20% white, 3% other or unknown).
RACES = (
    ("H", "HISPANIC", 0.45), ("B", "BLACK", 0.32), ("W", "WHITE", 0.20), ("A", "OTHER ASIAN", 0.011),
    ("F", "FILIPINO", 0.005), ("C", "CHINESE", 0.004), ("I", "AMERICAN INDIAN", 0.004), ("O", "OTHER", 0.006),
)
HISPANIC = 0
SUFFIXES = ("JR", "SR", "II", "III")

# Dispositions of court counts.
CONVICTED, DISMISSED, ACQUITTED, NO_COURT = 0, 1, 2, -1
# "No date": dates before 1970 are negative day numbers, so a sentinel far outside the range.
NO_DAY = np.int32(np.iinfo(np.int32).min)
# Sentence places and time units.
PRISON, JAIL, PROBATION, FINE = 0, 1, 2, 3
DAYS, MONTHS, YEARS = 0, 1, 2
LEVEL_F, LEVEL_M, LEVEL_I = 0, 1, 2


@dataclass
class Population:
    """Persons, cycles and counts of one simulated county (ragged arrays, parent-ordered)."""

    # persons
    person_uid: np.ndarray  # int64: the true person number (unique within a county run)
    cannabis_person: np.ndarray  # bool: has cannabis history (else a court-only background person)
    gender: np.ndarray  # int8: 0 male, 1 female
    race: np.ndarray  # int8: index into RACES
    dob: np.ndarray  # int32 days
    first: np.ndarray  # int32: index into name_tables().first_names
    middle: np.ndarray  # int32, -1 none
    last: np.ndarray  # int32: index into name_tables().surnames
    last2: np.ndarray  # int32, -1 none: second surname of a compound surname
    suffix: np.ndarray  # int8, -1 none: index into SUFFIXES
    cii: np.ndarray  # int64: 8-9 digits
    cii_letter: np.ndarray  # bool: written with a leading letter "A"
    cii2: np.ndarray  # int64: the CII of a second DOJ record, for people DOJ filed twice
    ssn: np.ndarray  # int64, -1 none
    dl: np.ndarray  # int64, -1 none (written "A" + 7 digits... see views)
    fbi: np.ndarray  # int64, -1 none
    deceased: np.ndarray  # int32 day, NO_DAY alive
    registered: np.ndarray  # int32 day of PC 290 registration, NO_DAY none
    superstrike: np.ndarray  # bool
    first_cycle: np.ndarray  # int64: index of the person's first cycle
    n_cycles: np.ndarray  # int64
    # cycles
    cyc_person: np.ndarray  # int64
    cyc_no: np.ndarray  # int32: 0-based order within the person
    arrest_date: np.ndarray  # int32
    court_date: np.ndarray  # int32 (conviction / disposition date), valid where has_court
    cyc_county: np.ndarray  # int16: index into counties()
    has_arrest: np.ndarray  # bool
    has_court: np.ndarray  # bool
    first_count: np.ndarray  # int64
    n_counts: np.ndarray  # int64
    # counts
    cnt_cycle: np.ndarray  # int64
    cnt_no: np.ndarray  # int32: 1-based count number within the case
    charge: np.ndarray  # int32: index into charge_table()
    level: np.ndarray  # int8: 0 F, 1 M, 2 I
    disposition: np.ndarray  # int8: CONVICTED | DISMISSED | ACQUITTED | NO_COURT
    plea_dismissal: np.ndarray  # bool: dismissed as part of a plea bargain
    n_parts: np.ndarray  # int8: sentence parts (0 when not convicted)
    sent_place: np.ndarray  # int8 [K, 2]
    sent_length: np.ndarray  # int16 [K, 2]
    sent_unit: np.ndarray  # int8 [K, 2]

    @property
    def n_persons(self) -> int:
        return len(self.person_uid)

    def head(self, n_persons: int) -> Population:
        """The first `n_persons` persons with their cycles and counts (a prefix of each level)."""
        n_persons = min(n_persons, self.n_persons)
        c = int(self.first_cycle[n_persons]) if n_persons < self.n_persons else len(self.cyc_person)
        k = int(self.first_count[c]) if c < len(self.cyc_person) else len(self.cnt_cycle)
        out = {}
        for f in fields(self):
            end = k if f.name in COUNT_FIELDS else c if f.name in CYCLE_FIELDS else n_persons
            out[f.name] = getattr(self, f.name)[:end]
        return Population(**out)


CYCLE_FIELDS = frozenset({
    "cyc_person", "cyc_no", "arrest_date", "court_date", "cyc_county", "has_arrest", "has_court",
    "first_count", "n_counts",
})
COUNT_FIELDS = frozenset({
    "cnt_cycle", "cnt_no", "charge", "level", "disposition", "plea_dismissal", "n_parts", "sent_place",
    "sent_length", "sent_unit",
})


def ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For per-parent child counts: (parent of each child, index within parent, parent offsets)."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    parent = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    within = np.arange(offsets[-1], dtype=np.int64) - offsets[parent]
    return parent, within, offsets[:-1]


def _year_weights() -> tuple[np.ndarray, np.ndarray]:
    """Relative number of first arrests per year, 1961-2019 (rise in the late 60s, a 2000s peak,
    decline after 11357(b) became an infraction in 2011 and after Prop 64)."""
    years = np.arange(1961, 2020)
    w = np.select(
        [years < 1967, years < 1976, years < 1986, years < 1996, years < 2011, years < 2017],
        [0.3, 1.0, 0.8, 0.9, 1.2, 0.8], 0.35,
    )
    return years, w / w.sum()


def affine_ids(n: int, modulus: int, rng: np.random.Generator, *, start: int = 0) -> np.ndarray:
    """`n` distinct pseudo-random integers in [0, modulus): positions start .. start+n-1 of an
    affine permutation of 0..modulus-1 whose parameters `rng` draws. Two calls with generators in
    the same state and disjoint position ranges give disjoint ids."""
    if start + n > modulus:
        raise ValueError(f"cannot draw {n} distinct ids from position {start} below {modulus}")
    while True:
        a = int(rng.integers(modulus // 3, modulus - 1)) | 1
        if np.gcd(a, modulus) == 1:
            break
    b = int(rng.integers(0, modulus))
    i = np.arange(start, start + n, dtype=np.int64)
    return (i * a + b) % modulus  # a < 2**33 and i < 2**30 keep this inside int64


def simulate(
    rng: np.random.Generator, n_persons: int, county: County, *, cannabis: bool, uid_offset: int = 0,
    out_of_county: float = 0.12, id_seed: int = 0,
) -> Population:
    """Simulate `n_persons` people of `county` and their histories.

    With ``cannabis=True`` every person has at least one cannabis count in a court case of the
    county (the people a DOJ research file is about); otherwise the people are court-only
    background: county residents whose cases never involved cannabis.

    Personal ids (CII, SSN, licence, FBI number) come from permutations fixed by `id_seed`; the
    cannabis people take the first half of each permutation and the background people the second,
    so the two groups of one county never share an id.
    """
    P = int(n_persons)
    nt = name_tables()
    ct = charge_table()
    all_counties = counties()
    target = next(i for i, c in enumerate(all_counties) if c.name == county.name)

    # ---- persons -------------------------------------------------------------------------
    gender = (rng.random(P) < 0.18).astype(np.int8)  # most people arrested are men
    race_p = np.array([r[2] for r in RACES])
    race = rng.choice(len(RACES), size=P, p=race_p / race_p.sum()).astype(np.int8)
    hisp = race == HISPANIC
    male = gender == 0

    first = np.empty(P, dtype=np.int32)
    hisp_first = hisp & (rng.random(P) < 0.75)  # some Latino people have English first names
    for sel, idx, p in (
        (male & hisp_first, nt.hispanic_male_idx, nt.hispanic_male_p),
        (~male & hisp_first, nt.hispanic_female_idx, nt.hispanic_female_p),
        (male & ~hisp_first, nt.male_idx, nt.male_p),
        (~male & ~hisp_first, nt.female_idx, nt.female_p),
    ):
        first[sel] = rng.choice(idx, size=int(sel.sum()), p=p)
    middle = np.full(P, -1, dtype=np.int32)
    has_middle = rng.random(P) < 0.6
    for sel, idx, p in ((male & has_middle, nt.male_idx, nt.male_p), (~male & has_middle, nt.female_idx, nt.female_p)):
        middle[sel] = rng.choice(idx, size=int(sel.sum()), p=p)

    last = np.empty(P, dtype=np.int32)
    last[hisp] = rng.choice(nt.hispanic_surname_idx, size=int(hisp.sum()), p=nt.hispanic_surname_p)
    last[~hisp] = rng.choice(len(nt.surnames), size=int((~hisp).sum()), p=nt.surname_p)
    last2 = np.full(P, -1, dtype=np.int32)
    compound = (hisp & (rng.random(P) < 0.20)) | (~hisp & (rng.random(P) < 0.01))
    last2[compound & hisp] = rng.choice(nt.hispanic_surname_idx, size=int((compound & hisp).sum()), p=nt.hispanic_surname_p)
    last2[compound & ~hisp] = rng.choice(len(nt.surnames), size=int((compound & ~hisp).sum()), p=nt.surname_p)
    last2[last2 == last] = -1
    suffix = np.where(male & (rng.random(P) < 0.025), rng.integers(0, len(SUFFIXES), P), -1).astype(np.int8)

    # Ids: distinct within the county run, drawn as affine permutations.
    def ids(n: int, modulus: int, kind: int) -> np.ndarray:
        return affine_ids(n, modulus, np.random.default_rng([id_seed, kind]), start=0 if cannabis else modulus // 2)

    cii_pairs = 10_000_000 + ids(2 * P, 989_999_999, 1)  # 8-9 digits
    cii, cii2 = cii_pairs[:P], cii_pairs[P:]
    cii_letter = rng.random(P) < 0.3
    ssn = np.where(rng.random(P) < 0.6, ids(P, 899_999_999, 2) + 1_001_001, -1)
    dl = np.where(rng.random(P) < 0.55, ids(P, 9_999_999, 3), -1)
    fbi = np.where(rng.random(P) < 0.5, ids(P, 999_999_999, 4), -1)

    # ---- cycles --------------------------------------------------------------------------
    years, year_p = _year_weights()
    first_year = rng.choice(years, size=P, p=year_p)
    year_start = np.array([day(int(y)) for y in years], dtype=np.int64)
    first_arrest = year_start[first_year - 1961] + rng.integers(0, 365, P)
    age_at_first = 17 * 365.25 + rng.gamma(2.0, 4.0, P) * 365.25
    dob = np.maximum(first_arrest - age_at_first.astype(np.int64), day(1915)).astype(np.int32)

    activity = rng.gamma(1.3, 1.6, P)
    n_max = np.minimum(1 + rng.poisson(activity), 40)
    cp, cw, _ = ragged(n_max)
    gaps = np.where(cw == 0, 0, rng.exponential(900.0, len(cp)).astype(np.int64) + 1)
    csum = np.cumsum(gaps)
    start_of = np.repeat(csum[np.r_[0, np.cumsum(n_max)[:-1]]], n_max)
    arrest = first_arrest[cp] + (csum - start_of)
    keep = arrest <= LAST_DAY
    cp, arrest = cp[keep], arrest[keep].astype(np.int32)
    n_cycles = np.bincount(cp, minlength=P).astype(np.int64)
    cp, cw, first_cycle = ragged(n_cycles)
    C = len(cp)

    # Persons die (DOJ records a DECEASED step) after their last cycle.
    last_arrest = arrest[first_cycle + n_cycles - 1]
    deceased = np.full(P, NO_DAY, dtype=np.int32)
    dead = rng.random(P) < 0.04
    death = last_arrest + rng.integers(30, 20 * 365, P)
    dead &= death <= LAST_DAY
    deceased[dead] = death[dead]

    in_county = rng.random(C) >= (out_of_county if cannabis else 0.0)
    others = np.array([i for i in range(len(all_counties)) if i != target])
    pop = np.array([all_counties[i].population for i in others], dtype=np.float64)
    cyc_county = np.where(in_county, target, rng.choice(others, size=C, p=pop / pop.sum())).astype(np.int16)
    has_arrest = rng.random(C) < 0.93
    has_court = rng.random(C) < 0.82
    court_date = np.minimum(arrest + rng.integers(1, 200, C), LAST_DAY).astype(np.int32)

    # Every cannabis person has one cannabis case in this county (the one DOJ is asked about).
    forced_cycle = first_cycle + (rng.random(P) * n_cycles).astype(np.int64)
    if cannabis:
        cyc_county[forced_cycle] = target
        has_court[forced_cycle] = True
        has_arrest[forced_cycle] |= rng.random(P) < 0.9
    has_arrest |= ~has_court  # a cycle has at least one step

    # ---- counts --------------------------------------------------------------------------
    n_counts = np.minimum(1 + rng.poisson(0.65, C), 8).astype(np.int64)
    kc, kw, first_count = ragged(n_counts)
    K = len(kc)
    cnt_no = (kw + 1).astype(np.int32)
    when = np.where(has_court[kc], court_date[kc], arrest[kc])

    category = rng.choice(
        len(CATEGORIES), size=K,
        p=[0.28, 0, 0, 0.17, 0.55] if cannabis else [0, 0, 0, 0.2, 0.8],
    )
    if cannabis:
        category[first_count[forced_cycle]] = CATEGORIES.index("cannabis")
    charge = np.empty(K, dtype=np.int32)
    for cat in ("related", "other"):
        sel = category == CATEGORIES.index(cat)
        idx, p = ct.pick(cat)
        charge[sel] = rng.choice(idx, size=int(sel.sum()), p=p)
    is_can = category == CATEGORIES.index("cannabis")
    era = np.where(when < MOSCONE_DAY, ERAS.index("pre1976"), np.where(when < PROP64_DAY, ERAS.index("old"), ERAS.index("new")))
    for e in ("pre1976", "old", "new"):
        sel = is_can & (era == ERAS.index(e))
        idx, p = ct.pick("cannabis", e)
        charge[sel] = rng.choice(idx, size=int(sel.sum()), p=p)

    # Some people have a super-strike or a PC 290 offense: one count of theirs (not the forced
    # cannabis count) becomes that offense, convicted. PC 290 registrants also register.
    person_first_count = first_count[first_cycle]
    person_counts = np.add.reduceat(n_counts, first_cycle) if P else np.zeros(0, dtype=np.int64)
    forced_pos = first_count[forced_cycle] - person_first_count
    special = np.zeros(P, dtype=np.int8)  # 0 none, 1 superstrike, 2 sex290
    u = rng.random(P)
    special[u < (0.015 if cannabis else 0.01)] = 1
    special[(u >= 0.5) & (u < (0.52 if cannabis else 0.51))] = 2
    if cannabis:
        special[person_counts < 2] = 0  # their only count is the cannabis one
    r = (rng.random(P) * np.maximum(person_counts - (1 if cannabis else 0), 1)).astype(np.int64)
    if cannabis:
        r = np.where(r >= forced_pos, r + 1, r)
    special_count = person_first_count + r
    forced_conviction = np.zeros(K, dtype=bool)
    for kind, cat in ((1, "superstrike"), (2, "sex290")):
        who = np.flatnonzero(special == kind)
        idx, p = ct.pick(cat)
        charge[special_count[who]] = rng.choice(idx, size=len(who), p=p)
        forced_conviction[special_count[who]] = True
        has_court[kc[special_count[who]]] = True
    superstrike = special == 1
    registered = np.full(P, NO_DAY, dtype=np.int32)
    sex = np.flatnonzero(special == 2)
    reg_day = court_date[kc[special_count[sex]]] + rng.integers(30, 400, len(sex))
    ok = reg_day <= LAST_DAY
    registered[sex[ok]] = reg_day[ok]

    # Levels: the table's, wobblers charged as felonies 45% of the time; 11357(b) an infraction
    # from 2011.
    level = ct.level[charge].astype(np.int8)
    wob = level == 3
    level[wob] = np.where(rng.random(int(wob.sum())) < 0.45, LEVEL_F, LEVEL_M)
    b_poss = (ct.section[charge] == "11357") & (ct.subsection[charge] == "(B)") & (when >= INFRACTION_DAY)
    level[b_poss] = LEVEL_I

    # ---- dispositions: per case (court step) -----------------------------------------------
    court_k = has_court[kc]
    multi = n_counts[kc] > 1
    case_u = rng.random(C)[kc]
    # single-count: 68% convicted, 28% dismissed, 4% acquitted; multi-count cases: 35% all
    # convicted, 40% plea bargain (one count kept, the rest dismissed), 22% dismissed, 3% acquitted.
    disposition = np.full(K, NO_COURT, dtype=np.int8)
    single_disp = np.select([case_u < 0.68, case_u < 0.96], [CONVICTED, DISMISSED], ACQUITTED)
    multi_disp = np.select([case_u < 0.35, case_u < 0.75, case_u < 0.97], [CONVICTED, 9, DISMISSED], ACQUITTED)
    disposition[court_k] = np.where(multi, multi_disp, single_disp)[court_k]
    plea = disposition == 9
    # In a plea bargain the defendant pleads to one count; cannabis counts are the ones dropped
    # when there is anything else to plead to (San Diego: most "cannabis" cases were such).
    key = rng.random(K) + np.where(is_can, 1.0, 0.0)
    lowest = np.minimum.reduceat(key, first_count) if K else key  # counts are grouped by case
    kept = key == lowest[kc]
    disposition[plea & kept] = CONVICTED
    plea_dismissal = plea & ~kept
    disposition[plea_dismissal] = DISMISSED
    disposition[forced_conviction] = CONVICTED
    plea_dismissal &= ~forced_conviction

    # ---- sentences -----------------------------------------------------------------------
    conv = disposition == CONVICTED
    n_parts = np.where(conv, np.where((level != LEVEL_I) & (rng.random(K) < 0.22), 2, 1), 0).astype(np.int8)
    place = np.full((K, 2), -1, dtype=np.int8)
    length = np.zeros((K, 2), dtype=np.int16)
    unit = np.full((K, 2), -1, dtype=np.int8)
    v = rng.random(K)
    p0 = np.where(
        level == LEVEL_F, np.select([v < 0.3, v < 0.65], [PRISON, JAIL], PROBATION),
        np.where(level == LEVEL_M, np.select([v < 0.45, v < 0.9], [JAIL, PROBATION], FINE), FINE),
    )
    p0 = np.where(n_parts == 2, JAIL, p0)
    place[:, 0] = np.where(conv, p0, -1)
    place[:, 1] = np.where(n_parts == 2, PROBATION, -1)
    for j in (0, 1):
        pl_ = place[:, j]
        w = rng.random(K)
        length[:, j] = np.select(
            [pl_ == PRISON, pl_ == JAIL, pl_ == PROBATION, pl_ == FINE],
            [np.where(w < 0.5, rng.integers(16, 73, K), rng.integers(2, 7, K)), rng.integers(1, 366, K),
             np.where(w < 0.4, rng.integers(12, 37, K), rng.integers(1, 6, K)), 0],
            0,
        )
        unit[:, j] = np.select(
            [pl_ == PRISON, pl_ == JAIL, pl_ == PROBATION],
            [np.where(w < 0.5, MONTHS, YEARS), DAYS, np.where(w < 0.4, MONTHS, YEARS)], -1,
        )

    return Population(
        person_uid=np.arange(P, dtype=np.int64) + uid_offset,
        cannabis_person=np.full(P, cannabis),
        gender=gender, race=race, dob=dob, first=first, middle=middle, last=last, last2=last2, suffix=suffix,
        cii=cii, cii_letter=cii_letter, cii2=cii2, ssn=ssn, dl=dl, fbi=fbi, deceased=deceased, registered=registered,
        superstrike=superstrike, first_cycle=first_cycle, n_cycles=n_cycles,
        cyc_person=cp, cyc_no=cw.astype(np.int32), arrest_date=arrest, court_date=court_date,
        cyc_county=cyc_county, has_arrest=has_arrest, has_court=has_court, first_count=first_count,
        n_counts=n_counts,
        cnt_cycle=kc, cnt_no=cnt_no, charge=charge, level=level, disposition=disposition,
        plea_dismissal=plea_dismissal, n_parts=n_parts, sent_place=place, sent_length=length, sent_unit=unit,
    )


def concat(a: Population, b: Population) -> Population:
    """Two populations one after the other (b's persons get uids after a's)."""
    Pa, Ca = a.n_persons, len(a.cyc_person)
    out = {}
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "cyc_person":
            y = y + Pa
        elif f.name == "first_cycle" or f.name == "cnt_cycle":
            y = y + Ca
        elif f.name == "first_count":
            y = y + len(a.cnt_cycle)
        elif f.name == "person_uid":
            y = y - y.min(initial=0) + (int(x.max()) + 1 if len(x) else 0)
        out[f.name] = np.concatenate([x, y])
    return Population(**out)
