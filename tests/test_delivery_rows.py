"""Delivery rows: which counts reach the court, with which id, and what is reported instead."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines import model
from pipelines.delivery import ACTIONABLE_RELIEFS, assemble_delivery, build_delivery, county_code
from pipelines.delivery.sample import sample_frames
from pipelines.errors import AutoclearError

COUNTY = "LOS ANGELES"


def _assemble(f, **kw):
    kw.setdefault("county", COUNTY)
    kw.setdefault("run_id", "r1")
    return assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], **kw)


def test_every_determination_is_delivered_or_accounted_for():
    f = sample_frames(300)
    build = _assemble(f)
    assert build.rows.columns == list(model.DELIVERY_ROW)
    assert dict(build.rows.schema) == model.DELIVERY_ROW
    assert set(build.rows.get_column("relief")) <= set(ACTIONABLE_RELIEFS)
    assert set(build.not_actionable.get_column("relief")) <= {"review", "none"}
    assert build.rows.height + build.not_actionable.height + build.undeliverable.height == 300
    assert build.needs_case_number.height > 0
    # counts without a case number are listed with where they came from, never silently dropped
    no_case = f["counts"].filter(pl.col("case_number").is_null()).get_column("count_id")
    assert set(build.needs_case_number.get_column("count_id")) == set(no_case)
    assert build.needs_case_number.get_column("source_line").null_count() == 0
    assert "defendant_name" not in build.undeliverable.columns and "dob" not in build.undeliverable.columns
    # every row is complete enough for a court
    for col in ("delivery_id", "court_case_number", "count_number", "statute_as_convicted", "conviction_date",
                "defendant_name", "relief", "source", "count_id"):
        assert build.rows.get_column(col).null_count() == 0, col
    assert build.rows.get_column("delivery_id").is_unique().all()
    assert set(build.rows.get_column("action")) == {"new"}
    assert set(build.rows.get_column("source")) == {"doj", "court", "both"}
    assert build_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county=COUNTY,
                          run_id="r1").equals(build.rows)


def test_delivery_id_is_stable_across_runs_and_row_order():
    f = sample_frames(200)
    a = _assemble(f, run_id="first")
    shuffled = {k: v.sample(fraction=1.0, shuffle=True, seed=3) for k, v in f.items()}
    b = _assemble(shuffled, run_id="second")
    assert a.rows.drop("run_id").equals(b.rows.drop("run_id"))
    row = a.rows.row(0, named=True)
    assert row["delivery_id"] == f"19-{row['court_case_number']}-{row['count_number']:03d}"
    assert county_code("Los Angeles") == "19" and county_code("san_francisco") == "38"
    assert county_code("ALAMEDA COUNTY") == "01" and county_code("Synthetic Test") == "SYNTHETIC_TEST"


def _one_count(**over):
    counts = model.conform(pl.DataFrame([{
        "count_id": "doj:1:001001001000", "person_id": "doj:1", "case_id": "c1", "county": COUNTY,
        "case_number": "ba336486", "count_number": 1, "event_date": date(2001, 5, 4), "code": "HS",
        "section": "11359", "subsection": "(b)", "level": "F", "source": "doj", "source_file": "doj.dat",
        "source_line": 7, **over.pop("count", {}),
    }]), model.COUNT)
    persons = model.conform(pl.DataFrame([{
        "person_id": "doj:1", "last_name": "DOE", "first_name": "JANE", "middle_name": "Q", "dob": date(1970, 1, 2),
        "cii": "012345678",
    }]), model.PERSON)
    det = model.conform(pl.DataFrame([{
        "count_id": "doj:1:001001001000", "person_id": "doj:1", "case_id": "c1", "county": COUNTY,
        "determination": "Eligible for Reduction", "relief": "redesignate_misdemeanor",
        "resulting_section": "HS 11359(b)", "resulting_level": "M", "statutory_basis": "HS 11361.8(f)",
        **over.pop("det", {}),
    }]), model.DETERMINATION)
    return det, counts, persons


def test_row_fields_are_what_the_court_needs():
    det, counts, persons = _one_count()
    row = build_delivery(det, counts, persons, None, county=COUNTY, run_id="r").row(0, named=True)
    assert row["delivery_id"] == "19-BA336486-001"
    assert row["court_case_number"] == "BA336486"
    assert row["statute_as_convicted"] == "HS 11359(b)" and row["level_as_convicted"] == "F"
    assert row["defendant_name"] == "DOE, JANE Q" and row["dob"] == date(1970, 1, 2)
    assert row["conviction_date"] == date(2001, 5, 4) and row["cii"] == "012345678"
    assert row["source"] == "doj" and row["da_challenged"] is False and row["run_id"] == "r"


def test_matched_partner_supplies_a_missing_case_number_and_source_both():
    det, counts, persons = _one_count(count={"case_number": None})
    court = model.conform(pl.DataFrame([{
        "count_id": "court:LOS ANGELES:BA336486:2", "person_id": "court:P1", "case_id": "court:BA336486",
        "county": COUNTY, "case_number": "BA336486", "count_number": 2, "source": "court", "courthouse": "Airport",
    }]), model.COUNT).with_columns(pl.lit("Airport").alias("courthouse"))
    counts = pl.concat([counts.with_columns(pl.lit(None, pl.String).alias("courthouse")), court])
    reconciled = model.conform(pl.DataFrame([{
        "doj_count_id": "doj:1:001001001000", "court_count_id": "court:LOS ANGELES:BA336486:2",
        "classification": "matched",
    }]), model.RECONCILED)
    build = assemble_delivery(det, counts, persons, reconciled, county=COUNTY, run_id="r")
    row = build.rows.row(0, named=True)
    assert (row["delivery_id"], row["source"], row["courthouse"]) == ("19-BA336486-002", "both", "Airport")
    assert build.undeliverable.height == 0


def test_both_sides_determined_fold_into_one_row_or_conflict():
    det, counts, persons = _one_count()
    court_count = counts.with_columns(pl.lit("court:LA:BA336486:1").alias("count_id"), pl.lit("court").alias("source"))
    court_det = det.with_columns(pl.lit("court:LA:BA336486:1").alias("count_id"))
    reconciled = model.conform(pl.DataFrame([{"doj_count_id": "doj:1:001001001000",
                                              "court_count_id": "court:LA:BA336486:1",
                                              "classification": "matched"}]), model.RECONCILED)
    agree = assemble_delivery(pl.concat([det, court_det]), pl.concat([counts, court_count]), persons, reconciled,
                              county=COUNTY, run_id="r")
    assert agree.rows.height == 1 and agree.rows.row(0, named=True)["count_id"] == "doj:1:001001001000"
    assert agree.rows.row(0, named=True)["source"] == "both"
    disagree = assemble_delivery(
        pl.concat([det, court_det.with_columns(pl.lit("dismiss_and_seal").alias("relief"))]),
        pl.concat([counts, court_count]), persons, reconciled, county=COUNTY, run_id="r",
    )
    assert disagree.rows.height == 0
    assert set(disagree.undeliverable.get_column("reason")) == {"conflicting_determinations"}
    assert disagree.undeliverable.height == 2


def test_other_county_and_missing_count_number_are_undeliverable():
    det, counts, persons = _one_count(count={"county": "ORANGE"})
    build = assemble_delivery(det, counts, persons, None, county=COUNTY, run_id="r")
    assert build.rows.height == 0
    assert build.undeliverable.select("reason", "county").row(0) == ("other_county", "ORANGE")
    det, counts, persons = _one_count(count={"count_number": None})
    build = assemble_delivery(det, counts, persons, None, county=COUNTY, run_id="r")
    assert build.needs_case_number.get_column("reason").to_list() == ["no_count_number"]


def test_da_challenges_are_flagged_by_count_or_case_and_count():
    det, counts, persons = _one_count()
    by_id = build_delivery(det, counts, persons, None, county=COUNTY, run_id="r",
                           da_challenges=pl.DataFrame({"count_id": ["doj:1:001001001000"]}))
    assert by_id.get_column("da_challenged").to_list() == [True]
    by_case = build_delivery(det, counts, persons, None, county=COUNTY, run_id="r",
                             da_challenges=pl.DataFrame({"court_case_number": ["ba336486"], "count_number": [1]}))
    assert by_case.get_column("da_challenged").to_list() == [True]
    other = build_delivery(det, counts, persons, None, county=COUNTY, run_id="r",
                           da_challenges=pl.DataFrame({"delivery_id": ["19-XX-001"]}))
    assert other.get_column("da_challenged").to_list() == [False]
    with pytest.raises(AutoclearError, match="DA challenges need"):
        build_delivery(det, counts, persons, None, county=COUNTY, run_id="r",
                       da_challenges=pl.DataFrame({"name": ["x"]}))


def test_bad_inputs_are_refused_clearly():
    det, counts, persons = _one_count()
    with pytest.raises(AutoclearError, match="more than once"):
        build_delivery(pl.concat([det, det]), counts, persons, None, county=COUNTY, run_id="r")
    with pytest.raises(AutoclearError, match="not in the counts frame"):
        build_delivery(det, counts.clear(), persons, None, county=COUNTY, run_id="r")
    # county from the determinations when there is only one
    assert build_delivery(det, counts, persons, None, run_id="r").height == 1


def test_a_matched_count_takes_the_courts_numbering_and_dashes_do_not_split_ids():
    det, counts, persons = _one_count(count={"case_number": "BA-336486"})
    court = model.conform(pl.DataFrame([{
        "count_id": "court:LOS ANGELES:BA336486:2", "person_id": "court:P1", "case_id": "court:BA336486",
        "county": COUNTY, "case_number": "BA336486", "count_number": 2, "source": "court",
    }]), model.COUNT)
    reconciled = model.conform(pl.DataFrame([{
        "doj_count_id": "doj:1:001001001000", "court_count_id": "court:LOS ANGELES:BA336486:2",
        "classification": "matched",
    }]), model.RECONCILED)
    row = build_delivery(det, pl.concat([counts, court]), persons, reconciled, county=COUNTY, run_id="r").row(
        0, named=True)
    assert (row["delivery_id"], row["court_case_number"], row["count_number"]) == ("19-BA336486-002", "BA336486", 2)
    assert row["count_id"] == "doj:1:001001001000"  # lineage stays with the decided count
    alone = build_delivery(det, counts, persons, None, county=COUNTY, run_id="r").row(0, named=True)
    assert alone["delivery_id"] == "19-BA336486-001"  # DOJ's "BA-336486" normalized


def test_different_people_on_one_case_and_count_are_reported_not_merged():
    det, counts, persons = _one_count()
    other_det = det.with_columns(pl.lit("doj:2:001001001000").alias("count_id"), pl.lit("doj:2").alias("person_id"))
    other_count = counts.with_columns(pl.lit("doj:2:001001001000").alias("count_id"), pl.lit("doj:2").alias("person_id"))
    build = assemble_delivery(pl.concat([det, other_det]), pl.concat([counts, other_count]), persons, None,
                              county=COUNTY, run_id="r")
    assert build.rows.height == 0
    assert build.undeliverable.get_column("reason").to_list() == ["shared_court_count"] * 2
    # the same person's count in two DOJ steps folds into one row
    same = other_det.with_columns(pl.lit("doj:1").alias("person_id"))
    same_count = other_count.with_columns(pl.lit("doj:1").alias("person_id"))
    build = assemble_delivery(pl.concat([det, same]), pl.concat([counts, same_count]), persons, None,
                              county=COUNTY, run_id="r")
    assert build.rows.height == 1 and build.undeliverable.height == 0
