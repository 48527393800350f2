"""Small made-up inputs for delivery tests, benchmarks and crash drills (no real person in them).

`sample_frames(n)` returns determinations, counts, persons and reconciliation frames shaped like
the real stages' outputs: DOJ counts (some matched to a court count), court-only counts, a few
counts with no case number, and reliefs of every kind.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines import model

_LAST = ["ALVAREZ", "BROWN", "CHEN", "DAVIS", "EVANS", "FLORES", "GARCIA", "HARRIS", "IBARRA", "JONES"]
_FIRST = ["ALEX", "BLAKE", "CASEY", "DANA", "EMERY", "FRANKIE", "GRAY", "HARPER", "JORDAN", "KAI"]
_RELIEF_CYCLE = [
    ("Eligible for Dismissal", "dismiss_and_seal", None, None, "HS 11361.8(f); HS 11361.9"),
    ("Eligible for Reduction", "redesignate_misdemeanor", "HS 11359", "M", "HS 11361.8(f); HS 11361.9"),
    ("Eligible for Dismissal", "dismiss_and_seal", None, None, "HS 11361.8(f); HS 11361.9"),
    ("Hand Review", "review", None, None, None),
    ("Eligible for Reduction", "redesignate_infraction", "HS 11360(b)", "I", "HS 11361.8(f); HS 11361.9"),
    ("Not eligible", "none", None, None, None),
    ("Eligible for Dismissal", "recall_and_resentence", None, None, "HS 11361.8(b); HS 11361.9"),
]


def sample_frames(
    n_counts: int, *, county: str = "LOS ANGELES", changed_every: int = 0, offset: int = 0
) -> dict[str, pl.DataFrame]:
    """Made-up frames for `n_counts` cannabis counts (2 counts per person, 2 per case).

    ``changed_every=k`` flips the relief of every k-th count (a refresh whose policy or facts
    changed); ``offset`` shifts which counts exist (a refresh that brings new counts).
    """
    i = pl.int_range(offset, offset + n_counts, eager=True).alias("i")
    base = pl.DataFrame(i).with_columns(
        (pl.col("i") // 2).alias("p"),
        (pl.col("i") % 2 + 1).cast(pl.Int32).alias("count_number"),
    )
    court_only = pl.col("p") % 5 == 4
    persons = base.unique("p", maintain_order=True).select(
        pl.when(court_only)
        .then(pl.format("court:{}:P{}", pl.lit(county), pl.col("p")))
        .otherwise(pl.format("doj:{}", pl.col("p").cast(pl.String).str.pad_start(8, "0")))
        .alias("person_id"),
        pl.col("p").cast(pl.String).alias("source_person_key"),
        pl.when(pl.col("p") % 4 == 0).then(None)
        .otherwise(pl.col("p").cast(pl.String).str.pad_start(9, "0")).alias("cii"),
        (pl.col("p") % len(_LAST)).replace_strict(dict(enumerate(_LAST)), return_dtype=pl.String)
        .alias("last_name"),
        ((pl.col("p") // 3) % len(_FIRST)).replace_strict(dict(enumerate(_FIRST)), return_dtype=pl.String)
        .alias("first_name"),
        (pl.lit(date(1960, 1, 1)) + pl.duration(days=(pl.col("p") * 37) % 12000)).alias("dob"),
        pl.lit(county).alias("county"),
        pl.when(court_only).then(pl.lit("court")).otherwise(pl.lit("doj")).alias("source"),
    )
    person_id = (
        pl.when(court_only)
        .then(pl.format("court:{}:P{}", pl.lit(county), pl.col("p")))
        .otherwise(pl.format("doj:{}", pl.col("p").cast(pl.String).str.pad_start(8, "0")))
    )
    case_no = pl.format("BA{}", (300000 + pl.col("p")).cast(pl.String))
    counts = base.select(
        pl.when(court_only)
        .then(pl.format("court:{}:{}:{}", pl.lit(county), case_no, pl.col("count_number")))
        .otherwise(pl.format("doj:{}:001001{}000", pl.col("p").cast(pl.String).str.pad_start(8, "0"),
                             pl.col("count_number").cast(pl.String).str.pad_start(3, "0")))
        .alias("count_id"),
        person_id.alias("person_id"),
        pl.format("case:{}", pl.col("p")).alias("case_id"),
        pl.lit(county).alias("county"),
        case_no.alias("case_numbers"),
        # every 25th DOJ count has no court case number (no OFN, no court match)
        pl.when((pl.col("i") % 25 == 3) & ~court_only).then(None).otherwise(case_no).alias("case_number"),
        "count_number",
        pl.lit("COURT").alias("step_type"),
        (pl.lit(date(1995, 1, 1)) + pl.duration(days=(pl.col("i") * 13) % 7000)).alias("event_date"),
        pl.lit("HS").alias("code"),
        (pl.col("i") % 4).replace_strict({0: "11357", 1: "11358", 2: "11359", 3: "11360"}, return_dtype=pl.String)
        .alias("section"),
        pl.lit("").alias("subsection"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("M")).otherwise(pl.lit("F")).alias("level"),
        pl.lit("convicted").alias("disposition"),
        pl.lit(True).alias("is_conviction"),
        pl.when(court_only).then(pl.lit("court")).otherwise(pl.lit("doj")).alias("source"),
        pl.when(court_only).then(pl.lit("court_extract.csv")).otherwise(pl.lit("doj_research.dat"))
        .alias("source_file"),
        (pl.col("i") + 2).alias("source_line"),
    )
    shift = (pl.col("i") % changed_every == 0).cast(pl.Int64) if changed_every else pl.lit(0, pl.Int64)
    k = ((pl.col("i") + shift) % len(_RELIEF_CYCLE)).cast(pl.Int64)
    table = pl.DataFrame(
        _RELIEF_CYCLE, schema=["determination", "relief", "resulting_section", "resulting_level",
                               "statutory_basis"], orient="row",
    ).with_row_index("k").with_columns(pl.col("k").cast(pl.Int64))
    determinations = (
        base.with_columns(k.alias("k"))
        .join(table, on="k", how="left")
        .select(
            counts.get_column("count_id"),
            counts.get_column("person_id"),
            counts.get_column("case_id"),
            pl.lit(county).alias("county"),
            "determination",
            pl.lit("sample").alias("reason"),
            pl.lit("sample_rule").alias("rule_id"),
            pl.lit("").alias("explanation"),
            "relief",
            "resulting_section",
            "resulting_level",
            "statutory_basis",
            pl.lit("sample_policy").alias("policy"),
            pl.lit("1").alias("policy_version"),
            pl.lit(date(2024, 1, 1)).alias("compute_at"),
        )
    )
    # Every 5th DOJ count is matched to a court count (the court extract is not in these frames:
    # only the DOJ side is determined, as the eligibility engine does for matched counts).
    doj_counts = counts.filter(pl.col("source") == "doj")
    reconciled = doj_counts.select(
        pl.when(pl.col("source_line") % 5 == 0).then(pl.format("court:{}:{}", pl.lit(county), pl.col("count_id")))
        .alias("court_count_id"),
        pl.col("count_id").alias("doj_count_id"),
        pl.when(pl.col("source_line") % 5 == 0).then(pl.lit("matched")).otherwise(pl.lit("doj_only"))
        .alias("classification"),
    )
    reconciled = pl.concat(
        [
            reconciled,
            counts.filter(pl.col("source") == "court").select(
                pl.col("count_id").alias("court_count_id"),
                pl.lit(None, pl.String).alias("doj_count_id"),
                pl.lit("court_only").alias("classification"),
            ),
        ]
    )
    return {
        "determinations": model.conform(determinations, model.DETERMINATION),
        "counts": model.conform(counts, model.COUNT),
        "persons": model.conform(persons, model.PERSON),
        "reconciled": model.conform(reconciled, model.RECONCILED),
    }
