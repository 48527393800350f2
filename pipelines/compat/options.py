"""The incumbent tool's eligibility options file (``eligibility_options.json``) as a policy.

The options file chose, for the statewide tool's "configurable" flow, which cannabis sections to
dismiss or reduce and which extra grounds for dismissal to use. `options_policy_yaml` writes the
same choices as a policy file (readable, reviewable, versionable) and `policy_from_options`
loads it, so an options file and a policy file are decided by the very same engine.

    {"baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
     "additionalRelief": {"subjectUnder21AtConviction": true, "subjectAgeThreshold": 57,
                          "yearsSinceConvictionThreshold": 10, "yearsCrimeFreeThreshold": 0,
                          "subjectHasOnlyProp64Charges": true, "subjectIsDeceased": true}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.eligibility.policy import Policy, parse_policy
from pipelines.eligibility.statutes import CANNABIS_SECTIONS, parse_statute
from pipelines.errors import ConfigError


class BaselineEligibility(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dismiss: list[str] = []
    reduce: list[str] = []

    @field_validator("dismiss", "reduce")
    @classmethod
    def _cannabis(cls, v: list[str]) -> list[str]:
        for s in v:
            try:
                statute = parse_statute(s)
            except ValueError as e:
                raise ValueError(str(e)) from None
            if statute.section not in CANNABIS_SECTIONS or statute.code not in (None, "HS"):
                raise ValueError(f"{s!r} is not one of the cannabis sections {', '.join(CANNABIS_SECTIONS)}")
        return v


class AdditionalRelief(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subjectUnder21AtConviction: bool = False
    subjectHasOnlyProp64Charges: bool = False
    subjectIsDeceased: bool = False
    # The incumbent's ranges: 0 (off) or 40-65; 0 or 1-15.
    subjectAgeThreshold: int = Field(0)
    yearsSinceConvictionThreshold: int = Field(0)
    yearsCrimeFreeThreshold: int = Field(0)

    @field_validator("subjectAgeThreshold")
    @classmethod
    def _age(cls, v: int) -> int:
        if v != 0 and not 40 <= v <= 65:
            raise ValueError("SubjectAgeThreshold should be between 40 and 65, or 0")
        return v

    @field_validator("yearsSinceConvictionThreshold", "yearsCrimeFreeThreshold")
    @classmethod
    def _years(cls, v: int, info) -> int:
        if v != 0 and not 1 <= v <= 15:
            name = info.field_name[0].upper() + info.field_name[1:]
            raise ValueError(f"{name} should be between 1 and 15, or 0")
        return v


class EligibilityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baselineEligibility: BaselineEligibility = BaselineEligibility()
    additionalRelief: AdditionalRelief = AdditionalRelief()


def read_options(path_or_dict: str | Path | dict[str, Any]) -> tuple[EligibilityOptions, str]:
    """Parse and check an options file (or dict); returns the options and a name for messages."""
    if isinstance(path_or_dict, dict):
        raw, where = path_or_dict, "<eligibility options>"
    else:
        path = Path(path_or_dict)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{where}: cannot read the eligibility options file ({e.strerror or e})") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where}, line {e.lineno}: not valid JSON: {e.msg}") from None
    try:
        return EligibilityOptions.model_validate(raw), where
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {loc}: {msg} (got {err.get('input')!r})") from None


def _section_id(section: str) -> str:
    return section.lower().replace("(", "_").replace(")", "")


def _statute(section: str) -> str:
    s = parse_statute(section)
    return f"HS {s.section}{s.subsection}"


def options_policy_yaml(options: EligibilityOptions, *, source: str = "eligibility options") -> str:
    """The options as a policy file, in the incumbent's order and with its reasons."""
    base, extra = options.baselineEligibility, options.additionalRelief
    out = [
        f"# Generated from {source} (the incumbent tool's configurable eligibility flow).",
        "# Rules are asked in order; the first that applies decides. See docs/policies.md.",
        "name: configurable",
        "title: Configurable eligibility (statewide tool options)",
        'version: "options-1"',
        "description: >",
        "  The incumbent tool's configurable flow: misdemeanors and the chosen sections are dismissed,",
        "  then the chosen additional grounds for dismissal, then the chosen sections are reduced.",
        "applies_to:",
        "  all: [cannabis_conviction, in_county]",
        "rules:",
        "  - id: misdemeanor_or_infraction",
        "    description: Every misdemeanor or infraction cannabis conviction is dismissed.",
        "    when: misdemeanor_or_infraction",
        "    tally: none",
        "    then: {determination: Eligible for Dismissal, reason: Misdemeanor or Infraction}",
    ]
    for s in base.dismiss:
        out += [
            f"  - id: dismiss_{_section_id(s)}",
            f"    description: Every felony HS {s} conviction is dismissed (baseline choice).",
            f"    when: {{convicted_of: [{_statute(s)}]}}",
            "    tally: section",
            f"    then: {{determination: Eligible for Dismissal, reason: Dismiss all HS {s} convictions}}",
        ]
    if extra.subjectUnder21AtConviction:
        out += [
            "  - id: under_21_at_conviction",
            "    description: The person was not yet 21 when convicted.",
            "    when: {under_age_at_conviction: 21}",
            "    then: {determination: Eligible for Dismissal, reason: 21 years or younger}",
        ]
    if extra.subjectAgeThreshold:
        n = extra.subjectAgeThreshold
        out += [
            f"  - id: age_{n}_or_older",
            f"    description: The person has had their {n}th birthday by the compute-at date.",
            f"    when: {{reached_age: {n}}}",
            f'    then: {{determination: Eligible for Dismissal, reason: "{n} years or older"}}',
        ]
    if extra.yearsSinceConvictionThreshold:
        n = extra.yearsSinceConvictionThreshold
        out += [
            f"  - id: conviction_{n}_or_more_years_ago",
            f"    description: The conviction is at least {n} years old on the compute-at date.",
            f"    when: {{conviction_at_least_years_ago: {n}}}",
            f"    then: {{determination: Eligible for Dismissal, reason: Conviction occurred {n} or more years ago}}",
        ]
    if extra.yearsCrimeFreeThreshold:
        n = extra.yearsCrimeFreeThreshold
        out += [
            f"  - id: no_conviction_in_{n}_years",
            f"    description: No conviction of any kind in the {n} years before the compute-at date.",
            f"    when: {{no_conviction_within_years: {n}}}",
            f"    then: {{determination: Eligible for Dismissal, reason: No convictions in the past {n} years}}",
        ]
    if extra.subjectHasOnlyProp64Charges:
        out += [
            "  - id: only_cannabis_convictions",
            "    description: Every conviction on the person's record is a cannabis conviction.",
            "    when: only_cannabis_convictions",
            "    then: {determination: Eligible for Dismissal, reason: Only has 11357-60 charges}",
        ]
    if extra.subjectIsDeceased:
        out += [
            "  - id: deceased",
            "    description: The record shows the person died.",
            "    when: deceased",
            "    then: {determination: Eligible for Dismissal, reason: Individual is deceased}",
        ]
    for s in base.reduce:
        out += [
            f"  - id: reduce_{_section_id(s)}",
            f"    description: Every remaining felony HS {s} conviction is reduced to a misdemeanor.",
            f"    when: {{convicted_of: [{_statute(s)}]}}",
            "    tally: section",
            f"    then: {{determination: Eligible for Reduction, reason: Reduce all HS {s} convictions}}",
        ]
    out += [
        "  # The incumbent left a conviction in no chosen section without a determination; here a",
        "  # person looks at it instead, so every cannabis conviction gets exactly one determination.",
        "  - id: otherwise",
        "    when: always",
        "    tally: none",
        "    then: {determination: Hand Review, reason: No applicable eligibility criteria}",
    ]
    return "\n".join(out) + "\n"


def policy_from_options(path_or_dict: str | Path | dict[str, Any]) -> Policy:
    """The policy an incumbent options file (path, or the parsed JSON as a dict) describes."""
    options, where = read_options(path_or_dict)
    return parse_policy(options_policy_yaml(options, source=where), source=f"{where} (as a policy)")
