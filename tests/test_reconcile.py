"""Count-level reconciliation, the unified history and the court-only caution, on hand-made frames."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.model import COUNT, DETERMINATION, PERSON, RECONCILED, conform
from pipelines.reconcile import (
    REASONS,
    caution_court_only,
    reconcile,
    unified_history,
    unified_people,
)

LA = "LOS ANGELES"


def doj(*rows: dict) -> pl.DataFrame:
    base = {"source": "doj", "source_file": "la.dat", "step_type": "COURT", "code": "HS", "county": LA,
            "is_conviction": True, "disposition": "convicted"}
    frame = pl.DataFrame([{**base, **r} for r in rows], infer_schema_length=None)
    return conform(frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_index")), COUNT)


def court(*rows: dict) -> pl.DataFrame:
    base = {"source": "court", "source_file": "extract.csv", "step_type": "COURT", "code": "HS", "county": LA,
            "is_conviction": True, "disposition": "convicted"}
    return conform(pl.DataFrame([{**base, **r} for r in rows], infer_schema_length=None), COUNT)


# DOJ person doj:1 is court:LA:a; court:LA:b is unknown to DOJ; doj:2 has no court records.
UNIFIED = pl.DataFrame({
    "person_id": ["doj:1", "court:LA:a", "court:LA:b", "doj:2"],
    "person_key": ["doj:1", "doj:1", "court:LA:b", "doj:2"],
})
D = date(2001, 5, 4)


def _by(frame: pl.DataFrame, column: str, value: str) -> dict:
    return frame.filter(pl.col(column) == value).row(0, named=True)


def test_every_cannabis_count_is_classified_with_evidence_and_reasons():
    d = doj(
        # same case, DOJ omits the defendant suffix, same count and date: matched
        {"count_id": "doj:1:1", "person_id": "doj:1", "case_numbers": "BA 123456", "case_number": "BA 123456",
         "count_number": 1, "section": "11359", "event_date": D},
        # DOJ conviction the court record shows dismissed: matched, "dismissed in court"
        {"count_id": "doj:1:2", "person_id": "doj:1", "case_number": "BA123456", "count_number": 2,
         "section": "11357", "subsection": "(b)", "event_date": D},
        # another county's court: DOJ only, out of county
        {"count_id": "doj:1:3", "person_id": "doj:1", "county": "ORANGE", "case_number": "12CF0001",
         "count_number": 1, "section": "11360", "event_date": D},
        # this county, case the extract lacks: DOJ only
        {"count_id": "doj:2:1", "person_id": "doj:2", "case_number": "KA000111", "count_number": 1,
         "section": "11358", "event_date": D},
        # arrests are not court cases
        {"count_id": "doj:1:9", "person_id": "doj:1", "step_type": "ARREST", "section": "11357", "event_date": D},
        # not cannabis
        {"count_id": "doj:1:8", "person_id": "doj:1", "code": "PC", "section": "459", "case_number": "BA123456",
         "count_number": 3, "event_date": D},
    )
    c = court(
        {"count_id": "c:BA123456-01:1", "person_id": "court:LA:a", "case_number": "BA123456-01", "count_number": 1,
         "section": "11359", "event_date": D},
        {"count_id": "c:BA123456-01:2", "person_id": "court:LA:a", "case_number": "BA123456-01", "count_number": 2,
         "section": "11357", "subsection": "(b)", "event_date": D, "is_conviction": False, "disposition": "dismissed"},
        # a case DOJ never saw, of a person DOJ knows
        {"count_id": "c:TA999:1", "person_id": "court:LA:a", "case_number": "TA999", "count_number": 1,
         "section": "11357", "event_date": date(1990, 1, 1)},
        # a person DOJ does not know
        {"count_id": "c:VA1:1", "person_id": "court:LA:b", "case_number": "VA1", "count_number": 1,
         "section": "11360", "event_date": date(1995, 2, 2)},
    )
    matches = pl.DataFrame({"left_id": ["doj:1"], "right_id": ["court:LA:a"], "match_probability": [0.998],
                            "match_weight": [14.2], "agreement": ["cii,name,dob"]})
    r = reconcile(d, c, UNIFIED, person_matches=matches)
    assert r.columns[: len(RECONCILED)] == list(RECONCILED)
    assert r.height == 6  # 4 court + 4 DOJ court-step cannabis counts, 2 pairs matched (one row each)

    m = _by(r, "doj_count_id", "doj:1:1")
    assert (m["classification"], m["court_count_id"], m["reason"]) == ("matched", "c:BA123456-01:1", None)
    assert m["person_key"] == "doj:1" and m["match_probability"] == 0.998 and m["match_weight"] == 14.2
    assert m["agreement"] == "cii,name,dob,case_number,count_number,section,date"

    assert _by(r, "doj_count_id", "doj:1:2")["reason"] == REASONS["dismissed"]
    assert _by(r, "doj_count_id", "doj:1:3")["reason"] == REASONS["doj_only_out_of_county"]
    assert _by(r, "doj_count_id", "doj:2:1")["reason"] == REASONS["doj_only_no_case"]
    assert _by(r, "court_count_id", "c:TA999:1")["reason"] == REASONS["court_only_case"]
    new = _by(r, "court_count_id", "c:VA1:1")
    assert (new["classification"], new["reason"], new["person_key"]) == (
        "court_only", REASONS["court_only_new_person"], "court:LA:b")
    assert "doj:1:9" not in r["doj_count_id"].to_list() and "doj:1:8" not in r["doj_count_id"].to_list()


def test_mis_keyed_sections_and_charges_in_comments_are_cannabis_counts():
    c = court(
        {"count_id": "c:1", "person_id": "court:LA:b", "case_number": "X1", "count_number": 1, "section": "11375",
         "charge_description": "POSSESS MARIJUANA", "event_date": D},
        {"count_id": "c:2", "person_id": "court:LA:b", "case_number": "X1", "count_number": 2, "section": "11375",
         "charge_description": "POSSESS CONTROLLED SUBSTANCE", "event_date": D},  # a real 11375
        {"count_id": "c:3", "person_id": "court:LA:b", "case_number": "X1", "count_number": 3, "section": None,
         "code": None, "comment_sections": ["HS 11359"], "event_date": D},
    )
    r = reconcile(doj(), c, UNIFIED)
    basis = dict(r.select("court_count_id", "cannabis_basis").iter_rows())
    assert basis == {"c:1": "miskeyed section", "c:3": "comment"}
    assert "mis-keyed" in _by(r, "court_count_id", "c:1")["notes"]
    assert _by(r, "court_count_id", "c:3")["section"] == "HS 11359"


def test_a_mis_keyed_court_count_still_matches_its_doj_count_by_case_and_count():
    d = doj({"count_id": "d:1", "person_id": "doj:1", "case_number": "BA7", "count_number": 1, "section": "11357",
             "event_date": D})
    c = court({"count_id": "c:1", "person_id": "court:LA:a", "case_number": "BA7", "count_number": 1,
               "section": "11375", "charge_description": "POSSESS MARIJUANA", "event_date": D})
    r = reconcile(d, c, UNIFIED)
    assert r.height == 1 and r["classification"][0] == "matched"
    assert "section differs" in r["notes"][0]


def test_counts_are_matched_one_to_one_best_evidence_first():
    # Two identical-looking counts on each side of one case: count numbers pair them.
    d = doj(*[{"count_id": f"d:{n}", "person_id": "doj:1", "case_number": "BA5", "count_number": n,
               "section": "11357", "event_date": D} for n in (1, 2)])
    c = court(*[{"count_id": f"c:{n}", "person_id": "court:LA:a", "case_number": "BA5", "count_number": n,
                 "section": "11357", "event_date": D} for n in (2, 1)])
    r = reconcile(d, c, UNIFIED)
    assert sorted(r.select("court_count_id", "doj_count_id").rows()) == [("c:1", "d:1"), ("c:2", "d:2")]


def test_no_case_number_needs_date_and_section_to_match():
    d = doj({"count_id": "d:1", "person_id": "doj:1", "count_number": 1, "section": "11357", "event_date": D},
            {"count_id": "d:2", "person_id": "doj:1", "count_number": 1, "section": "11358",
             "event_date": date(2005, 1, 1)})
    c = court({"count_id": "c:1", "person_id": "court:LA:a", "case_number": "BA5", "count_number": 7,
               "section": "11357", "event_date": D},
              {"count_id": "c:2", "person_id": "court:LA:a", "case_number": "BA6", "count_number": 1,
               "section": "11358", "event_date": date(2009, 1, 1)})
    r = reconcile(d, c, UNIFIED)
    assert _by(r, "doj_count_id", "d:1")["court_count_id"] == "c:1"
    assert _by(r, "doj_count_id", "d:2")["classification"] == "doj_only"


def test_results_do_not_depend_on_row_order():
    d = doj(*[{"count_id": f"d:{n}", "person_id": "doj:1", "case_number": f"BA{n}", "count_number": 1,
               "section": "11357", "event_date": D} for n in range(5)])
    c = court(*[{"count_id": f"c:{n}", "person_id": "court:LA:a", "case_number": f"BA{n}", "count_number": 1,
                 "section": "11357", "event_date": D} for n in range(3, 8)])
    a = reconcile(d, c, UNIFIED)
    b = reconcile(d.reverse(), c.sample(fraction=1.0, shuffle=True, seed=1), UNIFIED)
    assert a.equals(b)


# ---------------------------------------------------------------------------------------------
# Unified history


def _history():
    d = doj(
        {"count_id": "doj:1:1", "person_id": "doj:1", "case_number": "BA1", "count_number": 1, "section": "11357",
         "event_date": D},
        {"count_id": "doj:1:2", "person_id": "doj:1", "step_type": "ARREST", "code": "PC", "section": "187",
         "event_date": date(1999, 1, 1), "is_conviction": False},
    )
    c = court(
        # the court's copy of DOJ's case: DOJ tells it
        {"count_id": "c:BA1:1", "person_id": "court:LA:a", "case_number": "BA1", "count_number": 1,
         "section": "11357", "event_date": D},
        {"count_id": "c:BA1:2", "person_id": "court:LA:a", "case_number": "BA1", "count_number": 2, "code": "PC",
         "section": "148", "event_date": D},
        # a case DOJ never saw: a cannabis count and a super strike
        {"count_id": "c:TA9:1", "person_id": "court:LA:a", "case_number": "TA9", "count_number": 1,
         "section": "11360", "event_date": date(2003, 1, 1)},
        {"count_id": "c:TA9:2", "person_id": "court:LA:a", "case_number": "TA9", "count_number": 2, "code": "PC",
         "section": "187", "event_date": date(2003, 1, 1)},
        # a person DOJ does not know
        {"count_id": "c:VA1:1", "person_id": "court:LA:b", "case_number": "VA1", "count_number": 1,
         "section": "11357", "event_date": date(1995, 2, 2)},
        {"count_id": "c:VA1:2", "person_id": "court:LA:b", "case_number": "VA1", "count_number": 2, "code": "VC",
         "section": "23152", "event_date": date(1995, 2, 2)},
    )
    r = reconcile(d, c, UNIFIED)
    return d, c, r, unified_history(d, c, r, UNIFIED)


def test_history_uses_doj_for_known_people_plus_what_only_the_court_has():
    _, _, _, h = _history()
    rows = {r["count_id"]: r for r in h.iter_rows(named=True)}
    assert set(rows) == {"doj:1:1", "doj:1:2", "c:TA9:1", "c:TA9:2", "c:VA1:1", "c:VA1:2"}
    assert rows["c:TA9:2"]["person_id"] == "doj:1" and rows["c:TA9:2"]["is_court_only"]
    assert rows["c:TA9:2"]["history_basis"] == "doj+court"
    assert rows["doj:1:1"]["is_court_only"] is False and rows["doj:1:1"]["source_person_id"] == "doj:1"
    assert {rows[k]["history_basis"] for k in ("c:VA1:1", "c:VA1:2")} == {"court_only"}
    assert rows["c:VA1:1"]["person_id"] == "court:LA:b"
    assert h.columns[: len(COUNT)] == list(COUNT)


def test_history_can_leave_out_non_cannabis_counts_of_cases_doj_lacks():
    d, c, r, _ = _history()
    h = unified_history(d, c, r, UNIFIED, court_cases_missing_from_doj=False)
    assert "c:TA9:2" not in h["count_id"].to_list() and "c:TA9:1" in h["count_id"].to_list()


def test_unified_people_take_the_doj_record_first():
    ps = conform(pl.DataFrame({"person_id": ["doj:1", "court:LA:a", "court:LA:b"],
                               "dob": [date(1970, 1, 1), date(1970, 1, 2), date(1980, 1, 1)]}), PERSON)
    people = unified_people(ps.filter(pl.col("person_id").str.starts_with("doj")),
                            ps.filter(pl.col("person_id").str.starts_with("court")), UNIFIED)
    got = {r["person_id"]: (r["dob"], r["known_to_doj"]) for r in people.iter_rows(named=True)}
    assert got == {"doj:1": (date(1970, 1, 1), True), "court:LA:b": (date(1980, 1, 1), False)}


# ---------------------------------------------------------------------------------------------
# The court-only caution


def _determinations(history: pl.DataFrame) -> pl.DataFrame:
    rows = [
        {"count_id": "c:VA1:1", "person_id": "court:LA:b", "determination": "Eligible for Dismissal",
         "reason": "Misdemeanor or Infraction", "relief": "dismiss_and_seal", "statutory_basis": "HS 11361.8(e)-(f)",
         "explanation": "Rule 1 applied."},
        {"count_id": "c:TA9:1", "person_id": "doj:1", "determination": "Eligible for Reduction",
         "reason": "Reduce all", "relief": "redesignate_misdemeanor", "resulting_level": "M",
         "explanation": "Rule 9 applied."},
        {"count_id": "doj:1:1", "person_id": "doj:1", "determination": "Not eligible", "reason": "PC 667",
         "relief": "none", "explanation": "Rule 4 applied."},
    ]
    return conform(pl.DataFrame(rows, infer_schema_length=None), DETERMINATION)


def test_court_only_people_go_to_review_with_the_policy_outcome_kept():
    *_, h = _history()
    out = caution_court_only(_determinations(h), h)
    unknown = _by(out, "count_id", "c:VA1:1")
    assert unknown["determination"] == "Hand Review" and unknown["relief"] == "review"
    assert unknown["policy_determination"] == "Eligible for Dismissal"
    assert unknown["history_basis"] == "court_only"
    assert "not in the DOJ file" in unknown["explanation"] and "Eligible for Dismissal" in unknown["explanation"]
    known = _by(out, "count_id", "c:TA9:1")
    assert known["determination"] == "Eligible for Reduction" and known["resulting_level"] == "M"
    assert known["is_court_only"] and "court's records only" in known["explanation"]
    assert _by(out, "count_id", "doj:1:1")["determination"] == "Not eligible"


def test_flag_mode_keeps_the_outcome_but_says_why():
    *_, h = _history()
    out = caution_court_only(_determinations(h), h, mode="flag")
    unknown = _by(out, "count_id", "c:VA1:1")
    assert unknown["determination"] == "Eligible for Dismissal" and "not in the DOJ file" in unknown["explanation"]
    with pytest.raises(ValueError):
        caution_court_only(_determinations(h), h, mode="lenient")
