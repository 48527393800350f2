"""The Splink model: comparisons, blocking rules and training, as data.

The whole model is one Splink settings dictionary (`splink_settings`), saved as JSON with every
run, so a reviewer reads exactly what was compared and how much each agreement weighed. Levels are
plain SQL over the columns `prepare.prepare_persons` derives; they run in DuckDB.

Comparisons (most specific level first; Splink uses the first level that applies):

- name: exact full name (term-frequency adjusted) / same surname (any form of a compound surname)
  and same first name / same surname and nickname / first and last swapped / same surname and
  similar first name or initial / similar surname (typo) and same first name or nickname / both
  similar or swapped-similar / same surname only / same first name only / different.
- date of birth: exact / day and month transposed / one keystroke apart / same year and month /
  same day and month in another year / different.
- identifiers (CII, SSN, driver's licence): CII equal / SSN or licence equal / one keystroke apart
  / all present ones different.
- court case: the two records share a (county, case number) / they have cases but none shared.
- middle name: same / same initial / different.  - gender: same / different.

Blocking rules (which pairs are scored at all) are equi-joins only (cheap at a million records a
side), chosen so that a record lacking a date of birth and identifiers is still compared: by case
key, by full name in either order, by surname with any nickname form of the first name, and by any
surname token with the first name.
"""

from __future__ import annotations

import re
from typing import Any

# Reusable SQL fragments (l = left record, r = right record).
LAST_AGREE = (
    "(l.last_name_flat = r.last_name_flat OR list_has_any(l.last_name_tokens, r.last_name_tokens))"
)
FIRST_SAME = "(l.first_name = r.first_name OR l.first_token = r.first_token)"
FIRST_NICK = (
    "(list_contains(l.first_name_groups, r.first_token) OR list_contains(r.first_name_groups, l.first_token))"
)
FIRST_SIMILAR = (
    "(jaro_winkler_similarity(l.first_name, r.first_name) >= 0.88 OR "
    "((length(l.first_name) = 1 OR length(r.first_name) = 1) AND left(l.first_name, 1) = left(r.first_name, 1)))"
)
LAST_SIMILAR = "(jaro_winkler_similarity(l.last_name_flat, r.last_name_flat) >= 0.9)"
SWAPPED = (
    "(list_contains(r.last_name_tokens, l.first_token) AND list_contains(l.last_name_tokens, r.first_token))"
)
SWAPPED_SIMILAR = (
    "(jaro_winkler_similarity(l.first_name, r.last_name_flat) >= 0.9 AND "
    "jaro_winkler_similarity(l.last_name_flat, r.first_name) >= 0.9)"
)
NAME_NULL = "(l.last_name IS NULL OR r.last_name IS NULL OR l.first_name IS NULL OR r.first_name IS NULL)"

ID_COLUMNS = ("cii", "ssn", "cdl")


def _columns(sql: str) -> str:
    """Comparison levels name the two records' columns `x_l` / `x_r` (blocking rules use l.x / r.x)."""
    return re.sub(r"\b([lr])\.(\w+)", r'"\2_\1"', sql)


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": _columns(sql), "label_for_charts": label, **extra}


def name_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "name",
        "comparison_description": "First and last name: swap-aware, compound surnames, nicknames",
        "comparison_levels": [
            _level(NAME_NULL, "null", is_null_level=True),
            _level("l.full_name = r.full_name", "exact", tf_adjustment_column="full_name"),
            _level(f"{LAST_AGREE} AND {FIRST_SAME}", "surname and first name",
                   tf_adjustment_column="last_name_flat"),
            _level(f"{LAST_AGREE} AND {FIRST_NICK}", "surname and nickname", tf_adjustment_column="last_name_flat"),
            _level(SWAPPED, "first and last swapped"),
            _level(f"{LAST_AGREE} AND {FIRST_SIMILAR}", "surname, similar first name or initial"),
            _level(f"{LAST_SIMILAR} AND ({FIRST_SAME} OR {FIRST_NICK})", "similar surname, first name"),
            _level(f"({LAST_SIMILAR} AND {FIRST_SIMILAR}) OR {SWAPPED_SIMILAR}", "both similar"),
            # Exact on one column, so Splink can scale the surname levels above by surname frequency.
            _level("l.last_name_flat = r.last_name_flat", "surname only", tf_adjustment_column="last_name_flat"),
            _level(LAST_AGREE, "surname token only"),
            _level(f"{FIRST_SAME} OR {FIRST_NICK}", "first name only"),
            _level("ELSE", "different"),
        ],
    }


