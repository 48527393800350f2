"""A clean county's frames, built from the canonical schemas, for every checkpoint.

Tests inject one fault at a time into these frames and check that the right expectation fails;
the benchmark validates them at 100k and 1M rows. Everything is computed with Polars expressions
(no Python loop over rows), deterministically, with no personal data worth the name (made-up
names and dates).

Shape, for ``n`` DOJ counts (two per person, both in one court case):

- DOJ: ``n`` rows = ``n`` counts (all cannabis convictions in the county), ``n / 2`` persons;
- court: ``n`` counts; the first half are the same counts as DOJ's first half (matched), the
  rest are court-only (another ``n / 2`` convictions DOJ missed);
- reconciled: ``n / 2`` matched + ``n / 2`` court-only + ``n / 2`` DOJ-only rows;
- determinations: one per DOJ count and per court-only count (``1.5 n``): dismissal, reduction,
  not eligible in turn;
- delivery: one row per actionable determination (``n`` rows), all actions "new"; the ledger's
  rows for the delivery and the files' rows read back (a court file without ids, the clerk
  checklist) agree with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from pipelines import model

COUNTY = "LOS ANGELES"
COMPUTE_AT = dt.date(2024, 7, 1)
CASE_NUMBER_PATTERN = r"(BA|CC)\d{7}"
RUN_ID = "sample-run"
SECTIONS = ("11357", "11358", "11359", "11360")
_DETERMINATIONS = (
    ("Eligible for Dismissal", "dismiss_and_seal", None, "HS 11361.8(e)-(f); HS 11361.9"),
    ("Eligible for Reduction", "redesignate_misdemeanor", "M", "HS 11361.8(e)-(f); HS 11361.9"),
    ("Not eligible", "none", None, None),
)


@dataclass
class SampleCounty:
    """Frames and context for each checkpoint (``frames[checkpoint]``, ``context[checkpoint]``)."""

    frames: dict[str, dict[str, pl.DataFrame]]
    context: dict[str, dict]


def _pick(index: pl.Expr, values: tuple) -> pl.Expr:
    """values[index % len(values)], as an expression."""
    expr = pl.lit(values[-1])
    for i, value in reversed(list(enumerate(values[:-1]))):
        expr = pl.when(index % len(values) == i).then(pl.lit(value)).otherwise(expr)
    return expr


def _case_number(prefix: str, person: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit(prefix), person.cast(pl.String).str.pad_start(7, "0"))


def clean_county(n: int = 200, *, county: str = COUNTY, compute_at: dt.date = COMPUTE_AT) -> SampleCounty:
    """A county whose every frame passes every checkpoint (see the module docstring for its shape)."""
    if n < 2 or n % 2:
        raise ValueError("n must be an even number of at least 2")
    i = pl.int_range(0, n, dtype=pl.Int64)
    base = pl.select(i.alias("i")).with_columns(
        (pl.col("i") // 2).alias("p"),  # person
        (pl.col("i") % 2 + 1).alias("k"),  # count number within the case
    )
    event = (pl.lit(dt.date(1985, 1, 1)) + pl.duration(days=(pl.col("i") * 37) % 10_000)).alias("event_date")
    section = _pick(pl.col("i"), SECTIONS)

    # DOJ ------------------------------------------------------------------------------------
    subject = pl.format("S{}", pl.col("p").cast(pl.String).str.pad_start(8, "0"))
    cnt_order = pl.format("001001{}000", pl.col("k").cast(pl.String).str.pad_start(3, "0"))
    doj_file = "la_doj_01.dat"
    doj_rows = base.select(
        subject.alias("SUBJECT_ID"),
        pl.format("{}", (pl.col("p") + 10_000_000).cast(pl.String)).str.pad_start(9, "0").alias("CII_NUMBER"),
        pl.format("DOE{},JOHN", pl.col("p")).alias("PRI_NAME"),
        pl.lit("19700101").alias("PRI_DOB"),
        event.dt.strftime("%Y%m%d").alias("STP_EVENT_DATE"),
        pl.lit("COURT ACTION").alias("STP_TYPE_DESCR"),
        pl.lit(county).alias("STP_ORI_CNTY_NAME"),
        cnt_order.alias("CNT_ORDER"),
        _case_number("BA", pl.col("p")).alias("OFN"),
        pl.concat_str(section, pl.lit("HS-MARIJUANA")).alias("OFFENSE_DESCR"),
        _pick(pl.col("i"), ("F", "M")).alias("OFFENSE_TOC"),
        pl.lit("CONVICTED").alias("DISP_DESCR"),
        _pick(pl.col("i"), ("FELONY", "MISDEMEANOR")).alias("CONV_STAT_DESCR"),
        pl.lit("030").alias("SENT_LENGTH"),
        pl.lit("D").alias("SENT_TIME_CODE"),
        pl.lit("").alias("COMMENT_TEXT"),
        pl.lit("doj").alias("source"),
        pl.lit(doj_file).alias("source_file"),
        (pl.col("i") + 2).alias("source_line"),  # line 1 is the header
        pl.col("i").alias("row_index"),
    )
    doj_counts = base.select(
        pl.format("doj:{}:{}", subject, cnt_order).alias("count_id"),
        pl.format("doj:{}", subject).alias("person_id"),
        pl.format("doj:{}:001001", subject).alias("case_id"),
        pl.format("doj:{}:001", subject).alias("cycle_id"),
        pl.lit(county).alias("county"),
        _case_number("BA", pl.col("p")).alias("case_numbers"),
        _case_number("BA", pl.col("p")).alias("case_number"),
        pl.col("k").cast(pl.Int32).alias("count_number"),
        pl.lit("COURT").alias("step_type"),
        event,
        pl.concat_str(section, pl.lit("HS")).alias("offense_text"),
        pl.lit("").alias("comment_text"),
        pl.lit("HS").alias("code"),
        section.alias("section"),
        pl.lit("").alias("subsection"),
        pl.lit([], dtype=pl.List(pl.String)).alias("comment_sections"),
        _pick(pl.col("i"), ("F", "M")).alias("level"),
        (pl.col("i") % 2 == 0).alias("is_felony"),
        pl.lit("convicted").alias("disposition"),
        pl.lit("CONVICTED").alias("disposition_text"),
        pl.lit(True).alias("is_conviction"),
        (event + pl.duration(days=30)).alias("sentence_end"),
        pl.col("i").alias("row_index"),
        pl.lit("doj").alias("source"),
        pl.lit(doj_file).alias("source_file"),
        (pl.col("i") + 2).alias("source_line"),
    )
    doj_counts = model.conform(doj_counts, model.COUNT, extra=False)
    persons_base = pl.select(pl.int_range(0, n // 2, dtype=pl.Int64).alias("p"))
    doj_persons = model.conform(persons_base.select(
        pl.format("doj:{}", subject).alias("person_id"),
        subject.alias("source_person_key"),
        pl.format("{}", (pl.col("p") + 10_000_000).cast(pl.String)).str.pad_start(9, "0").alias("cii"),
        pl.format("DOE{},JOHN", pl.col("p")).alias("name_raw"),
        pl.format("DOE{}", pl.col("p")).alias("last_name"),
        pl.lit("JOHN").alias("first_name"),
        pl.lit(dt.date(1970, 1, 1)).alias("dob"),
        pl.lit("M").alias("gender"),
        pl.lit(county).alias("county"),
        pl.lit("doj").alias("source"),
        pl.lit(doj_file).alias("source_file"),
        (pl.col("p") * 2 + 2).alias("source_line"),
    ), model.PERSON, extra=False)
    doj_stats = pl.DataFrame({"source_file": [doj_file], "rows_read": [n], "rows_accepted": [n],
                              "rows_quarantined": [0]}, schema={"source_file": pl.String, "rows_read": pl.Int64,
                                                                "rows_accepted": pl.Int64, "rows_quarantined": pl.Int64})

    # Court: the first half of the counts are DOJ's, the rest court-only ----------------------
    court_file = "extract_01.csv"
    half = n // 2
    court_only = pl.col("i") >= half
    court_person = pl.when(court_only).then(pl.col("p") + n).otherwise(pl.col("p"))
    court_case = pl.when(court_only).then(_case_number("CC", pl.col("p"))).otherwise(_case_number("BA", pl.col("p")))
    court_rows = base.select(
        court_case.alias("case_number"),
        pl.format("DOE{}/JOHN", court_person).alias("name"),
        pl.lit("1970-01-01").alias("dob"),
        pl.lit("convicted").alias("disposition_class"),
        pl.lit("court").alias("source"),
        pl.lit(court_file).alias("source_file"),
        (pl.col("i") + 2).alias("source_line"),
    )
    court_counts = model.conform(base.select(
        pl.format("court:{}:{}:{}", pl.lit(county), court_case, pl.col("k")).alias("count_id"),
        pl.format("court:{}:P{}", pl.lit(county), court_person).alias("person_id"),
        pl.format("court:{}:{}", pl.lit(county), court_case).alias("case_id"),
        pl.format("court:{}:{}", pl.lit(county), court_case).alias("cycle_id"),
        pl.lit(county).alias("county"),
        court_case.alias("case_numbers"),
        court_case.alias("case_number"),
        pl.col("k").cast(pl.Int32).alias("count_number"),
        pl.lit("COURT").alias("step_type"),
        event,
        pl.concat_str(section, pl.lit(" HS")).alias("offense_text"),
        pl.lit("HS").alias("code"),
        section.alias("section"),
        pl.lit("").alias("subsection"),
        pl.lit([], dtype=pl.List(pl.String)).alias("comment_sections"),
        _pick(pl.col("i"), ("F", "M")).alias("level"),
        (pl.col("i") % 2 == 0).alias("is_felony"),
        pl.lit("convicted").alias("disposition"),
        pl.lit("CONVICTED").alias("disposition_text"),
        pl.lit(True).alias("is_conviction"),
        (event + pl.duration(days=30)).alias("sentence_end"),
        pl.lit("court").alias("source"),
        pl.lit(court_file).alias("source_file"),
        (pl.col("i") + 2).alias("source_line"),
    ), model.COUNT, extra=False)
    court_persons = model.conform(
        court_counts.group_by("person_id", maintain_order=True).agg(pl.col("source_line").first()).select(
            "person_id",
            pl.col("person_id").str.split(":").list.last().alias("source_person_key"),
            pl.lit(dt.date(1970, 1, 1)).alias("dob"),
            pl.lit("M").alias("gender"),
            pl.lit(county).alias("county"),
            pl.lit("court").alias("source"),
            pl.lit(court_file).alias("source_file"),
            "source_line",
        ), model.PERSON, extra=False)
    court_stats = doj_stats.with_columns(pl.lit(court_file).alias("source_file"))

    # Reconciliation -------------------------------------------------------------------------
    pairs = pl.DataFrame({"court_count_id": court_counts["count_id"], "doj_count_id": doj_counts["count_id"],
                          "person_key": doj_counts["person_id"]}).with_row_index("i")
    reconciled = model.conform(pl.concat([
        pairs.filter(pl.col("i") < half).select(
            "court_count_id", "doj_count_id", pl.lit("matched").alias("classification"),
            pl.lit("case number and CII agree").alias("reason"), "person_key",
            pl.lit(0.998).alias("match_probability"), pl.lit(12.5).alias("match_weight"),
            pl.lit("cii,case_number,name,dob").alias("agreement")),
        pairs.filter(pl.col("i") >= half).select(
            "court_count_id", pl.lit(None, pl.String).alias("doj_count_id"),
            pl.lit("court_only").alias("classification"), pl.lit("not in the DOJ file").alias("reason"),
            pl.col("court_count_id").str.replace(r":\d+$", "").alias("person_key")),
        pairs.filter(pl.col("i") >= half).select(
            pl.lit(None, pl.String).alias("court_count_id"), "doj_count_id",
            pl.lit("doj_only").alias("classification"), pl.lit("not in the court extract").alias("reason"),
            "person_key"),
    ], how="diagonal"), model.RECONCILED, extra=False)

    # Eligibility: DOJ counts and court-only counts --------------------------------------------
    decided = pl.concat([doj_counts, court_counts.filter(pl.col("count_id").is_in(
        reconciled.filter(pl.col("classification") == "court_only")["court_count_id"].implode()))])
    which = pl.int_range(0, pl.len(), dtype=pl.Int64)
    determinations = model.conform(decided.select(
        "count_id", "person_id", "case_id", "county",
        _pick(which, tuple(d[0] for d in _DETERMINATIONS)).alias("determination"),
        _pick(which, ("Misdemeanor or Infraction", "Reduce all HS 113xx convictions",
                      "Conviction after 11/9/2016")).alias("reason"),
        _pick(which, ("misdemeanor", "reduce_all", "after_prop64")).alias("rule_id"),
        pl.lit("rules tried: misdemeanor; decided by: level").alias("explanation"),
        _pick(which, tuple(d[1] for d in _DETERMINATIONS)).alias("relief"),
        pl.when(which % 3 == 1).then(pl.lit("HS 11359")).alias("resulting_section"),
        pl.when(which % 3 == 1).then(pl.lit("M")).alias("resulting_level"),
        pl.when(which % 3 != 2).then(pl.lit("HS 11361.8(e)-(f); HS 11361.9")).alias("statutory_basis"),
        pl.lit("sample").alias("policy"),
        pl.lit("1").alias("policy_version"),
        pl.lit(compute_at).alias("compute_at"),
    ), model.DETERMINATION, extra=False)

    # Delivery: one row per actionable determination --------------------------------------------
    actionable = determinations.filter(pl.col("relief") != "none").join(
        decided.select("count_id", "case_number", "count_number", "event_date", "code", "section", "level", "source"),
        on="count_id", how="left", maintain_order="left",
    )
    delivery = model.conform(actionable.select(
        pl.format("19-{}-{}", "case_number", pl.col("count_number").cast(pl.String).str.pad_start(3, "0"))
        .alias("delivery_id"),
        pl.lit("new").alias("action"),
        "county",
        pl.lit("CENTRAL").alias("courthouse"),
        pl.col("case_number").alias("court_case_number"),
        "count_number",
        pl.format("{} {}", "code", "section").alias("statute_as_convicted"),
        pl.col("level").alias("level_as_convicted"),
        pl.col("event_date").alias("conviction_date"),
        pl.lit("DOE, JOHN").alias("defendant_name"),
        pl.lit(dt.date(1970, 1, 1)).alias("dob"),
        pl.lit("010000000").alias("cii"),
        "determination", "relief", "resulting_section", "resulting_level", "statutory_basis",
        pl.lit(False).alias("da_challenged"),
        pl.when(pl.col("source") == "doj").then(pl.lit("doj")).otherwise(pl.lit("court")).alias("source"),
        "count_id",
        pl.lit(RUN_ID).alias("run_id"),
    ), model.DELIVERY_ROW, extra=False)

    # What the deliver stage reads back after staging: the ledger's rows for the delivery and the
    # data rows of the court file (no action or id in this layout) and of the clerk checklist.
    ledger = delivery.select("delivery_id", "action", "count_id", "relief")
    files = pl.concat([
        delivery.with_columns(pl.lit("court_upload.txt").alias("file"), pl.lit(None, pl.String).alias("action"),
                              pl.lit(None, pl.String).alias("delivery_id")).select("file", "action", "delivery_id"),
        delivery.select(pl.lit("clerk_checklist.csv").alias("file"), "action", "delivery_id"),
    ])

    base_ctx = {"compute_at": compute_at, "county": county, "run_id": RUN_ID}
    frames = {
        "doj_input": {"rows": doj_rows, "counts": doj_counts, "persons": doj_persons, "stats": doj_stats,
                      "quarantine": model.empty(model.QUARANTINE)},
        "court_input": {"rows": court_rows, "counts": court_counts, "persons": court_persons,
                        "stats": court_stats, "quarantine": model.empty(model.QUARANTINE)},
        "reconciled": {"reconciled": reconciled, "court_counts": court_counts, "doj_counts": doj_counts},
        "determinations": {"determinations": determinations, "counts": decided},
        "delivery": {"delivery": delivery, "determinations": determinations, "ledger": ledger, "files": files},
    }
    context = {name: dict(base_ctx) for name in frames}
    context["delivery"].update(case_number_pattern=CASE_NUMBER_PATTERN, expected_rows={"new": delivery.height},
                               delivery_files=["court_upload.txt", "clerk_checklist.csv"])
    return SampleCounty(frames=frames, context=context)
