"""Ground truth for a generated county: who is who, which court cases DOJ missed, and how each
cannabis count should be classified by reconciliation. Written as DIR/truth/*.parquet with a
README.md that explains every column (the text is TRUTH_README below).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.normalize.case_numbers import normalize_case_number
from pipelines.synth.court_view import CourtView
from pipelines.synth.coverage import Coverage
from pipelines.synth.doj_view import DojView
from pipelines.synth.numbering import CaseNumbers
from pipelines.synth.population import Population
from pipelines.synth.tables import County, charge_table, counties, labels

TRUTH_README = """# Ground truth of a generated county

Written by `autoclear generate` next to the files it describes. The people are fictional; the
generator's ids are stable for a given seed.

Ids follow pipelines/model.py: DOJ person `doj:<SUBJECT_ID>`, DOJ count
`doj:<SUBJECT_ID>:<CNT_ORDER>`, DOJ case `doj:<SUBJECT_ID>:<first 6 digits of CNT_ORDER>`;
court person `court:<COUNTY>:<person key>`, court case `court:<COUNTY>:<normalized case number>`
(normalized by pipelines.normalize.case_numbers.normalize_case_number, from the true number, which
keeps the defendant suffix), court count `<court case id>:<count number>`.
`true_person_id` is `<DOJ county code>:<9-digit person number>`.

## persons.parquet: one row per person record in either source

| column | meaning |
|---|---|
| person_id | `doj:<SUBJECT_ID>` or `court:<COUNTY>:<person key>` |
| source | `doj` or `court` |
| source_person_key | SUBJECT_ID, or the court's person key |
| true_person_id | the person behind the record: records with the same value are the same person |
| background | true for court-only people with no cannabis history (never in the DOJ file) |

One true person can have two DOJ records (two SUBJECT_IDs, the second with its own CII, a
variant of the name and sometimes a DOB one day off) and two court person keys.

## cases.parquet: one row per court case of the county, and per DOJ case in another county