def dob_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "dob",
        "comparison_description": "Date of birth: exact, transposed day/month, partial agreement",
        "comparison_levels": [
            _level("l.dob IS NULL OR r.dob IS NULL", "null", is_null_level=True),
            _level("l.dob = r.dob", "exact"),
            _level("l.dob_key = r.dob_key", "day and month transposed"),
            _level("damerau_levenshtein(l.dob_str, r.dob_str) <= 1", "one keystroke"),
            _level("left(l.dob_str, 6) = left(r.dob_str, 6)", "same year and month"),
            _level("right(l.dob_str, 4) = right(r.dob_str, 4)", "same day and month"),
            _level("ELSE", "different"),
        ],
    }


def ids_comparison() -> dict[str, Any]:
    both = " OR ".join(f"(l.{c} IS NOT NULL AND r.{c} IS NOT NULL)" for c in ID_COLUMNS)
    near = " OR ".join(f"damerau_levenshtein(l.{c}, r.{c}) <= 1" for c in ("cii", "ssn"))
    return {
        "output_column_name": "ids",
        "comparison_description": "State id (CII), SSN, driver's licence",
        "comparison_levels": [
            _level(f"NOT ({both})", "null", is_null_level=True),
            _level("l.cii = r.cii", "CII equal"),
            _level("l.ssn = r.ssn OR l.cdl = r.cdl", "SSN or licence equal"),
            _level(near, "one keystroke"),
            _level("ELSE", "different"),
        ],
    }


def case_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "case",
        "comparison_description": "A shared (county, court case number); co-defendants share the number"
        " but not the defendant suffix",
        "comparison_levels": [
            _level("l.case_keys IS NULL OR r.case_keys IS NULL", "null", is_null_level=True),
            _level("list_has_any(l.case_keys_full, r.case_keys_full)", "shared case"),
            _level("list_has_any(l.case_keys_unsuffixed, r.case_keys) OR list_has_any(r.case_keys_unsuffixed, l.case_keys)",
                   "shared case, suffix on one side"),
            _level("list_has_any(l.case_keys, r.case_keys)", "co-defendants (other suffix)"),
            _level("ELSE", "no shared case"),
        ],
    }


def middle_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "middle",
        "comparison_description": "Middle name or initial",
        "comparison_levels": [
            _level("l.middle_name IS NULL OR r.middle_name IS NULL", "null", is_null_level=True),
            _level("l.middle_name = r.middle_name AND length(l.middle_name) > 1", "exact"),
            _level("l.middle_initial = r.middle_initial", "initial"),
            _level("ELSE", "different"),
        ],
    }


def gender_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "gender",
        "comparison_description": "Gender",
        "comparison_levels": [
            _level("l.gender IS NULL OR r.gender IS NULL", "null", is_null_level=True),
            _level("l.gender = r.gender", "exact"),
            _level("ELSE", "different"),
        ],
    }


