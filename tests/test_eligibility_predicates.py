"""Every predicate of the policy vocabulary, through the engine (pipelines.eligibility.predicates)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from pipelines.eligibility import determine, parse_policy
from pipelines.eligibility.examples import charged, convicted, death, person, records, registration
from pipelines.eligibility.predicates import COMBINATORS, PREDICATES

AT = date(2019, 11, 11)
ROOT = Path(__file__).resolve().parents[1]


def matching(condition: str, people, *, at: date = AT) -> set[str]:
    """Keys ("person:event") of the convictions for which `condition` (YAML flow) applies."""
    otherwise = "  - id: otherwise\n    then: {determination: Not eligible, reason: miss}\n"
    policy = parse_policy(
        "name: probe\nversion: '1'\napplies_to: always\nrules:\n"
        f"  - id: hit\n    when: {condition}\n    then: {{determination: Eligible for Dismissal, reason: hit}}\n"
        + ("" if condition == "always" else otherwise),
        source="probe.yaml",
    )
    counts, persons = records(people)
    out = determine(counts, persons, policy=policy, county="LOS ANGELES", compute_at=at)
    return {cid.removeprefix("ex:") for cid, rule in out.select("count_id", "rule_id").iter_rows() if rule == "hit"}


MAN = "1960-03-14"
# (predicate, condition, people, expected matches)
CASES = [
    ("always", "always", {"a": person(MAN, convicted("1990-01-01", "PC 459"))}, {"a:0"}),
    ("cannabis_conviction", "cannabis_conviction",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "PC 459"),
                  convicted("1990-01-01", "11360(a)"))}, {"a:0", "a:2"}),
    ("in_county", "in_county",
     {"a": person(MAN, convicted("1990-01-01", "PC 459"), convicted("1990-01-01", "PC 459", county="YOLO"))}, {"a:0"}),
    ("felony", "felony",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "HS 11359", level="M"))}, {"a:0"}),
    ("misdemeanor_or_infraction", "misdemeanor_or_infraction",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "HS 11359", level="M"),
                  convicted("1990-01-01", "HS 11359", level="I"), convicted("1990-01-01", "HS 11359", level=None))},
     {"a:1", "a:2"}),
    ("convicted_of", "{convicted_of: [HS 11357(a), HS 11357(b)]}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11357(a)"), convicted("1990-01-01", "HS 11357(b)(2)"),
                  convicted("1990-01-01", "HS 11357(c)"), convicted("1990-01-01", "HS 11357"),
                  convicted("1990-01-01", "PC 11357(a)"))}, {"a:0", "a:1"}),
    ("related_charge", "related_charge",
     {"a": person(MAN, convicted("1990-01-01", "PC 148"), convicted("1990-01-01", "PC 148.9"),
                  convicted("1990-01-01", "PC 1320(b)"), convicted("1990-01-01", "PC 1320.5"),
                  convicted("1990-01-01", "HS 11359"))}, {"a:0", "a:1", "a:2"}),
    ("related_charge", "{related_charge: [PC 1320.5]}",
     {"a": person(MAN, convicted("1990-01-01", "PC 148"), convicted("1990-01-01", "PC 1320.5"))}, {"a:1"}),
    ("cannabis_charge_in_cycle", "cannabis_charge_in_cycle",
     {"a": person(MAN, charged("1990-01-01", "HS 11357", cycle="1"), convicted("1990-01-01", "PC 148", cycle="1"),
                  convicted("1991-01-01", "PC 148", cycle="2"))}, {"a:1"}),
    ("convicted_before", "{convicted_before: 2016-11-09}",
     {"a": person(MAN, convicted("2016-11-08", "HS 11359"), convicted("2016-11-09", "HS 11359"))}, {"a:0"}),
    ("convicted_on_or_after", "{convicted_on_or_after: 2016-11-09}",
     {"a": person(MAN, convicted("2016-11-08", "HS 11359"), convicted("2016-11-09", "HS 11359"))}, {"a:1"}),
    ("conviction_at_least_years_ago", "{conviction_at_least_years_ago: 10}",
     {"a": person(MAN, convicted("2009-11-11", "HS 11359"), convicted("2009-11-12", "HS 11359"))}, {"a:0"}),
    ("years_since_conviction", "{years_since_conviction: {at_least: 10}}",
     {"a": person(MAN, convicted("2009-11-10", "HS 11359"), convicted("2009-11-12", "HS 11359"))}, {"a:0"}),
    ("sentence_completed", "sentence_completed",
     {"a": person(MAN, convicted("2015-01-01", "HS 11359", sentence_end="2019-11-11"),
                  convicted("2015-01-01", "HS 11359", sentence_end="2019-11-12"))}, {"a:0"}),
    ("other_cannabis_section_in_comment", "other_cannabis_section_in_comment",
     {"a": person(MAN, convicted("1990-01-01", "HS 11358", comment_sections=("HS 11359",)),
                  convicted("1990-01-01", "HS 11358", comment_sections=("HS 11358",)))}, {"a:0"}),
    ("prior_same_section_convictions", "{prior_same_section_convictions: {at_least: 2}}",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), convicted("1981-01-01", "HS 11359"),
                  convicted("1982-01-01", "HS 11359"), convicted("1983-01-01", "HS 11360"))}, {"a:2"}),
    ("superstrike_before_conviction", "superstrike_before_conviction",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), convicted("1985-01-01", "PC 187"),
                  convicted("1990-01-01", "HS 11359"))}, {"a:2"}),
    ("superstrike_on_record", "superstrike_on_record",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), convicted("1985-01-01", "PC 187", offense_text="664/187 PC")),
      "b": person(MAN, convicted("1980-01-01", "HS 11359"))}, {"a:0", "a:1"}),
    ("pc290_before_conviction", "pc290_before_conviction",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), registration("1985-01-01"),
                  convicted("1990-01-01", "HS 11359")),
      "b": person(MAN, convicted("1985-01-01", "PC 288"), convicted("1990-01-01", "HS 11359"))}, {"a:2", "b:1"}),
    ("pc290_on_record", "pc290_on_record",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), registration("1985-01-01")),
      "b": person(MAN, convicted("1980-01-01", "HS 11359"))}, {"a:0"}),
    ("deceased", "deceased",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), death("2000-01-01")),
      "b": person(MAN, convicted("1980-01-01", "HS 11359"))}, {"a:0"}),
    ("only_cannabis_convictions", "only_cannabis_convictions",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), charged("1981-01-01", "PC 459")),
      "b": person(MAN, convicted("1980-01-01", "HS 11359"), convicted("1981-01-01", "PC 459"))}, {"a:0"}),
    ("all_sentences_completed", "all_sentences_completed",
     {"a": person(MAN, convicted("1980-01-01", "HS 11359"), convicted("2015-01-01", "PC 459", sentence_end="2030-01-01")),
      "b": person(MAN, convicted("1980-01-01", "HS 11359"))}, {"b:0"}),
    ("reached_age", "{reached_age: 57}",
     {"a": person("1962-11-11", convicted("1980-01-01", "HS 11359")),
      "b": person("1962-11-12", convicted("1980-01-01", "HS 11359"))}, {"a:0"}),
    ("under_age_at_conviction", "{under_age_at_conviction: 21}",
     {"a": person("1970-01-01", convicted("1990-12-31", "HS 11359"), convicted("1991-01-01", "HS 11359"))}, {"a:0"}),
    ("age_at_compute_at", "{age_at_compute_at: {at_most: 21}}",
     {"a": person("1998-11-11", convicted("2015-01-01", "HS 11359")),
      "b": person("1998-11-10", convicted("2015-01-01", "HS 11359"))}, {"a:0"}),
    ("age_at_conviction", "{age_at_conviction: {less_than: 18, at_least: 16}}",
     {"a": person("1970-01-01", convicted("1985-06-01", "HS 11359"), convicted("1987-06-01", "HS 11359"),
                  convicted("1988-06-01", "HS 11359"))}, {"a:1"}),
    ("no_conviction_within_years", "{no_conviction_within_years: 10}",
     {"a": person(MAN, convicted("2009-11-10", "HS 11359")), "b": person(MAN, convicted("2009-11-11", "HS 11359")),
      "c": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("2012-01-01", "PC 459", county="YOLO"))},
     {"a:0"}),
    ("years_since_last_conviction", "{years_since_last_conviction: {more_than: 5}}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("2014-01-01", "PC 459")),
      "b": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("2014-12-01", "PC 459"))},
     {"a:0", "a:1"}),
    ("convictions_on_record", "{convictions_on_record: {more_than: 1}}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1991-01-01", "PC 459")),
      "b": person(MAN, convicted("1990-01-01", "HS 11359"), charged("1991-01-01", "PC 459"))}, {"a:0", "a:1"}),
    ("cannabis_convictions", "{cannabis_convictions: {at_least: 2}}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1991-01-01", "HS 11357")),
      "b": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1991-01-01", "PC 459"))}, {"a:0", "a:1"}),
    # combinators
    ("all", "{all: [felony, {convicted_of: [HS 11359]}]}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "HS 11359", level="M"),
                  convicted("1990-01-01", "HS 11358"))}, {"a:0"}),
    ("any", "{any: [deceased, {convicted_of: [HS 11358]}]}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "HS 11358")),
      "b": person(MAN, convicted("1990-01-01", "HS 11359"), death("2000-01-01"))}, {"a:1", "b:0"}),
    ("not", "{not: felony}",
     {"a": person(MAN, convicted("1990-01-01", "HS 11359"), convicted("1990-01-01", "HS 11359", level="M"))}, {"a:1"}),
]


@pytest.mark.parametrize(("name", "condition", "people", "expected"), CASES, ids=[c[0] for c in CASES])
def test_predicate(name, condition, people, expected):
    assert matching(condition, people) == expected


def test_every_predicate_and_combinator_is_tested():
    assert {c[0] for c in CASES} == set(PREDICATES) | set(COMBINATORS)


def test_every_predicate_is_documented_with_its_example():
    doc = (ROOT / "docs" / "policies.md").read_text()
    for name, pred in PREDICATES.items():
        assert re.search(rf"^### `{name}`", doc, re.M), f"docs/policies.md lacks a section for {name}"
        assert pred.example in doc, f"docs/policies.md lacks the example for {name}: {pred.example}"


def test_null_facts_never_satisfy_a_predicate_but_not_of_them_does():
    people = {"a": person(None, convicted(None, "HS 11359", level=None))}
    for cond in ("felony", "misdemeanor_or_infraction", "{reached_age: 21}", "{age_at_compute_at: {at_least: 0}}",
                 "{convicted_before: 2100-01-01}", "{no_conviction_within_years: 1}"):
        assert matching(cond, people) == set(), cond
    assert matching("{not: felony}", people) == {"a:0"}


def test_parameters_fill_conditions_and_reasons():
    policy = parse_policy(
        "name: p\nversion: '1'\nparameters:\n  age: {default: 55}\napplies_to: always\nrules:\n"
        "  - id: old\n    when: {age_at_compute_at: {at_least: $age}}\n"
        "    then: {determination: Eligible for Dismissal, reason: '{age} years or older ({statute})'}\n"
        "  - id: otherwise\n    then: {determination: Hand Review, reason: other}\n",
    )
    counts, persons = records({"a": person("1965-01-01", convicted("1990-01-01", "HS 11359(a)"))})
    out = determine(counts, persons, policy=policy, county="X", compute_at=AT)
    assert out["determination"].to_list() == ["Hand Review"]
    younger = policy.with_parameters(age=54)
    out = determine(counts, persons, policy=younger, county="X", compute_at=AT)
    assert out["reason"].to_list() == ["54 years or older (HS 11359(a))"]


def test_every_fact_is_documented():
    from pipelines.eligibility.facts import FACTS

    doc = (ROOT / "docs" / "policies.md").read_text()
    for name in FACTS:
        assert f"| `{name}` |" in doc, f"docs/policies.md lacks the fact {name}"