| column | meaning |
|---|---|
| county | county of the court (DOJ spelling) |
| true_case_number | the case number as the court issued it (with any defendant suffix) |
| court_case_id | `court:<COUNTY>:<normalized number>` |
| true_person_id | the defendant |
| filed_date, disposition_date | dates |
| case_level | most serious level among the counts: F, M or I |
| has_cannabis | some count is HS 11357-11360 |
| in_court_extract | the court still has the record (false: destroyed, old records; or another county) |
| in_doj | the DOJ file has the court step of this case |
| doj_missed | a county case whose court step never reached DOJ |
| doj_case_id | `doj:<SUBJECT_ID>:<CCCSSS>` where in_doj |
| doj_ofn | the case number as DOJ writes it in OFN (another surface form at times; a row of such a case may use the court's form); null when DOJ left it blank |
| court_person_key | the court's person key on this case (null when not in the extract) |
| name_nickname, name_typo, name_swapped, name_accented | how the court keyed the defendant's name on this case |
| surname_form | compound surnames: `full` (GARCIA LOPEZ), `hyphenated`, `first part`, `second part`; null for simple surnames |
| dob_written | `exact`, `missing`, `day/month transposed` or `typo` |

## counts.parquet: one row per cannabis count (HS 11357-11360) of a court case, in either source

Shaped like model.RECONCILED: what reconciliation should produce.

| column | meaning |
|---|---|
| court_count_id | the count in the court extract (null when the court has no record of it) |
| doj_count_id | the count in the DOJ file (null when DOJ lacks it) |
| classification | `matched` (both sources), `court_only` (DOJ missed it), `doj_only` |
| reason | court_only: `DOJ missed the case`; doj_only: `out of county` (the case is another county's court) or `court record destroyed`; matched: null, or `dismissed in court` where DOJ shows a conviction the court record shows dismissed |
| true_person_id | the defendant |
| county, true_case_number, count_number | the count |
| code, section, subsection | the true statute (HS, 11357, (C)) |
| level | F, M or I as charged/convicted |
| disposition | true outcome: convicted, dismissed, acquitted |
| plea_dismissal | dismissed as part of a plea bargain (never a conviction) |
| disposition_date | conviction or dismissal date |
| doj_disposition | the outcome as DOJ records it (convicted where DOJ wrongly shows a conviction) |
| court_charge_miskeyed | the court typed the section wrong (11375 for 11357) |
| court_charge_in_comment | the court's charge field is blank or "SEE COMMENT"; the statute is in the comment |
| doj_charge_field | `offense`, `comment` (SEE COMMENT FOR CHARGE / blank offense), or `comment_other_section` (the comment names another cannabis section) |

Counts of arrest steps are not classified: reconciliation works on court dispositions.
A court count present in several overlapping extracts (`--refreshes`) is one row here.

## extracts.parquet: the court extract files and the filed-date window each covers
"""


def _true_person_id(county: County, uid: pl.Expr) -> pl.Expr:
    return pl.lit(county.code + ":") + uid.cast(pl.String).str.zfill(9)


def _normalized(numbers: pl.Series) -> pl.Series:
    """The normalized case numbers (pipelines.normalize.case_numbers) of the true numbers.

    The generator issues numbers already in normalized form (upper case, no blanks, suffix
    ``-NN``), so they are used as they are; a sample is checked against the normalizer so that a
    change to its rules cannot silently break the truth.
    """
    step = max(1, len(numbers) // 5000)
    sample = numbers.gather_every(step).drop_nulls()
    normalized = pl.select(normalize_case_number(pl.lit(sample))).to_series()
    if not (normalized == sample).all():
        bad = sample.filter(normalized != sample).head(3).to_list()
        raise RuntimeError(f"generated case numbers are not in normalized form (e.g. {bad}); update pipelines/synth/numbering.py")
    return numbers


def build(
    pop: Population, cov: Coverage, cn: CaseNumbers, county: County, doj: DojView, court: CourtView,
    court_files: list[tuple[str, str, str]],
) -> dict[str, pl.DataFrame]:
    """The truth tables (persons, cases, counts, extracts)."""
    ct = charge_table()
    target = next(i for i, c in enumerate(counties()) if c.name == county.name)
    uid = pl.Series(pop.person_uid)
    C = len(pop.cyc_person)

    # ---- persons -----------------------------------------------------------------------------
    court_keys = court.cases.select(
        pl.col("court_person_key").alias("person_key"), uid=uid.gather(pop.cyc_person[court.cases["cycle"].to_numpy()]),
    ).unique()
    persons = pl.concat([
        doj.subjects.select(
            pl.concat_str(pl.lit("doj:"), "subject_id").alias("person_id"), pl.lit("doj").alias("source"),
            pl.col("subject_id").alias("source_person_key"), uid.gather(doj.subjects["person"]).alias("uid"),
        ),
        court_keys.select(
            pl.concat_str(pl.lit(f"court:{county.name}:"), "person_key").alias("person_id"), pl.lit("court").alias("source"),
            pl.col("person_key").alias("source_person_key"), "uid",
        ),
    ])
    cannabis_uid = pl.Series(pop.person_uid[pop.cannabis_person])
    persons = persons.with_columns(
        true_person_id=_true_person_id(county, pl.col("uid")), background=~pl.col("uid").is_in(cannabis_uid.implode()),
    ).drop("uid").sort("person_id")

    # ---- cases -------------------------------------------------------------------------------
    doj_cases = (
        doj.counts.select("cycle", "subject_id", pl.col("CNT_ORDER").str.slice(0, 6).alias("cs")).unique("cycle", keep="first")
        .select("cycle", pl.concat_str(pl.lit("doj:"), "subject_id", pl.lit(":"), "cs").alias("doj_case_id"))
    )
    most_serious = np.full(C, 2, dtype=np.int8)
    np.minimum.at(most_serious, pop.cnt_cycle, pop.level)
    interesting = np.flatnonzero(cov.county_case | (pop.has_court & cov.doj_court & cov.in_doj[pop.cyc_person]))
    names = [c.name for c in counties()]
    cases = pl.DataFrame({
        "cycle": interesting,
        "county": labels(names, pop.cyc_county[interesting]),
        "true_case_number": cn.case_number.gather(interesting),
        "uid": uid.gather(pop.cyc_person[interesting]),
        "filed_date": pl.Series(cn.filed_date[interesting]).cast(pl.Date),
        "disposition_date": pl.Series(pop.court_date[interesting]).cast(pl.Date),
        "case_level": labels(("F", "M", "I"), most_serious[interesting]),
        "has_cannabis": cov.has_cannabis[interesting],
        "in_court_extract": cov.county_case[interesting] & ~cov.purged[interesting],
        "in_doj": cov.doj_court[interesting] & cov.in_doj[pop.cyc_person[interesting]],
        "doj_missed": cov.doj_missed[interesting],
        "doj_ofn": cn.doj_form.gather(interesting),
    }).join(doj_cases, on="cycle", how="left").join(court.cases, on="cycle", how="left")
    cases = cases.with_columns(normalized=_normalized(cases["true_case_number"])).with_columns(
        court_case_id=pl.concat_str(pl.lit("court:"), "county", pl.lit(":"), "normalized"),
        true_person_id=_true_person_id(county, pl.col("uid")),
        doj_ofn=pl.when(pl.col("in_doj") & ~pl.Series(doj.blank_ofn[interesting])).then(pl.col("doj_ofn")),
    )

    # ---- counts ------------------------------------------------------------------------------
    court_counts = (
        court.truth.select("count", "charge_miskeyed", "charge_in_comment")
    )
    doj_counts = doj.counts.filter(pl.col("is_can")).select(
        "count", pl.concat_str(pl.lit("doj:"), "subject_id", pl.lit(":"), "CNT_ORDER").alias("doj_count_id"),
        pl.col("charge_field").alias("doj_charge_field"), pl.col("doj_disposition"),
    )
    k = np.flatnonzero(ct.is_cannabis[pop.charge] & pop.has_court[pop.cnt_cycle])
    cyc = pop.cnt_cycle[k]
    disp = pop.disposition[k]
    counts = pl.DataFrame({
        "count": k,
        "cycle": cyc,
        "uid": uid.gather(pop.cyc_person[cyc]),
        "county": labels(names, pop.cyc_county[cyc]),
        "true_case_number": cn.case_number.gather(cyc),
        "count_number": pop.cnt_no[k],
        "code": ct.text("code", pop.charge[k]),
        "section": ct.text("section", pop.charge[k]),
        "subsection": ct.text("subsection", pop.charge[k]),
        "level": labels(("F", "M", "I"), pop.level[k]),
        "disposition": labels(("convicted", "dismissed", "acquitted"), np.maximum(disp, 0)),
        "plea_dismissal": pop.plea_dismissal[k],
        "disposition_date": pl.Series(pop.court_date[cyc]).cast(pl.Date),
        "in_county": pop.cyc_county[cyc] == target,
        "purged": cov.purged[cyc],
        "doj_missed": cov.doj_missed[cyc],
    })
    counts = (
        counts.join(court_counts, on="count", how="left").join(doj_counts, on="count", how="left")
        .join(cases.select("cycle", "court_case_id"), on="cycle", how="left")
        .with_columns(in_court=pl.col("charge_miskeyed").is_not_null())
        .filter(pl.col("in_court") | pl.col("doj_count_id").is_not_null())
    )
    court_id = pl.concat_str("court_case_id", pl.lit(":"), pl.col("count_number").cast(pl.String))
    counts = counts.with_columns(
        court_count_id=pl.when(pl.col("in_court")).then(court_id),
        classification=pl.when(pl.col("in_court") & pl.col("doj_count_id").is_not_null()).then(pl.lit("matched"))
        .when(pl.col("in_court")).then(pl.lit("court_only")).otherwise(pl.lit("doj_only")),
    ).with_columns(
        reason=pl.when(pl.col("classification") == "court_only").then(pl.lit("DOJ missed the case"))
        .when((pl.col("classification") == "doj_only") & ~pl.col("in_county")).then(pl.lit("out of county"))
        .when(pl.col("classification") == "doj_only").then(pl.lit("court record destroyed"))
        .when((pl.col("doj_disposition") == "convicted") & (pl.col("disposition") != "convicted"))
        .then(pl.lit("dismissed in court")),
        true_person_id=_true_person_id(county, pl.col("uid")),
    ).sort("count").select(
        "court_count_id", "doj_count_id", "classification", "reason", "true_person_id", "county", "true_case_number",
        "count_number", "code", "section", "subsection", "level", "disposition", "plea_dismissal", "disposition_date",
        "doj_disposition", pl.col("charge_miskeyed").alias("court_charge_miskeyed"),
        pl.col("charge_in_comment").alias("court_charge_in_comment"), "doj_charge_field",
    )

    cases = cases.sort("cycle").select(
        "county", "true_case_number", "court_case_id", "true_person_id", "filed_date", "disposition_date", "case_level",
        "has_cannabis", "in_court_extract", "in_doj", "doj_missed", "doj_case_id", "doj_ofn",
        "court_person_key", "name_nickname", "name_typo", "name_swapped", "name_accented", "surname_form", "dob_written",
    )
    extracts = pl.DataFrame(court_files, schema={"file": pl.String, "first_filed": pl.String, "last_filed": pl.String}, orient="row")
    return {"persons": persons, "cases": cases, "counts": counts, "extracts": extracts}
