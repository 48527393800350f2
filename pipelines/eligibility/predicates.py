"""The predicate vocabulary: the words a policy file's conditions are made of.

Each predicate reads facts (pipelines.eligibility.facts.FACTS) and becomes one Polars boolean
expression. A fact the record cannot show (null) never makes a predicate true. docs/policies.md
documents every predicate here; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from pipelines.eligibility import statutes as st


@dataclass(frozen=True)
class Context:
    """What a condition needs besides the facts: the date eligibility is computed at."""

    compute_at: date


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(Params):
    """Bounds for a number; give one or more."""

    at_least: float | None = None
    at_most: float | None = None
    more_than: float | None = None
    less_than: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Compare:
        if all(v is None for v in (self.at_least, self.at_most, self.more_than, self.less_than)):
            raise ValueError("give at least one of at_least, at_most, more_than, less_than")
        return self

    def expr(self, value: pl.Expr) -> pl.Expr:
        parts = []
        if self.at_least is not None:
            parts.append(value >= self.at_least)
        if self.at_most is not None:
            parts.append(value <= self.at_most)
        if self.more_than is not None:
            parts.append(value > self.more_than)
        if self.less_than is not None:
            parts.append(value < self.less_than)
        return pl.all_horizontal(parts)

    def text(self) -> str:
        words = {"at_least": ">=", "at_most": "<=", "more_than": ">", "less_than": "<"}
        return " and ".join(f"{words[k]} {_num(v)}" for k, v in self.model_dump().items() if v is not None)


class Years(Params):
    years: int

    @field_validator("years")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 0:
            raise ValueError("years must be 0 or more")
        return v


class OnDate(Params):
    date: date


class StatuteList(Params):
    statutes: list[str]

    @field_validator("statutes")
    @classmethod
    def _parse(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one statute")
        for s in v:
            st.parse_statute(s)
        return v

    def parsed(self) -> tuple[st.Statute, ...]:
        return tuple(st.parse_statute(s) for s in self.statutes)


class OptionalStatuteList(Params):
    statutes: list[str] | None = None

    @field_validator("statutes")
    @classmethod
    def _parse(cls, v: list[str] | None) -> list[str] | None:
        for s in v or []:
            st.parse_statute(s)
        return v

    def parsed(self) -> tuple[st.Statute, ...]:
        return tuple(st.parse_statute(s) for s in self.statutes or ())


@dataclass(frozen=True)
class Predicate:
    name: str
    meaning: str
    facts: tuple[str, ...]  # shown in explanations
    build: Callable[[Any, Context], pl.Expr]
    params: type[Params] | None = None
    shorthand: str | None = None  # `name: value` means `name: {shorthand: value}`
    example: str = ""
    group: str = "conviction"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _shift_years(d: date, years: int) -> date:
    """`d` moved by whole years; February 29 becomes March 1 in a common year (as Go's AddDate)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return date(d.year + years, 3, 1)


def _col(name: str) -> pl.Expr:
    return pl.col(name).fill_null(False)


def _compare(name: str, meaning: str, example: str, group: str = "conviction") -> Predicate:
    return Predicate(
        name, meaning, (name,), lambda p, c: p.expr(pl.col(name)).fill_null(False),
        params=Compare, example=example, group=group,
    )


PREDICATES: dict[str, Predicate] = {}


def _register(*preds: Predicate) -> None:
    for p in preds:
        PREDICATES[p.name] = p


_register(
    Predicate(
        "always", "Applies to every conviction. Use it for the last rule (\"otherwise\").",
        (), lambda p, c: pl.lit(True), example="always", group="logic",
    ),
    # -- the conviction ------------------------------------------------------------------------
    Predicate(
        "cannabis_conviction", "The conviction is for HS 11357, 11358, 11359 or 11360.",
        ("statute",), lambda p, c: _col("is_cannabis"), example="cannabis_conviction",
    ),
    Predicate(
        "in_county", "The conviction is in the county being processed.",
        ("county",), lambda p, c: _col("in_county"), example="in_county",
    ),
    Predicate(
        "felony", "The conviction is a felony.",
        ("is_felony",), lambda p, c: _col("is_felony"), example="felony",
    ),
    Predicate(
        "misdemeanor_or_infraction",
        "The conviction is a misdemeanor or an infraction (known not to be a felony).",
        ("is_felony",), lambda p, c: (~pl.col("is_felony")).fill_null(False),
        example="misdemeanor_or_infraction",
    ),
    Predicate(
        "convicted_of",
        "The statute as convicted is one of the listed ones. 'HS 11357' matches every subsection; "
        "'HS 11357(a)' only (a) and its sub-parts. Without a code ('11357') any code matches.",
        ("statute",), lambda p, c: st.matches_any(p.parsed(), code_optional=True),
        params=StatuteList, shorthand="statutes",
        example="convicted_of: [HS 11357(a), HS 11357(b)]",
    ),
    Predicate(
        "related_charge",
        "The conviction is one of the charges that often came with a cannabis charge (the "
        "related_charges list in statutes.yaml, or the statutes you give).",
        ("statute",),
        lambda p, c: st.matches_any(p.parsed()) if p.statutes else _col("is_related_charge"),
        params=OptionalStatuteList, shorthand="statutes",
        example="related_charge",
    ),
    Predicate(
        "cannabis_charge_in_cycle",
        "A cannabis charge (convicted or not) is in the same arrest cycle as this conviction.",
        ("cannabis_charge_in_cycle",), lambda p, c: _col("cannabis_charge_in_cycle"),
        example="cannabis_charge_in_cycle",
    ),
    Predicate(
        "convicted_before", "The conviction date is before the given date.",
        ("conviction_date",), lambda p, c: (pl.col("conviction_date") < p.date).fill_null(False),
        params=OnDate, shorthand="date", example="convicted_before: 2016-11-09",
    ),
    Predicate(
        "convicted_on_or_after", "The conviction date is on or after the given date.",
        ("conviction_date",), lambda p, c: (pl.col("conviction_date") >= p.date).fill_null(False),
        params=OnDate, shorthand="date", example="convicted_on_or_after: 2016-11-09",
    ),
    Predicate(
        "conviction_at_least_years_ago",
        "The conviction happened at least this many calendar years before compute-at "
        "(on or before the anniversary).",
        ("years_since_conviction",),
        lambda p, c: (pl.col("conviction_date") <= _shift_years(c.compute_at, -p.years)).fill_null(False),
        params=Years, shorthand="years", example="conviction_at_least_years_ago: 10",
    ),
    _compare("years_since_conviction", "Years (of 365.25 days) from the conviction to compute-at.",
             "years_since_conviction: {at_least: 10}"),
    Predicate(
        "sentence_completed", "This conviction's sentence ended on or before compute-at.",
        ("sentence_end",), lambda p, c: _col("sentence_completed"), example="sentence_completed",
    ),
    Predicate(
        "other_cannabis_section_in_comment",
        "The comment names a cannabis statute other than the one convicted (worth a look).",
        ("other_cannabis_sections_in_comment",),
        lambda p, c: (pl.col("other_cannabis_sections_in_comment").list.len() > 0).fill_null(False),
        example="other_cannabis_section_in_comment",
    ),
    _compare("prior_same_section_convictions",
             "Cannabis convictions of the same section on an earlier date.",
             "prior_same_section_convictions: {at_least: 2}"),
    # -- the person's record -------------------------------------------------------------------
    Predicate(
        "superstrike_before_conviction",
        "A super strike conviction (PC 667(e)(2)(C)(iv), statutes.yaml) is on the record before "
        "this conviction.",
        ("superstrike_before_conviction", "superstrikes_on_record"),
        lambda p, c: _col("superstrike_before_conviction"),
        example="superstrike_before_conviction", group="record",
    ),
    Predicate(
        "superstrike_on_record", "A super strike conviction is on the record (any date).",
        ("superstrikes_on_record",),
        lambda p, c: (pl.col("superstrikes_on_record").list.len() > 0).fill_null(False),
        example="superstrike_on_record", group="record",
    ),
    Predicate(
        "pc290_before_conviction",
        "A conviction requiring sex-offender registration (PC 290), or a PC 290 registration, is "
        "on the record before this conviction.",
        ("pc290_before_conviction", "pc290_offenses_on_record", "pc290_registration"),
        lambda p, c: _col("pc290_before_conviction"),
        example="pc290_before_conviction", group="record",
    ),
    Predicate(
        "pc290_on_record",
        "A PC 290 conviction or registration is on the record (any date).",
        ("pc290_offenses_on_record", "pc290_registration"),
        lambda p, c: ((pl.col("pc290_offenses_on_record").list.len() > 0) | pl.col("pc290_registration"))
        .fill_null(False),
        example="pc290_on_record", group="record",
    ),
    Predicate(
        "deceased", "The record shows the person died.",
        ("deceased",), lambda p, c: _col("deceased"), example="deceased", group="record",
    ),
    Predicate(
        "only_cannabis_convictions", "Every conviction on the record is a cannabis conviction.",
        ("convictions_on_record", "cannabis_convictions"), lambda p, c: _col("only_cannabis_convictions"),
        example="only_cannabis_convictions", group="record",
    ),
    Predicate(
        "all_sentences_completed", "Every sentence on the record ended on or before compute-at.",
        ("all_sentences_completed",), lambda p, c: _col("all_sentences_completed"),
        example="all_sentences_completed", group="record",
    ),
    Predicate(
        "reached_age",
        "The person had their N-th birthday on or before compute-at.",
        ("age_at_compute_at",),
        lambda p, c: (pl.col("dob") <= _shift_years(c.compute_at, -p.years)).fill_null(False),
        params=Years, shorthand="years", example="reached_age: 57", group="record",
    ),
    Predicate(
        "under_age_at_conviction",
        "The person had not yet had their N-th birthday on the conviction date.",
        ("age_at_conviction",),
        lambda p, c: (pl.col("dob").dt.offset_by(f"{p.years}y") > pl.col("conviction_date")).fill_null(False),
        params=Years, shorthand="years", example="under_age_at_conviction: 21", group="record",
    ),
    _compare("age_at_compute_at", "Age in years (of 365.25 days) at compute-at.",
             "age_at_compute_at: {at_most: 21}", group="record"),
    _compare("age_at_conviction", "Age in years (of 365.25 days) on the conviction date.",
             "age_at_conviction: {less_than: 18}", group="record"),
    Predicate(
        "no_conviction_within_years",
        "No conviction on the record (any county, any offense) in the N calendar years before "
        "compute-at: the most recent one is older than the N-th anniversary.",
        ("years_since_last_conviction",),
        lambda p, c: (pl.col("last_conviction_date") < _shift_years(c.compute_at, -p.years)).fill_null(False),
        params=Years, shorthand="years", example="no_conviction_within_years: 10", group="record",
    ),
    _compare("years_since_last_conviction",
             "Years (of 365.25 days) from the most recent conviction on the record to compute-at.",
             "years_since_last_conviction: {more_than: 5}", group="record"),
    _compare("convictions_on_record", "Number of convictions on the record (any county, any offense).",
             "convictions_on_record: {more_than: 1}", group="record"),
    _compare("cannabis_convictions", "Number of cannabis convictions on the record.",
             "cannabis_convictions: {at_least: 3}", group="record"),
)

COMBINATORS = {
    "all": "Every condition in the list applies.",
    "any": "At least one condition in the list applies.",
    "not": "The condition does not apply.",
}
