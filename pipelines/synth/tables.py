"""Reference tables the generator draws from, loaded once per process.

- Names: the 1990 US census surname and first-name frequency files shipped by the `names`
  package (read directly as data, weighted by frequency), plus packaged tables of Hispanic
  surnames and first names (weighted by those same census frequencies) so that Latino persons
  and compound surnames ("GARCIA LOPEZ") appear at a realistic rate.
- Nicknames: the `nicknames` package's English table plus a packaged Spanish one.
- Charges, counties: packaged CSV files in ``pipelines/synth/data``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).with_name("data")

CATEGORIES = ("cannabis", "superstrike", "sex290", "related", "other")
ERAS = ("any", "pre1976", "old", "new")
LEVEL_CODES = {"F": 0, "M": 1, "I": 2, "W": 3}

# Letters a Spanish-language CMS may write with an accent; used by the accent noise.
ACCENTED = {
    "PENA": "PEÑA", "MUNOZ": "MUÑOZ", "NUNEZ": "NÚÑEZ", "IBANEZ": "IBÁÑEZ", "YANEZ": "YÁÑEZ",
    "ZUNIGA": "ZÚÑIGA", "MAGANA": "MAGAÑA", "QUINONEZ": "QUIÑÓNEZ", "SALDANA": "SALDAÑA",
    "BANUELOS": "BAÑUELOS", "MUNIZ": "MUÑIZ", "MONTANO": "MONTAÑO", "GOMEZ": "GÓMEZ",
    "PEREZ": "PÉREZ", "RAMIREZ": "RAMÍREZ", "HERNANDEZ": "HERNÁNDEZ", "MARTINEZ": "MARTÍNEZ",
    "RODRIGUEZ": "RODRÍGUEZ", "SANCHEZ": "SÁNCHEZ", "LOPEZ": "LÓPEZ", "GONZALEZ": "GONZÁLEZ",
    "JOSE": "JOSÉ", "JESUS": "JESÚS", "RAMON": "RAMÓN", "RAUL": "RAÚL", "HECTOR": "HÉCTOR",
    "OSCAR": "ÓSCAR", "ANGEL": "ÁNGEL", "CESAR": "CÉSAR", "ANDRES": "ANDRÉS", "MARIA": "MARÍA",
    "LUCIA": "LUCÍA", "ROCIO": "ROCÍO", "ANGELICA": "ANGÉLICA", "VERONICA": "VERÓNICA",
}


def _census(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A census frequency file of the `names` package: (names, frequencies in percent)."""
    text = resources.files("names").joinpath(name).read_text()
    names, freqs = [], []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            names.append(parts[0])
            freqs.append(float(parts[1]))
    return np.array(names, dtype=object), np.array(freqs, dtype=np.float64)


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


def labels(values: list[str] | tuple[str, ...], idx: np.ndarray) -> pl.Series:
    """The strings `values[idx]` as a Polars series, null where idx < 0 (fast: a native gather)."""
    table = pl.Series(list(values), dtype=pl.String)
    idx = np.asarray(idx)
    out = table.gather(np.maximum(idx, 0))
    if (idx < 0).any():
        out = pl.select(pl.when(pl.lit(pl.Series(idx >= 0))).then(out)).to_series()
    return out


DATE_BASE = np.datetime64("1900-01-01", "D")
DATE_END = np.datetime64("2031-01-01", "D")


@cache
def _date_table(strftime: str) -> pl.Series:
    days = np.arange(DATE_BASE, DATE_END)
    return pl.Series(days).cast(pl.Date).dt.strftime(strftime)


def date_text(days: pl.Expr, strftime: str) -> pl.Expr:
    """Dates (a Date expression) as text in `strftime`, by lookup in a table of every day from
    1900 to 2030 (much faster than formatting each row). Null stays null."""
    offset = (days.cast(pl.Int32) - int((DATE_BASE - np.datetime64("1970-01-01", "D")).astype(int)))
    return pl.lit(_date_table(strftime)).gather(offset)


