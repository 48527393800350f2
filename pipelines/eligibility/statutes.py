"""Statutes as data: parse statute references ("PC 245(d)(3)") and match counts against lists of them.

The lists themselves (super strikes, sex-offender registration, related charges, ...) live in
``statutes.yaml`` next to this module, so a lawyer can read and correct them without reading code.
Matching works on the normalized ``code`` / ``section`` / ``subsection`` columns of
``pipelines.model.COUNT``, case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from pipelines.config import read_yaml
from pipelines.errors import ConfigError

STATUTES_FILE = Path(__file__).with_name("statutes.yaml")

# "PC 245(d)(3)", "HS 11357", "11357(a)", "PC 190.*", "PC 288a(c)(2)(a)"
_STATUTE = re.compile(
    r"^\s*(?:(?P<code>[A-Za-z]{2,4})\s+)?(?P<section>\d[0-9A-Za-z.]*\*?)\s*(?P<sub>(?:\([0-9A-Za-z]+\)\s*)*)$"
)

# Helper columns the matchers read (added by `with_match_columns`).
CODE, SECTION, SUB = "_code", "_section", "_sub"


@dataclass(frozen=True)
class Statute:
    """One statute reference. ``subsection`` is a prefix: "(c)" matches "(c)" and "(c)(1)"."""

    code: str | None  # upper case, None = any code
    section: str  # lower case; may end with "*" (prefix match)
    subsection: str  # lower case, "" = any

    @property
    def text(self) -> str:
        return f"{self.code + ' ' if self.code else ''}{self.section}{self.subsection}"

    def matches(self, code: str | None, section: str | None, subsection: str | None) -> bool:
        """Plain-Python match, for configuration checks and tests."""
        if section is None:
            return False
        if self.code and (code or "").upper() != self.code:
            return False
        sec = section.lower()
        if self.section.endswith("*"):
            if not sec.startswith(self.section[:-1]):
                return False
        elif sec != self.section:
            return False
        return (subsection or "").lower().replace(" ", "").startswith(self.subsection)


def parse_statute(text: str) -> Statute:
    """Parse a statute reference as written in policy and statute files ("PC 245(d)(3)")."""
    m = _STATUTE.match(str(text))
    if not m:
        raise ValueError(
            f"{text!r} is not a statute reference; write it like 'HS 11357', 'PC 245(d)(3)' or 'PC 190.*'"
        )
    code = m.group("code").upper() if m.group("code") else None
    sub = re.sub(r"\s+", "", m.group("sub") or "").lower()
    return Statute(code, m.group("section").lower(), sub)


def with_match_columns(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the helper columns the matchers read.

    COUNT's statute columns are already canonical (pipelines.normalize.sections: code upper case,
    section and subsection lower case without spaces), so these are aliases; only a missing
    subsection becomes "".
    """
    return frame.with_columns(
        pl.col("code").alias(CODE),
        pl.col("section").alias(SECTION),
        pl.col("subsection").fill_null("").alias(SUB),
    )


def matches_any(statutes: list[Statute] | tuple[Statute, ...], *, code_optional: bool = False) -> pl.Expr:
    """A boolean expression: the count's statute is one of `statutes` (never null).

    With ``code_optional`` a count whose code could not be read still matches on the section
    (used for the cannabis sections, whose numbers are distinctive).
    """
    if not statutes:
        return pl.lit(False)
    parts: list[pl.Expr] = []
    # Whole sections without subsection are grouped into one is_in per code (fast on large frames).
    plain: dict[str | None, list[str]] = {}
    for s in statutes:
        if not s.subsection and not s.section.endswith("*"):
            plain.setdefault(s.code, []).append(s.section)
            continue
        if s.section.endswith("*"):
            sec = pl.col(SECTION).str.starts_with(s.section[:-1])
        else:
            sec = pl.col(SECTION) == s.section
        cond = sec & pl.col(SUB).str.starts_with(s.subsection) if s.subsection else sec
        parts.append(_code_ok(s.code, code_optional) & cond)
    for code, sections in plain.items():
        parts.append(_code_ok(code, code_optional) & pl.col(SECTION).is_in(sections))
    return pl.any_horizontal(parts).fill_null(False)


def _code_ok(code: str | None, code_optional: bool) -> pl.Expr:
    if code is None:
        return pl.lit(True)
    same = pl.col(CODE) == code
    return (same | pl.col(CODE).is_null()) if code_optional else same


@dataclass(frozen=True)
class StatuteList:
    name: str
    description: str
    statutes: tuple[Statute, ...]


@cache
def statute_lists() -> dict[str, StatuteList]:
    """The lists in statutes.yaml, parsed once."""
    raw = read_yaml(STATUTES_FILE)
    lists = {}
    for name, body in raw.items():
        try:
            statutes = tuple(parse_statute(s) for s in body["statutes"])
        except ValueError as e:  # pragma: no cover - shipped file
            raise ConfigError(f"{STATUTES_FILE}: list {name}: {e}") from e
        lists[name] = StatuteList(name, " ".join(str(body.get("description", "")).split()), statutes)
    return lists


def statutes(name: str) -> tuple[Statute, ...]:
    return statute_lists()[name].statutes


CANNABIS_SECTIONS: tuple[str, ...] = ("11357", "11358", "11359", "11360")