def blocking_rules() -> list[dict[str, Any]]:
    """Pairs scored by Splink: any of these holds."""
    rules: list[dict[str, Any]] = [{"blocking_rule": f"l.{c} = r.{c}"} for c in ID_COLUMNS]
    rules += [
        {"blocking_rule": "l.case_keys = r.case_keys", "arrays_to_explode": ["case_keys"]},
        # Date of birth (or its day/month transposition) and one name exactly, in either order.
        {"blocking_rule": "l.dob_key = r.dob_key AND l.last_name_flat = r.last_name_flat"},
        {"blocking_rule": "l.dob_key = r.dob_key AND l.first_token = r.first_token"},
        {"blocking_rule": "l.dob_key = r.dob_key AND l.first_token = r.last_name_flat"},
        {"blocking_rule": "l.dob_key = r.dob_key AND l.last_name_flat = r.first_token"},
        # Date of birth and both initials (typos in both names), or any token of a compound
        # surname (GARCIA LOPEZ ~ LOPEZ, whatever the first name).
        {"blocking_rule": "l.dob_key = r.dob_key AND l.initials_key = r.initials_key"},
        {"blocking_rule": "l.dob_key = r.dob_key AND l.last_name_tokens = r.last_name_tokens",
         "arrays_to_explode": ["last_name_tokens"]},
        # The full name in either order and part of the date of birth (a typo in the rest); the
        # surname and a nickname form of the first name with the birth year (DOJ's second record of
        # a person: a variant of the name, a birth date a day off).
        {"blocking_rule": "l.name_key = r.name_key AND l.dob_year = r.dob_year"},
        {"blocking_rule": "l.name_key = r.name_key AND l.dob_md = r.dob_md"},
        {"blocking_rule": "l.last_name_flat = r.last_name_flat AND l.first_name_groups = r.first_name_groups"
                          " AND l.dob_year = r.dob_year",
         "arrays_to_explode": ["first_name_groups"]},
        # A record without a date of birth: its full name in either order, its surname with any
        # nickname form of its first name, or any token of a compound surname with its first name.
        *[
            rule
            for a, b in (("l", "r"), ("r", "l"))
            for rule in (
                {"blocking_rule": f"{a}.name_key_nodob = {b}.name_key"},
                {"blocking_rule": f"{a}.last_name_flat_nodob = {b}.last_name_flat AND "
                                  f"{a}.first_name_groups = {b}.first_name_groups",
                 "arrays_to_explode": ["first_name_groups"]},
                {"blocking_rule": f"{a}.first_token_nodob = {b}.first_token AND "
                                  f"{a}.last_name_tokens = {b}.last_name_tokens",
                 "arrays_to_explode": ["last_name_tokens"]},
            )
        ],
    ]
    return rules


# Training: EM on pairs blocked by date of birth learns how names, identifiers and cases behave for
# matches; EM on pairs blocked by name learns the date of birth.
EM_BLOCKS = (
    "l.dob = r.dob",
    "l.last_name_flat = r.last_name_flat AND l.first_name = r.first_name",
)
# Rules that admit (almost) no false positives, for the prior.
PRIOR_RULES = ("l.cii = r.cii", "l.ssn = r.ssn")


def splink_settings(link_type: str, *, max_iterations: int = 25) -> dict[str, Any]:
    """The Splink settings dictionary for `link_type` ("link_only" or "dedupe_only")."""
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "comparisons": [
            name_comparison(), dob_comparison(), ids_comparison(), case_comparison(),
            middle_comparison(), gender_comparison(),
        ],
        "blocking_rules_to_generate_predictions": blocking_rules(),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
        "max_iterations": max_iterations,
        "em_convergence": 0.0001,
    }


COMPARISONS = ("name", "dob", "ids", "case", "middle", "gender")

# Pairs that share an identifier or a case: scored for evidence even when the deterministic pass
# already linked the record.
ID_BLOCKING_RULES = [r for r in blocking_rules() if "case_keys" in r["blocking_rule"] or any(
    r["blocking_rule"] == f"l.{c} = r.{c}" for c in ID_COLUMNS)]

