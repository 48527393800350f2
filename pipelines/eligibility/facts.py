"""Eligibility facts: one row per conviction, computed over the person's whole record.

Everything here reads the canonical COUNT columns (pipelines.model.COUNT), so the same code works
for a DOJ-only history and for a unified DOJ + court history where counts from both sources share
one ``person_id``. Policies (pipelines.eligibility.policy) decide with these facts; nothing here is
a county's choice.

Conventions (DOMAIN.md section 5): dates are as of ``compute_at``; "years" are 365.25-day years;
a fact that depends on an earlier conviction uses a strictly earlier conviction date; a fact the
record cannot show is null, and predicates treat null as "not shown" (presumption of eligibility).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.eligibility import statutes as st
from pipelines.model import PROP64_DATE

DAYS_PER_YEAR = 365.25
# The facts work on convictions (a fraction of the rows) with many small steps; Polars' in-memory
# engine does them with about a third less CPU than the streaming engine (measured at 2M rows).
ENGINE = "in-memory"

# Every fact column, with what it means. docs/policies.md lists the same.
FACTS: dict[str, str] = {
    "count_id": "the conviction (count) this row is about",
    "person_id": "the person",
    "case_id": "the court case",
    "cycle_id": "the arrest cycle",
    "case_numbers": "court case number(s) as written, '; '-joined",
    "county": "county of the conviction, as written",
    "in_county": "the conviction is in the county being processed",
    "source": "where the record came from (doj, court)",
    "row_index": "DOJ: position of the conviction row among the input rows",
    "offense_text": "the charge as written (DOJ: OFFENSE_DESCR up to the first '-')",
    "statute": "the statute as convicted, normalized ('HS 11359', 'PC 245(d)(3)')",
    "code": "code of the statute (HS, PC, ...)",
    "section": "section as convicted (old numbering before 11/9/2016)",
    "subsection": "subsection as convicted ('(c)', '' when none)",
    "level": "F, M or I when known",
    "is_felony": "the conviction is a felony",
    "is_cannabis": "the conviction is for HS 11357, 11358, 11359 or 11360",
    "cannabis_section": "11357 .. 11360 for a cannabis conviction, else null",
    "is_related_charge": "the conviction is one of the related charges (statutes.yaml)",
    "cannabis_charge_in_cycle": "a cannabis charge (convicted or not) is in the same arrest cycle",
    "conviction_date": "date of conviction",
    "convicted_on_or_after_prop64": "convicted on or after 11/9/2016 (the new law applied)",
    "dob": "date of birth (confidential; used for ages)",
    "age_at_conviction": "age in years on the conviction date",
    "age_at_compute_at": "age in years on the compute-at date",
    "years_since_conviction": "years from this conviction to compute-at",
    "last_conviction_date": "date of the person's most recent conviction (any county, any offense)",
    "years_since_last_conviction": "years from the most recent conviction to compute-at",
    "convictions_on_record": "number of convictions on the person's record (any county)",
    "cannabis_convictions": "number of cannabis convictions on the record",
    "cannabis_11357_convictions": "number of HS 11357 convictions on the record",
    "cannabis_11358_convictions": "number of HS 11358 convictions on the record",
    "cannabis_11359_convictions": "number of HS 11359 convictions on the record",
    "cannabis_11360_convictions": "number of HS 11360 convictions on the record",
    "only_cannabis_convictions": "every conviction on the record is a cannabis conviction",
    "prior_same_section_convictions": "cannabis convictions of the same section before this one",
    "superstrikes_on_record": "super strike convictions on the record, as written",
    "superstrike_before_conviction": "a super strike conviction precedes this conviction",
    "pc290_offenses_on_record": "convictions requiring PC 290 registration, as written",
    "pc290_registration": "the record shows a PC 290 registration",
    "pc290_before_conviction": "a PC 290 conviction or registration precedes this conviction",
    "sentence_end": "end of this conviction's sentence (conviction date + all sentence parts)",
    "sentence_completed": "this conviction's sentence ended by compute-at",
    "all_sentences_completed": "every sentence on the record ended by compute-at",
    "deceased": "the record shows the person died",
    "other_cannabis_sections_in_comment": "other cannabis statutes named in the comment",
}


def conviction_facts(
    counts: pl.DataFrame | pl.LazyFrame,
    persons: pl.DataFrame | pl.LazyFrame,
    *,
    county: str,
    compute_at: date,
) -> pl.DataFrame:
    """One row per conviction (every county) with every fact in FACTS, in that order.

    `counts` follows pipelines.model.COUNT (extra columns are ignored, except the DOJ extra
    ``is_pc290_registration`` when present); `persons` follows pipelines.model.PERSON (only
    ``person_id`` and ``dob`` are read). Rows are in record order: DOJ input order (row_index),
    then counts without a row_index in the order given.
    """
    return conviction_facts_lazy(counts, persons, county=county, compute_at=compute_at).collect(engine=ENGINE)


def conviction_facts_lazy(
    counts: pl.DataFrame | pl.LazyFrame,
    persons: pl.DataFrame | pl.LazyFrame,
    *,
    county: str,
    compute_at: date,
) -> pl.LazyFrame:
    """The lazy form of `conviction_facts`."""
    counts = counts.lazy()
    persons = persons.lazy()
    has_registration_flag = "is_pc290_registration" in counts.collect_schema().names()
    at = pl.lit(compute_at, dtype=pl.Date)
    wanted_county = county.strip().upper()

    is_cannabis = st.matches_any(st.statutes("cannabis"), code_optional=True)
    # Facts from every step, not only convictions, computed on the few rows that carry them
    # (the whole file can be millions of rows): cannabis charges per arrest cycle, deaths and
    # PC 290 registrations per person.
    steps = st.with_match_columns(
        counts.select("person_id", "cycle_id", "step_type", "event_date", "code", "section", "subsection",
                      *(["is_pc290_registration"] if has_registration_flag else []))
    )
    registration = (pl.col("step_type") == "REGISTRATION") & pl.col(st.SECTION).str.starts_with("290")
    if has_registration_flag:
        registration = registration | pl.col("is_pc290_registration").fill_null(False)
    cannabis_cycles = (
        steps.filter(is_cannabis).select("person_id", "cycle_id").unique()
        .with_columns(pl.lit(True).alias("cannabis_charge_in_cycle"))
    )
    record = (
        steps.filter((pl.col("step_type") == "DECEASED") | registration.fill_null(False))
        .group_by("person_id")
        .agg(
            (pl.col("step_type") == "DECEASED").any().alias("deceased"),
            registration.fill_null(False).any().alias("pc290_registration"),
            pl.col("event_date").filter(registration.fill_null(False)).min().alias("_first_registration"),
        )
    )

    conv = (
        st.with_match_columns(counts.filter(pl.col("is_conviction").fill_null(False)))
        .sort("row_index", nulls_last=True, maintain_order=True)
        .join(cannabis_cycles, on=["person_id", "cycle_id"], how="left", nulls_equal=True)
        .with_columns(
            is_cannabis.alias("is_cannabis"),
            pl.col("cannabis_charge_in_cycle").fill_null(False),
            st.matches_any(st.statutes("super_strikes")).alias("_superstrike"),
            st.matches_any(st.statutes("gang_enhancement")).alias("_gang"),
            st.matches_any(st.statutes("super_strikes_with_gang_enhancement")).alias("_enhanceable"),
            st.matches_any(st.statutes("sex_offender_registration")).alias("_pc290"),
            st.matches_any(st.statutes("related_charges")).alias("is_related_charge"),
            pl.col("sentence_end").fill_null(pl.col("event_date")).alias("_sentence_end"),
        )
        .with_columns(pl.when(pl.col("is_cannabis")).then(pl.col(st.SECTION)).alias("cannabis_section"))
    )
    # A gang enhancement makes a super strike of the enhanceable offenses in the same case.
    # Enhancements are rare: a small table joined back is cheaper than a window over every case.
    gang_cases = (
        conv.filter(pl.col("_gang")).group_by("person_id", "case_id")
        .agg(pl.col("offense_text").first().alias("_gang_text"))
    )
    conv = conv.join(gang_cases, on=["person_id", "case_id"], how="left", nulls_equal=True, maintain_order="left")
    gang_text = pl.col("_gang_text")
    combined = pl.col("_enhanceable") & gang_text.is_not_null()
    conv = conv.with_columns(
        pl.when(pl.col("_superstrike"))
        .then(pl.col("offense_text"))
        .when(combined)
        .then(pl.concat_str([pl.col("offense_text"), pl.lit(" + "), gang_text]))
        .alias("_superstrike_text"),
    ).with_columns((pl.col("_superstrike") | combined).alias("_superstrike"))

    cannabis_count = [
        (pl.col("cannabis_section") == s).sum().cast(pl.Int64).alias(f"cannabis_{s}_convictions")
        for s in st.CANNABIS_SECTIONS
    ]
    person = conv.group_by("person_id").agg(
        pl.len().cast(pl.Int64).alias("convictions_on_record"),
        pl.col("is_cannabis").sum().cast(pl.Int64).alias("cannabis_convictions"),
        *cannabis_count,
        pl.col("event_date").max().alias("last_conviction_date"),
        pl.col("_superstrike_text").filter(pl.col("_superstrike")).unique(maintain_order=True)
        .alias("superstrikes_on_record"),
        pl.col("event_date").filter(pl.col("_superstrike")).min().alias("_first_superstrike"),
        pl.col("offense_text").filter(pl.col("_pc290")).unique(maintain_order=True)
        .alias("pc290_offenses_on_record"),
        pl.col("event_date").filter(pl.col("_pc290")).min().alias("_first_pc290"),
        (pl.col("_sentence_end") <= at).fill_null(True).all().alias("all_sentences_completed"),
    )
    dob = persons.group_by("person_id").agg(pl.col("dob").drop_nulls().first())

    convicted_on = pl.col("event_date")
    facts = (
        conv.join(person, on="person_id", how="left")
        .join(record, on="person_id", how="left")
        .with_columns(pl.col("deceased").fill_null(False), pl.col("pc290_registration").fill_null(False))
        .join(dob, on="person_id", how="left")
        .with_columns(
            convicted_on.alias("conviction_date"),
            (convicted_on >= pl.lit(PROP64_DATE)).alias("convicted_on_or_after_prop64"),
            _years(pl.col("dob"), convicted_on).alias("age_at_conviction"),
            _years(pl.col("dob"), at).alias("age_at_compute_at"),
            _years(convicted_on, at).alias("years_since_conviction"),
            _years(pl.col("last_conviction_date"), at).alias("years_since_last_conviction"),
            (pl.col("convictions_on_record") == pl.col("cannabis_convictions")).alias("only_cannabis_convictions"),
            pl.when(pl.col("is_cannabis"))
            .then(convicted_on.rank("min").over(["person_id", "cannabis_section"]) - 1)
            .otherwise(0)
            .fill_null(0)
            .cast(pl.Int64)
            .alias("prior_same_section_convictions"),
            (pl.col("_first_superstrike") < convicted_on).fill_null(False).alias("superstrike_before_conviction"),
            ((pl.col("_first_pc290") < convicted_on) | (pl.col("_first_registration") < convicted_on))
            .fill_null(False)
            .alias("pc290_before_conviction"),
            pl.col("_sentence_end").alias("sentence_end"),
            (pl.col("_sentence_end") <= at).fill_null(True).alias("sentence_completed"),
            (pl.col("county").str.strip_chars().str.to_uppercase() == wanted_county)
            .fill_null(False)
            .alias("in_county"),
            _statute_text().alias("statute"),
        )
        .join(_other_cannabis_in_comment(conv), on="count_id", how="left")
        .with_columns(pl.col("other_cannabis_sections_in_comment").fill_null([]))
    )
    # Record order (DOJ input order, then the order counts came in), so the same inputs give
    # the same bytes.
    return facts.select(*FACTS).sort("row_index", nulls_last=True, maintain_order=True)


def _years(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Years between two dates, counted in 365.25-day years (null when either is unknown)."""
    return (end - start).dt.total_days() / DAYS_PER_YEAR