def _probabilities(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


@dataclass(frozen=True)
class NameTables:
    """Name strings and the index distributions the generator samples from.

    Surnames are one table (the census file); the Hispanic distribution is a set of indices into
    it. First names are one table: census male names, then census female names.
    """

    surnames: np.ndarray  # str objects
    surname_p: np.ndarray
    hispanic_surname_idx: np.ndarray
    hispanic_surname_p: np.ndarray
    first_names: np.ndarray
    male_idx: np.ndarray
    male_p: np.ndarray
    female_idx: np.ndarray
    female_p: np.ndarray
    hispanic_male_idx: np.ndarray
    hispanic_male_p: np.ndarray
    hispanic_female_idx: np.ndarray
    hispanic_female_p: np.ndarray
    # Nicknames, CSR-style: for first name i, nick_flat[nick_start[i]:nick_start[i]+nick_count[i]].
    nick_start: np.ndarray
    nick_count: np.ndarray
    nick_flat: np.ndarray

    surname_series: pl.Series  # the same strings as Polars series, for fast gathers
    first_name_series: pl.Series


@cache
def name_tables() -> NameTables:
    """Census names, Hispanic subsets and nicknames (cached)."""
    last, last_f = _census("dist.all.last")
    male, male_f = _census("dist.male.first")
    female, female_f = _census("dist.female.first")
    first = np.concatenate([male, female])
    last_pos = {n: i for i, n in enumerate(last)}
    male_pos = {n: i for i, n in enumerate(male)}
    female_pos = {n: len(male) + i for i, n in enumerate(female)}

    hs = _read_csv("hispanic_surnames.csv")
    hs_idx = np.array([last_pos[r["name"]] for r in hs if r["name"] in last_pos], dtype=np.int64)
    hs_p = _probabilities([float(r["frequency"]) for r in hs if r["name"] in last_pos])
    hf = _read_csv("hispanic_first_names.csv")
    hm = [(male_pos[r["name"]], float(r["frequency"])) for r in hf if r["gender"] == "M" and r["name"] in male_pos]
    hw = [(female_pos[r["name"]], float(r["frequency"])) for r in hf if r["gender"] == "F" and r["name"] in female_pos]

    # Nicknames of every first name in the table, upper-case, English package + Spanish table.
    from nicknames import NickNamer

    lookup = {k.upper(): {v.upper() for v in vs} for k, vs in NickNamer().nickname_lookup.items()}
    for r in _read_csv("hispanic_nicknames.csv"):
        lookup.setdefault(r["name"], set()).add(r["nickname"])
    starts, counts, flat = [], [], []
    for name in first:
        nicks = sorted(n for n in lookup.get(name, ()) if n != name and n.isalpha())
        starts.append(len(flat))
        counts.append(len(nicks))
        flat.extend(nicks)
    return NameTables(
        surnames=last,
        surname_p=_probabilities(last_f),
        hispanic_surname_idx=hs_idx,
        hispanic_surname_p=hs_p,
        first_names=first,
        male_idx=np.arange(len(male)),
        male_p=_probabilities(male_f),
        female_idx=np.arange(len(male), len(first)),
        female_p=_probabilities(female_f),
        hispanic_male_idx=np.array([i for i, _ in hm], dtype=np.int64),
        hispanic_male_p=_probabilities([f for _, f in hm]),
        hispanic_female_idx=np.array([i for i, _ in hw], dtype=np.int64),
        hispanic_female_p=_probabilities([f for _, f in hw]),
        nick_start=np.array(starts, dtype=np.int64),
        nick_count=np.array(counts, dtype=np.int64),
        nick_flat=np.array(flat if flat else [""], dtype=object),
        surname_series=pl.Series(list(last), dtype=pl.String),
        first_name_series=pl.Series(list(first), dtype=pl.String),
    )


@dataclass(frozen=True)
class ChargeTable:
    """The packaged charge table as arrays (one entry per charge)."""

    code: np.ndarray  # "HS", "PC", ...
    section: np.ndarray  # "11357"
    subsection: np.ndarray  # "(C)" or ""
    level: np.ndarray  # int: 0 F, 1 M, 2 I, 3 wobbler
    description: np.ndarray
    weight: np.ndarray
    category: np.ndarray  # int index into CATEGORIES
    era: np.ndarray  # int index into ERAS

    def __len__(self) -> int:
        return len(self.code)

    def pick(self, category: str, era: str = "any") -> tuple[np.ndarray, np.ndarray]:
        """(charge indices, probabilities) of one category (and era)."""
        mask = (self.category == CATEGORIES.index(category)) & (self.era == ERAS.index(era))
        idx = np.flatnonzero(mask)
        return idx, _probabilities(self.weight[idx])

    def text(self, column: str, idx: np.ndarray) -> pl.Series:
        """A text column of the table ("code", "section", "subsection", "description") at `idx`."""
        return pl.Series(list(getattr(self, column)), dtype=pl.String).gather(idx)

    @property
    def miskeyable(self) -> np.ndarray:
        """Sections a clerk can mistype by swapping two digits: all digits, at least 4."""
        return np.array([s.isdigit() and len(s) >= 4 for s in self.section])

    @property
    def is_cannabis(self) -> np.ndarray:
        return self.category == CATEGORIES.index("cannabis")

    @property
    def is_sex290(self) -> np.ndarray:
        return self.category == CATEGORIES.index("sex290")


@cache
def charge_table() -> ChargeTable:
    """The packaged charge table (cached)."""
    rows = _read_csv("charges.csv")
    return ChargeTable(
        code=np.array([r["code"] for r in rows], dtype=object),
        section=np.array([r["section"] for r in rows], dtype=object),
        subsection=np.array([r["subsection"] for r in rows], dtype=object),
        level=np.array([LEVEL_CODES[r["level"]] for r in rows], dtype=np.int8),
        description=np.array([r["description"] for r in rows], dtype=object),
        weight=np.array([float(r["weight"]) for r in rows]),
        category=np.array([CATEGORIES.index(r["category"]) for r in rows], dtype=np.int8),
        era=np.array([ERAS.index(r["era"]) for r in rows], dtype=np.int8),
    )


@dataclass(frozen=True)
class County:
    code: str  # "19"
    name: str  # "LOS ANGELES"
    population: int
    case_style: str  # la | yy | prefix
    felony_prefixes: tuple[str, ...]
    misdemeanor_prefixes: tuple[str, ...]


@cache
def counties() -> tuple[County, ...]:
    """California's 58 counties with DOJ codes, populations and case-number styles."""
    return tuple(
        County(
            code=r["code"], name=r["name"], population=int(r["population"]), case_style=r["case_style"],
            felony_prefixes=tuple(r["felony_prefixes"].split()),
            misdemeanor_prefixes=tuple(r["misdemeanor_prefixes"].split()),
        )
        for r in _read_csv("counties.csv")
    )


def county_named(name: str) -> County:
    """The county with this name (case-insensitive, DOJ spelling, e.g. "Los Angeles")."""
    wanted = " ".join(name.upper().replace("_", " ").split())
    for c in counties():
        if c.name == wanted:
            return c
    known = ", ".join(c.name.title() for c in counties())
    raise ValueError(f"unknown county {name!r}; California's counties are: {known}")
