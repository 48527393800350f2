"""Eligibility facts over a person's whole record (pipelines.eligibility.facts)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.eligibility.examples import charged, convicted, death, person, records, registration
from pipelines.eligibility.facts import FACTS, conviction_facts

AT = date(2019, 11, 11)


def facts_of(people, county="LOS ANGELES", at=AT) -> dict[str, dict]:
    counts, persons = records(people)
    out = conviction_facts(counts, persons, county=county, compute_at=at)
    return {row["count_id"]: row for row in out.iter_rows(named=True)}


def test_one_row_per_conviction_with_every_fact_in_order():
    counts, persons = records({
        "a": person("1960-01-01", charged("1980-01-01", "HS 11357"), convicted("1980-02-01", "HS 11357(b)")),
        "b": person("1970-01-01", convicted("1990-01-01", "PC 459"), death("2000-01-01")),
    })
    out = conviction_facts(counts, persons, county="LOS ANGELES", compute_at=AT)
    assert out.columns == list(FACTS)
    assert out["count_id"].to_list() == ["ex:a:1", "ex:b:0"]


def test_conviction_facts_section_level_dates_and_ages():
    f = facts_of({"a": person("1960-03-14", convicted("1981-04-11", "HS 11357(c)", level="M"))})["ex:a:0"]
    assert (f["statute"], f["section"], f["subsection"], f["cannabis_section"]) == ("HS 11357(c)", "11357", "(c)", "11357")
    assert f["is_cannabis"] and not f["is_felony"] and f["in_county"]
    assert f["conviction_date"] == date(1981, 4, 11) and not f["convicted_on_or_after_prop64"]
    assert f["age_at_conviction"] == pytest.approx((date(1981, 4, 11) - date(1960, 3, 14)).days / 365.25)
    assert f["age_at_compute_at"] == pytest.approx((AT - date(1960, 3, 14)).days / 365.25)
    assert f["years_since_conviction"] == pytest.approx((AT - date(1981, 4, 11)).days / 365.25)


def test_prop64_boundary_day_is_on_or_after():
    f = facts_of({"a": person("1960-01-01", convicted("2016-11-09", "HS 11359"), convicted("2016-11-08", "HS 11359"))})
    assert f["ex:a:0"]["convicted_on_or_after_prop64"] and not f["ex:a:1"]["convicted_on_or_after_prop64"]


def test_county_is_compared_without_case_or_spaces():
    f = facts_of({"a": person("1960-01-01", convicted("1990-01-01", "HS 11359", county=" los angeles "),
                              convicted("1990-01-01", "HS 11359", county="YOLO"))})
    assert f["ex:a:0"]["in_county"] and not f["ex:a:1"]["in_county"]


def test_record_counts_span_every_county_and_offense():
    f = facts_of({"a": person(
        "1960-01-01",
        convicted("1980-01-01", "HS 11357(a)"), convicted("1981-01-01", "HS 11358", county="YOLO"),
        convicted("1982-01-01", "HS 11359"), convicted("1983-01-01", "HS 11360(a)"),
        convicted("1995-06-30", "PC 459"), charged("2018-01-01", "PC 459"),
    )})["ex:a:0"]
    assert f["convictions_on_record"] == 5 and f["cannabis_convictions"] == 4
    assert [f[f"cannabis_{s}_convictions"] for s in ("11357", "11358", "11359", "11360")] == [1, 1, 1, 1]
    assert not f["only_cannabis_convictions"]
    assert f["last_conviction_date"] == date(1995, 6, 30)  # the arrest in 2018 is not a conviction
    assert f["years_since_last_conviction"] == pytest.approx((AT - date(1995, 6, 30)).days / 365.25)


def test_only_cannabis_convictions():
    f = facts_of({"a": person("1960-01-01", convicted("1980-01-01", "HS 11357"), charged("1980-01-01", "PC 148"))})
    assert f["ex:a:0"]["only_cannabis_convictions"]


def test_prior_same_section_counts_strictly_earlier_dates_only():
    f = facts_of({"a": person(
        "1960-01-01",
        convicted("1980-01-01", "HS 11359"), convicted("1981-01-01", "HS 11359(a)"),
        convicted("1982-01-01", "HS 11359"), convicted("1982-01-01", "HS 11359"),
        convicted("1979-01-01", "HS 11358"),
    )})
    assert [f[f"ex:a:{i}"]["prior_same_section_convictions"] for i in range(5)] == [0, 1, 2, 2, 0]


def test_superstrike_only_counts_when_strictly_before():
    f = facts_of({"a": person("1960-01-01",
                              convicted("1998-05-04", "HS 11358"), convicted("1998-05-04", "PC 220"),
                              convicted("2015-10-31", "HS 11359"))})
    assert f["ex:a:0"]["superstrikes_on_record"] == ["220 PC"]
    assert not f["ex:a:0"]["superstrike_before_conviction"]  # same day is not before
    assert f["ex:a:2"]["superstrike_before_conviction"]


def test_superstrike_subsections_and_bare_sections():
    f = facts_of({"a": person("1960-01-01",
                              convicted("1990-01-01", "PC 286"), convicted("1990-01-01", "PC 245(d)(3)"),
                              convicted("1990-01-01", "PC 245(a)(1)"), convicted("1990-01-01", "PC 190.2"),
                              convicted("2000-01-01", "HS 11359"))})["ex:a:4"]
    # bare 286 is not a super strike (the record does not show the subsection); 245(d)(3) and 190.2 are
    assert f["superstrikes_on_record"] == ["245(D)(3) PC", "190.2 PC"]


def test_gang_enhancement_makes_superstrike_only_in_same_case():
    same = facts_of({"a": person("1960-01-01",
                                 convicted("2015-02-14", "PC 136.1", case="k1"),
                                 convicted("2015-05-19", "HS 11358", case="k2"),
                                 convicted("2015-10-31", "PC 186.22(b)(4)", case="k1"))})["ex:a:1"]
    assert same["superstrikes_on_record"] == ["136.1 PC + 186.22(B)(4) PC"]
    assert same["superstrike_before_conviction"]  # the offense (2015-02-14) precedes the conviction
    apart = facts_of({"a": person("1960-01-01",
                                  convicted("2015-02-14", "PC 136.1", case="k1"),
                                  convicted("2015-05-19", "HS 11358", case="k2"),
                                  convicted("2015-10-31", "PC 186.22(b)(4)", case="k3"))})["ex:a:1"]
    assert apart["superstrikes_on_record"] == [] and not apart["superstrike_before_conviction"]


def test_pc290_by_conviction_or_registration_before_this_conviction():
    f = facts_of({"a": person("1960-01-01", convicted("1981-04-11", "HS 11358"), convicted("1981-04-11", "PC 266"),
                              convicted("1981-04-11", "PC 314(1)"), convicted("1990-01-01", "HS 11358"))})
    assert f["ex:a:0"]["pc290_offenses_on_record"] == ["266 PC", "314(1) PC"]
    assert not f["ex:a:0"]["pc290_before_conviction"] and f["ex:a:3"]["pc290_before_conviction"]
    g = facts_of({"a": person("1960-01-01", registration("1985-01-01"), convicted("1980-01-01", "HS 11359"),
                              convicted("1990-01-01", "HS 11359"))})
    assert g["ex:a:1"]["pc290_registration"] and not g["ex:a:1"]["pc290_before_conviction"]
    assert g["ex:a:2"]["pc290_before_conviction"]
    assert g["ex:a:2"]["pc290_offenses_on_record"] == []


def test_sentences_and_deceased():
    f = facts_of({"a": person("1960-01-01",
                              convicted("2015-02-14", "HS 11358", sentence_end="2050-02-14"),
                              convicted("2010-01-01", "HS 11357", sentence_end="2019-11-11"),
                              death("2016-01-01"))})
    assert not f["ex:a:0"]["sentence_completed"] and f["ex:a:1"]["sentence_completed"]  # ends on compute-at
    assert not f["ex:a:1"]["all_sentences_completed"]
    assert f["ex:a:0"]["deceased"] and f["ex:a:0"]["sentence_end"] == date(2050, 2, 14)


def test_related_charge_and_cannabis_in_the_same_cycle():
    f = facts_of({"a": person("1960-01-01",
                              charged("1990-01-01", "HS 11359", cycle="y1", case="a1"),
                              convicted("1990-02-01", "PC 148", cycle="y1", case="a2"),
                              convicted("1995-02-01", "BP 4060", cycle="y2"),
                              convicted("1995-02-01", "PC 647(a)", cycle="y2"))})
    assert f["ex:a:1"]["is_related_charge"] and f["ex:a:1"]["cannabis_charge_in_cycle"]
    assert f["ex:a:2"]["is_related_charge"] and not f["ex:a:2"]["cannabis_charge_in_cycle"]
    assert not f["ex:a:3"]["is_related_charge"]  # 647 only in subsection (f)


def test_other_cannabis_sections_in_comment():
    f = facts_of({"a": person("1960-01-01",
                              convicted("1990-01-01", "HS 11358", comment_sections=("11359", "PC 148")),
                              convicted("1990-01-01", "HS 11357(b)", comment_sections=("11357(d)",)),
                              convicted("1990-01-01", "HS 11357(b)", comment_sections=("HS 11357",)),
                              convicted("1990-01-01", "PC 466", comment_sections=("11358",)))})
    assert f["ex:a:0"]["other_cannabis_sections_in_comment"] == ["11359"]
    assert f["ex:a:1"]["other_cannabis_sections_in_comment"] == ["11357(d)"]
    assert f["ex:a:2"]["other_cannabis_sections_in_comment"] == []
    assert f["ex:a:3"]["other_cannabis_sections_in_comment"] == ["11358"]


def test_unknown_dates_and_dob_give_null_facts_not_errors():
    f = facts_of({"a": person(None, convicted(None, "HS 11359"))})["ex:a:0"]
    assert f["age_at_compute_at"] is None and f["conviction_date"] is None
    assert f["prior_same_section_convictions"] == 0 and not f["superstrike_before_conviction"]


def test_unified_history_counts_from_two_sources_share_the_record():
    counts, persons = records({"a": person("1960-01-01", convicted("1990-01-01", "HS 11359"))})
    court = counts.with_columns(
        pl.lit("court:LA:1").alias("count_id"), pl.lit("court").alias("source"),
        pl.lit(None, dtype=pl.Int64).alias("row_index"), pl.lit("PC 187").alias("offense_text"),
        pl.lit("PC").alias("code"), pl.lit("187").alias("section"), pl.lit("").alias("subsection"),
        pl.lit(date(1980, 1, 1)).alias("event_date"),
    )
    out = conviction_facts(pl.concat([counts, court]), persons, county="LOS ANGELES", compute_at=AT)
    doj = out.filter(pl.col("count_id") == "ex:a:0").row(0, named=True)
    assert doj["convictions_on_record"] == 2 and doj["superstrike_before_conviction"]
    assert out["count_id"].to_list() == ["ex:a:0", "court:LA:1"]  # DOJ order first, then the rest
