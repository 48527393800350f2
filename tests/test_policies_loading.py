"""Loading a policy: validation with file and line for every kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipelines.eligibility import available_policies, load_policy, parse_policy
from pipelines.errors import ConfigError

GOOD = """\
name: demo
version: "1"
parameters:
  age:
    default: 50
rules:
  - id: misdemeanor
    when: misdemeanor_or_infraction
    then: {determination: Eligible for Dismissal, reason: Misdemeanor}
  - id: old
    when:
      age_at_compute_at: {at_least: $age}
    then: {determination: Eligible for Dismissal, reason: "{age} years or older"}
  - id: otherwise
    when: always
    then: {determination: Hand Review, reason: Other}
"""


def error_of(text: str, tmp_path: Path) -> str:
    path = tmp_path / "county.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    return str(info.value)


def replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def test_good_policy_loads(tmp_path):
    path = tmp_path / "county.yaml"
    path.write_text(GOOD)
    p = load_policy(path)
    assert [r.id for r in p.rules] == ["misdemeanor", "old", "otherwise"]
    assert p.rules[1].reason == "50 years or older" and p.parameters == {"age": 50}
    assert [r.line for r in p.rules] == [7, 10, 14]


def test_unknown_predicate_names_file_line_and_suggests(tmp_path):
    msg = error_of(replace("when: misdemeanor_or_infraction", "when: misdemeanor_or_infractions"), tmp_path)
    assert "county.yaml, line 8" in msg and "unknown predicate 'misdemeanor_or_infractions'" in msg
    assert "did you mean 'misdemeanor_or_infraction'" in msg


def test_unknown_predicate_deep_in_a_tree_points_at_its_line(tmp_path):
    msg = error_of(replace("      age_at_compute_at: {at_least: $age}",
                           "      all:\n        - felony\n        - any: [deceased, felonyy]"), tmp_path)
    assert "line 14" in msg and "'felonyy'" in msg


def test_wrong_parameter_type(tmp_path):
    msg = error_of(replace("{at_least: $age}", "{at_least: fifty}"), tmp_path)
    assert "county.yaml, line 12" in msg and "age_at_compute_at" in msg and "fifty" in msg


def test_wrong_parameter_name_and_missing_bound(tmp_path):
    assert "at_lest" in error_of(replace("{at_least: $age}", "{at_lest: 5}"), tmp_path)
    assert "give at least one of" in error_of(replace("{at_least: $age}", "{}"), tmp_path)


def test_bad_statute_in_convicted_of(tmp_path):
    msg = error_of(replace("when: misdemeanor_or_infraction", "when: {convicted_of: [eleven thousand]}"), tmp_path)
    assert "line 8" in msg and "not a statute reference" in msg


def test_predicate_without_parameters_given_some(tmp_path):
    msg = error_of(replace("when: misdemeanor_or_infraction", "when: {felony: 3}"), tmp_path)
    assert "line 8" in msg and "takes no parameters" in msg


def test_unknown_parameter_reference(tmp_path):
    msg = error_of(replace("{at_least: $age}", "{at_least: $years}"), tmp_path)
    assert "line 12" in msg and "unknown parameter '$years'" in msg and "age" in msg


def test_unknown_reason_placeholder(tmp_path):
    msg = error_of(replace('"{age} years or older"', '"{agee} years or older"'), tmp_path)
    assert "line 13" in msg and "{agee}" in msg


def test_rule_after_unconditional_rule_is_unreachable(tmp_path):
    text = GOOD + "  - id: deceased\n    when: deceased\n    then: {determination: Eligible for Dismissal, reason: D}\n"
    msg = error_of(text, tmp_path)
    assert "line 17" in msg and "'deceased' can never apply" in msg and "'otherwise' (line 14)" in msg


def test_rule_with_same_or_narrower_condition_is_unreachable(tmp_path):
    same = replace("  - id: otherwise", "  - id: old_again\n    when: {age_at_compute_at: {at_least: 50}}\n"
                   "    then: {determination: Hand Review, reason: x}\n  - id: otherwise")
    msg = error_of(same, tmp_path)
    assert "line 14" in msg and "'old_again' can never apply" in msg and "rule 'old' (line 10)" in msg
    narrower = replace("  - id: otherwise", "  - id: misdemeanor_dead\n    when: {all: [deceased, misdemeanor_or_infraction]}\n"
                       "    then: {determination: Hand Review, reason: x}\n  - id: otherwise")
    assert "already decided by rule 'misdemeanor' (line 7)" in error_of(narrower, tmp_path)


def test_contradiction_is_unreachable(tmp_path):
    msg = error_of(replace("when: misdemeanor_or_infraction", "when: {all: [deceased, {not: deceased}]}"), tmp_path)
    assert "line 7" in msg and "contradicts itself" in msg


def test_duplicate_rule_id(tmp_path):
    msg = error_of(replace("  - id: old\n", "  - id: misdemeanor\n"), tmp_path)
    assert "line 10" in msg and "used twice (first at line 7)" in msg


def test_missing_final_catch_all(tmp_path):
    text = GOOD.split("  - id: otherwise")[0]
    msg = error_of(text, tmp_path)
    assert "line 10" in msg and "must apply to every conviction" in msg


def test_bad_determination_and_unknown_key(tmp_path):
    msg = error_of(replace("determination: Hand Review", "determination: Review"), tmp_path)
    assert "line 16" in msg and "rule 3 (otherwise): then.determination" in msg
    msg = error_of(replace("    when: always\n", "    when: always\n    whenn: x\n"), tmp_path)
    assert "line 16" in msg and "whenn" in msg


def test_yaml_syntax_error_and_duplicate_key(tmp_path):
    assert "line" in error_of(GOOD + "  - id: [unclosed\n", tmp_path)
    msg = error_of(replace('version: "1"\n', 'version: "1"\nversion: "2"\n'), tmp_path)
    assert "line 3" in msg and "appears twice" in msg


def test_parameter_overrides_are_checked(tmp_path):
    path = tmp_path / "county.yaml"
    path.write_text(GOOD)
    assert load_policy(path, parameters={"age": 60}).rules[1].reason == "60 years or older"
    with pytest.raises(ConfigError, match="unknown parameter 'years'"):
        load_policy(path, parameters={"years": 3})
    with pytest.raises(ConfigError, match="must be int"):
        load_policy(path, parameters={"age": "sixty"})


def test_unknown_policy_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError) as info:
        load_policy("atlantis")
    assert "los_angeles" in str(info.value)


def test_every_shipped_policy_loads_and_ends_with_a_catch_all():
    assert set(available_policies()) >= {"statute", "configurable", "los_angeles", "san_joaquin",
                                         "contra_costa", "sacramento"}
    for name in available_policies():
        p = load_policy(name)
        assert p.rules[-1].condition.predicate.name == "always", name
        assert p.description and p.version, name


def test_parse_policy_names_its_source():
    with pytest.raises(ConfigError, match=r"^inline, line 1"):
        parse_policy("name: [", source="inline")