def _statute_text() -> pl.Expr:
    code = pl.col(st.CODE)
    body = pl.concat_str([pl.col("section"), pl.col("subsection").fill_null("")])
    return pl.when(code.is_not_null()).then(pl.concat_str([code, pl.lit(" "), body])).otherwise(body)


def _other_cannabis_in_comment(conv: pl.LazyFrame) -> pl.LazyFrame:
    """count_id -> cannabis statutes the comment names that differ from the statute as convicted.

    A comment can name a different cannabis section than the offense field: it is reported, never
    dropped (DOMAIN.md section 3). Same section with compatible subsections ("(b)" and "(b)(1)", or
    one side without subsection) is the same statute.
    """
    cannabis = "|".join(st.CANNABIS_SECTIONS)
    named = pl.col("comment_sections")
    sec = named.str.extract(rf"({cannabis})", 1)
    sub = named.str.extract(rf"(?:{cannabis})\s*((?:\([0-9A-Za-z]+\))*)", 1).str.to_lowercase().fill_null("")
    own_sec, own_sub = pl.col(st.SECTION), pl.col(st.SUB)
    differs = (
        own_sec.is_null()
        | (sec != own_sec)
        | ((sub != "") & (own_sub != "") & ~sub.str.starts_with(own_sub) & ~own_sub.str.starts_with(sub))
    )
    return (
        conv.select("count_id", st.SECTION, st.SUB, "comment_sections")
        .filter(pl.col("comment_sections").list.len() > 0)
        .explode("comment_sections")
        .filter(sec.is_not_null() & differs.fill_null(True))
        .group_by("count_id")
        .agg(pl.col("comment_sections").unique(maintain_order=True).alias("other_cannabis_sections_in_comment"))
    )