# Which comparison levels count as a field agreeing (for the `agreement` column).
AGREEMENT: dict[tuple[str, str], str] = {
    **{("name", lab): "name" for lab in (
        "exact", "surname and first name", "surname and nickname", "first and last swapped",
        "surname, similar first name or initial", "similar surname, first name", "both similar")},
    ("name", "surname only"): "surname",
    ("name", "surname token only"): "surname",
    ("name", "first name only"): "first_name",
    ("dob", "exact"): "dob",
    ("dob", "day and month transposed"): "dob",
    ("dob", "one keystroke"): "dob_partial",
    ("dob", "same year and month"): "dob_partial",
    ("dob", "same day and month"): "dob_partial",
    ("ids", "CII equal"): "cii",
    ("ids", "SSN or licence equal"): "ssn_or_cdl",
    ("ids", "one keystroke"): "id_partial",
    ("case", "shared case"): "case_number",
    ("case", "shared case, suffix on one side"): "case_number",
    ("middle", "exact"): "middle_name",
    ("middle", "initial"): "middle_name",
    ("gender", "exact"): "gender",
}


def level_labels() -> dict[str, dict[int, str]]:
    """comparison -> {comparison vector value (Splink's gamma) -> level label}.

    Splink numbers a comparison's levels from the last (0, the ELSE level) upwards; the null level
    is -1.
    """
    out: dict[str, dict[int, str]] = {}
    for comp in splink_settings("link_only")["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        out[comp["output_column_name"]] = {len(levels) - 1 - i: lv["label_for_charts"] for i, lv in enumerate(levels)}
    return out


def remove_matches_from_u(model: dict[str, Any], sampled_pairs: float) -> dict[str, Any]:
    """u probabilities corrected for the true matches inside Splink's random sample.

    Splink estimates u (how often a level occurs among non-matching pairs) from random pairs,
    assuming none of them match. In a county-sized frame a random sample does contain matches (a
    share equal to the prior, lambda), and for rare levels such as "CII equal" they are most of
    what is observed, which makes an equal CII look far less telling than it is. With the trained
    m: observed u = lambda * m + (1 - lambda) * u, so u = (observed - lambda * m) / (1 - lambda),
    floored at a tenth of one sampled pair (and never raised), then renormalized to sum to 1.
    """
    lam = float(model.get("probability_two_random_records_match") or 0.0)
    floor = 0.1 / max(sampled_pairs, 1.0)
    out = dict(model)
    comparisons = []
    for comp in model["comparisons"]:
        comp = dict(comp)
        levels = [dict(lv) for lv in comp["comparison_levels"]]
        scored = [lv for lv in levels if not lv.get("is_null_level") and lv.get("u_probability") is not None]
        for lv in scored:
            observed, m = lv["u_probability"], lv.get("m_probability") or 0.0
            corrected = (observed - lam * m) / (1.0 - lam) if lam < 1 else observed
            lv["u_probability"] = min(observed, max(corrected, floor))
        total = sum(lv["u_probability"] for lv in scored)
        if total > 0:
            for lv in scored:
                lv["u_probability"] = lv["u_probability"] / total
        comp["comparison_levels"] = levels
        comparisons.append(comp)
    out["comparisons"] = comparisons
    return out


M_FLOOR = 1e-3


def floor_m(model: dict[str, Any], floor: float = M_FLOOR) -> dict[str, Any]:
    """m probabilities floored at `floor` (then renormalized): no disagreement is impossible for a
    true match. EM drives the m of a level no match shows in the training data (synthetic data
    never miscodes gender) towards zero, which would let one keying error veto an otherwise certain
    link; real records do miscode gender, mistype ids and shift dates."""
    out = dict(model)
    comparisons = []
    for comp in model["comparisons"]:
        comp = dict(comp)
        levels = [dict(lv) for lv in comp["comparison_levels"]]
        scored = [lv for lv in levels if not lv.get("is_null_level") and lv.get("m_probability") is not None]
        for lv in scored:
            lv["m_probability"] = max(lv["m_probability"], floor)
        total = sum(lv["m_probability"] for lv in scored)
        if total > 0:
            for lv in scored:
                lv["m_probability"] = lv["m_probability"] / total
        comp["comparison_levels"] = levels
        comparisons.append(comp)
    out["comparisons"] = comparisons
    return out
