"""Delivery rows: the counts a court must act on, one row per count (DOMAIN.md section 7).

`assemble_delivery` joins the determinations to the counts, persons and reconciliation and sorts
every determined count into one of three piles:

- ``rows``: actionable relief (dismiss, redesignate, recall) with a court case number: delivered;
- ``not_actionable``: the count is known to the court (has a delivery id) but its relief is review
  or none; the ledger uses these to withdraw an earlier delivery whose determination changed;
- ``undeliverable``: no court case number, no count number, a conviction in another county, two
  determinations for one court count that disagree, or different people's records naming the
  same case and count. Reported, never silently dropped.

The delivery id is built from the county, the normalized court case number and the count number
only, so the same court count gets the same id on every refresh, whatever run produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines import model
from pipelines.errors import AutoclearError

# Reliefs a court acts on. "review" and "none" never reach a court file.
ACTIONABLE_RELIEFS: tuple[str, ...] = (
    "dismiss_and_seal",
    "redesignate_misdemeanor",
    "redesignate_infraction",
    "recall_and_resentence",
)

# California's county numbers (01-58, alphabetical), used as the first part of a delivery id.
CALIFORNIA_COUNTIES: tuple[str, ...] = (
    "ALAMEDA", "ALPINE", "AMADOR", "BUTTE", "CALAVERAS", "COLUSA", "CONTRA COSTA", "DEL NORTE",
    "EL DORADO", "FRESNO", "GLENN", "HUMBOLDT", "IMPERIAL", "INYO", "KERN", "KINGS", "LAKE",
    "LASSEN", "LOS ANGELES", "MADERA", "MARIN", "MARIPOSA", "MENDOCINO", "MERCED", "MODOC", "MONO",
    "MONTEREY", "NAPA", "NEVADA", "ORANGE", "PLACER", "PLUMAS", "RIVERSIDE", "SACRAMENTO",
    "SAN BENITO", "SAN BERNARDINO", "SAN DIEGO", "SAN FRANCISCO", "SAN JOAQUIN", "SAN LUIS OBISPO",
    "SAN MATEO", "SANTA BARBARA", "SANTA CLARA", "SANTA CRUZ", "SHASTA", "SIERRA", "SISKIYOU",
    "SOLANO", "SONOMA", "STANISLAUS", "SUTTER", "TEHAMA", "TRINITY", "TULARE", "TUOLUMNE",
    "VENTURA", "YOLO", "YUBA",
)
assert len(CALIFORNIA_COUNTIES) == 58

UNDELIVERABLE_REASONS = (
    "no_case_number",  # the count has no court case number (DOJ row without OFN, no court match)
    "no_count_number",
    "other_county",  # the conviction is in another county: another court acts on it
    "conflicting_determinations",  # two determinations for one court count disagree on relief
    "shared_court_count",  # different people's records name the same case and count (co-defendants?)
)

# Frame of counts that cannot be delivered. No names or dates of birth: it is a work list for the
# DA's data team, who look the case number up by count id and source line.
UNDELIVERABLE: dict[str, pl.DataType] = {
    "count_id": pl.String,
    "person_id": pl.String,
    "case_id": pl.String,
    "county": pl.String,
    "reason": pl.String,  # one of UNDELIVERABLE_REASONS
    "delivery_id": pl.String,  # set for conflicting determinations
    "statute_as_convicted": pl.String,
    "conviction_date": pl.Date,
    "determination": pl.String,
    "relief": pl.String,
    "source": pl.String,
    "source_file": pl.String,
    "source_line": pl.Int64,
}

NOT_ACTIONABLE: dict[str, pl.DataType] = {
    "delivery_id": pl.String,
    "count_id": pl.String,
    "determination": pl.String,
    "relief": pl.String,
}


def county_code(county: str) -> str:
    """The county's two-digit California number ("LOS ANGELES" -> "19"); other names -> a slug."""
    name = " ".join(county.upper().replace("_", " ").split())
    if name.endswith(" COUNTY"):
        name = name[: -len(" COUNTY")]
    if name in CALIFORNIA_COUNTIES:
        return f"{CALIFORNIA_COUNTIES.index(name) + 1:02d}"
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_") or "COUNTY"


def delivery_id_expr(county: str, case_number: pl.Expr, count_number: pl.Expr) -> pl.Expr:
    """``<county code>-<normalized case number>-<count, 3 digits>``, e.g. ``19-BA336486-01-003``.

    Readable by a clerk and stable across refreshes; unambiguous because the county code has no
    dash and the count is always after the last dash.
    """
    return pl.concat_str(
        pl.lit(county_code(county)),
        pl.lit("-"),
        case_number,
        pl.lit("-"),
        count_number.cast(pl.String).str.pad_start(3, "0"),
    )


def normalize_case_number(expr: pl.Expr) -> pl.Expr:
    """The shared normalized form (pipelines.normalize.case_numbers): ``BA-788777`` and ``ba 788777``
    are both ``BA788777``, so both sources give one court count one delivery id."""
    from pipelines.normalize.case_numbers import normalize_case_number as shared  # noqa: PLC0415

    return shared(expr)


@dataclass
class DeliveryBuild:
    """Everything `assemble_delivery` found: what to deliver, and what it could not deliver."""

    rows: pl.DataFrame  # model.DELIVERY_ROW, action "new" until the ledger plans it
    not_actionable: pl.DataFrame  # NOT_ACTIONABLE
    undeliverable: pl.DataFrame  # UNDELIVERABLE

    @property
    def needs_case_number(self) -> pl.DataFrame:
        """Counts the court cannot act on until someone finds their court case number."""
        return self.undeliverable.filter(pl.col("reason").is_in(["no_case_number", "no_count_number"]))

    def summary(self) -> dict[str, Any]:
        by_reason = dict(self.undeliverable.group_by("reason").len().sort("reason").iter_rows())
        by_relief = dict(self.rows.group_by("relief").len().sort("relief").iter_rows())
        return {
            "deliverable": self.rows.height,
            "by_relief": by_relief,
            "not_actionable": self.not_actionable.height,
            "undeliverable": self.undeliverable.height,
            "undeliverable_by_reason": by_reason,
        }


def _county_name(county_config: Any, county: str | None, determinations: pl.DataFrame) -> str:
    if county_config is not None:
        name = getattr(county_config, "doj_county_name", None) or getattr(county_config, "name", None)
        if name:
            return str(name).upper()
    if county:
        return county.upper().replace("_", " ")
    found = determinations.get_column("county").drop_nulls().unique().to_list()
    if len(found) == 1:
        return str(found[0]).upper()
    raise AutoclearError(
        f"cannot tell which county this delivery is for (determinations name {len(found)} counties); "
        "pass county_config or county"
    )


def _source_and_partner(counts: pl.DataFrame, reconciled: pl.DataFrame | None) -> pl.DataFrame:
    """count_id -> (source: doj/court/both, partner_count_id: the same count in the other source)."""
    own = counts.select("count_id", pl.col("source").alias("record_source"))
    if reconciled is None or reconciled.height == 0:
        return own.with_columns(
            pl.col("record_source").alias("source"), pl.lit(None, pl.String).alias("partner_count_id")
        ).drop("record_source")
    rec = reconciled.select("court_count_id", "doj_count_id", "classification")
    matched = rec.filter(pl.col("classification") == "matched")
    sides = pl.concat(
        [
            matched.select(
                pl.col("doj_count_id").alias("count_id"),
                pl.lit("both").alias("rec_source"),
                pl.col("court_count_id").alias("partner_count_id"),
            ),
            matched.select(
                pl.col("court_count_id").alias("count_id"),
                pl.lit("both").alias("rec_source"),
                pl.col("doj_count_id").alias("partner_count_id"),
            ),
            rec.filter(pl.col("classification") == "court_only").select(
                pl.col("court_count_id").alias("count_id"),
                pl.lit("court").alias("rec_source"),
                pl.lit(None, pl.String).alias("partner_count_id"),
            ),
            rec.filter(pl.col("classification") == "doj_only").select(
                pl.col("doj_count_id").alias("count_id"),
                pl.lit("doj").alias("rec_source"),
                pl.lit(None, pl.String).alias("partner_count_id"),
            ),
        ]
    ).drop_nulls("count_id")
    # A count matched more than once keeps its first partner (sorted, so deterministic).
    best = (
        sides.sort("count_id", pl.col("rec_source") != "both", "partner_count_id", nulls_last=True)
        .group_by("count_id", maintain_order=True)
        .first()
    )
    return (
        own.join(best, on="count_id", how="left")
        .select(
            "count_id",
            pl.coalesce("rec_source", "record_source").alias("source"),
            "partner_count_id",
        )
    )


def _statute(code: pl.Expr, section: pl.Expr, subsection: pl.Expr) -> pl.Expr:
    """"HS 11359(b)" from code, section, subsection."""
    text = pl.concat_str(
        code.fill_null(""), pl.lit(" "), section.fill_null(""), subsection.fill_null(""), ignore_nulls=True
    ).str.strip_chars()
    return pl.when(section.is_null()).then(None).otherwise(text)


def _defendant_name(persons: pl.DataFrame) -> pl.Expr:
    given = pl.concat_str(
        pl.col("first_name"), pl.col("middle_name"), pl.col("name_suffix"), separator=" ", ignore_nulls=True
    )
    formatted = pl.concat_str(pl.col("last_name"), pl.lit(", "), given, ignore_nulls=False)
    return (
        pl.when(pl.col("last_name").is_null())
        .then(pl.col("name_raw"))
        .when(given.str.len_chars() == 0)
        .then(pl.col("last_name"))
        .otherwise(formatted)
    )


def _challenged(keyed: pl.DataFrame, da_challenges: pl.DataFrame | None) -> pl.Expr:
    if da_challenges is None or da_challenges.height == 0:
        return pl.lit(False)
    conditions: list[pl.Expr] = []
    if "count_id" in da_challenges.columns:
        ids = da_challenges.get_column("count_id").drop_nulls().unique()
        conditions.append(pl.col("count_id").is_in(ids) | pl.col("partner_count_id").is_in(ids))
    if "delivery_id" in da_challenges.columns:
        conditions.append(pl.col("delivery_id").is_in(da_challenges.get_column("delivery_id").drop_nulls().unique()))
    if {"court_case_number", "count_number"} <= set(da_challenges.columns):
        pairs = da_challenges.select(
            normalize_case_number(pl.col("court_case_number").cast(pl.String)).alias("_c"),
            pl.col("count_number").cast(pl.Int32).alias("_n"),
        ).drop_nulls()
        key = pl.concat_str(pl.col("court_case_number"), pl.lit("\x1f"), pl.col("count_number").cast(pl.String))
        pair_keys = pairs.select(pl.concat_str("_c", pl.lit("\x1f"), pl.col("_n").cast(pl.String))).to_series()
        conditions.append(key.is_in(pair_keys))
    if not conditions:
        raise AutoclearError(
            "DA challenges need a count_id, delivery_id, or court_case_number + count_number column; "
            f"got {', '.join(da_challenges.columns)}"
        )
    return pl.any_horizontal(conditions).fill_null(False)


def assemble_delivery(
    determinations: pl.DataFrame,
    counts: pl.DataFrame,
    persons: pl.DataFrame,
    reconciled: pl.DataFrame | None = None,
    *,
    county_config: Any = None,
    county: str | None = None,
    run_id: str,
    da_challenges: pl.DataFrame | None = None,
) -> DeliveryBuild:
    """Sort every determined count into deliverable rows, not-actionable ids and undeliverable counts.

    Every determination ends up in exactly one pile (checked): rows + not_actionable +
    undeliverable (+ duplicates folded into one court count) = determinations.
    """
    county_name = _county_name(county_config, county, determinations)
    dup = determinations.height - determinations.get_column("count_id").n_unique()
    if dup:
        raise AutoclearError(f"determinations name {dup} count id(s) more than once; expected one per count")

    det = model.conform(determinations, model.DETERMINATION, extra=False)
    cnt = model.conform(counts, model.COUNT, extra=False)
    if "courthouse" in counts.columns:
        cnt = cnt.with_columns(counts.get_column("courthouse").cast(pl.String))
    else:
        cnt = cnt.with_columns(pl.lit(None, pl.String).alias("courthouse"))
    per = model.conform(persons, model.PERSON, extra=False).with_columns(
        _defendant_name(persons).alias("defendant_name")
    ).select("person_id", "defendant_name", "dob", "cii").unique("person_id", keep="first", maintain_order=True)

    count_side = cnt.select(
        "count_id",
        pl.col("person_id").alias("count_person_id"),
        normalize_case_number(pl.col("case_number")).alias("case_number"),
        "count_number",
        pl.col("county").alias("count_county"),
        "courthouse",
        pl.col("event_date").alias("conviction_date"),
        _statute(pl.col("code"), pl.col("section"), pl.col("subsection")).alias("statute_as_convicted"),
        pl.col("level").alias("level_as_convicted"),
        "source_file",
        "source_line",
        pl.col("source").alias("record_source"),
        pl.lit(True).alias("_known_count"),
    ).join(per, left_on="count_person_id", right_on="person_id", how="left")
    partner_side = count_side.select(
        pl.col("count_id").alias("partner_count_id"),
        *[pl.col(c).alias(f"p_{c}") for c in count_side.columns if c != "count_id"],
    )
    lineage = _source_and_partner(cnt, reconciled)

    keyed = (
        det.join(count_side, on="count_id", how="left")
        .join(lineage, on="count_id", how="left")
        .join(partner_side, on="partner_count_id", how="left")
    )
    missing_count = keyed.filter(pl.col("_known_count").is_null()).height
    if missing_count:
        raise AutoclearError(f"{missing_count} determination(s) name a count id that is not in the counts frame")

    # The court's own numbering wins: for a DOJ count matched to a court count, the court count's
    # case and count number (what the court's system knows); otherwise the count's own.
    use_partner = pl.col("p_case_number").is_not_null() & (
        ((pl.col("p_record_source") == "court") & (pl.col("record_source") != "court"))
        | pl.col("case_number").is_null()
    )
    keyed = keyed.with_columns(
        pl.when(use_partner).then(pl.col("p_case_number")).otherwise(pl.col("case_number")).alias("court_case_number"),
        pl.when(use_partner).then(pl.col("p_count_number")).otherwise(pl.col("count_number")).alias("count_number"),
        pl.coalesce("courthouse", "p_courthouse").alias("courthouse"),
        pl.coalesce("conviction_date", "p_conviction_date").alias("conviction_date"),
        pl.coalesce("statute_as_convicted", "p_statute_as_convicted").alias("statute_as_convicted"),
        pl.coalesce("level_as_convicted", "p_level_as_convicted").alias("level_as_convicted"),
        pl.coalesce("defendant_name", "p_defendant_name").alias("defendant_name"),
        pl.coalesce("dob", "p_dob").alias("dob"),
        pl.coalesce("cii", "p_cii").alias("cii"),
        pl.coalesce("count_county", "county").str.to_uppercase().alias("event_county"),
        pl.lit(county_name).alias("county"),
        pl.coalesce("source", pl.lit(None, pl.String)).alias("source"),
    )
    keyed = keyed.with_columns(
        pl.when(pl.col("event_county") != county_name)
        .then(pl.lit("other_county"))
        .when(pl.col("court_case_number").is_null())
        .then(pl.lit("no_case_number"))
        .when(pl.col("count_number").is_null())
        .then(pl.lit("no_count_number"))
        .otherwise(None)
        .alias("_undeliverable"),
        delivery_id_expr(county_name, pl.col("court_case_number"), pl.col("count_number")).alias("delivery_id"),
    )

    located = keyed.filter(pl.col("_undeliverable").is_null())
    # Two determinations can land on one court count. The same record (a matched DOJ/court pair
    # both determined, or one person's count repeated in two DOJ steps) with one relief folds into
    # one row. Different people on one case and count (co-defendants without a suffix) or
    # different reliefs: nobody may guess, the counts are reported.
    pair = pl.concat_str(pl.min_horizontal("count_id", "partner_count_id"), pl.lit("|"),
                         pl.max_horizontal("count_id", "partner_count_id"))
    fold_key = (
        pl.when(pl.col("partner_count_id").is_not_null()).then(pl.concat_str(pl.lit("pair:"), pair))
        .otherwise(pl.concat_str(pl.lit("person:"), pl.coalesce("count_person_id", "count_id")))
    )
    per_id = located.with_columns(fold_key.alias("_fold_key")).group_by("delivery_id").agg(
        pl.col("relief").n_unique().alias("_reliefs"),
        pl.col("_fold_key").n_unique().alias("_records"),
        pl.col("source").n_unique().alias("_sources"),
    )
    located = located.join(per_id, on="delivery_id", how="left")
    conflicting = located.filter((pl.col("_reliefs") > 1) | (pl.col("_records") > 1)).with_columns(
        pl.when(pl.col("_reliefs") > 1).then(pl.lit("conflicting_determinations"))
        .otherwise(pl.lit("shared_court_count")).alias("_undeliverable")
    )
    located = located.filter((pl.col("_reliefs") == 1) & (pl.col("_records") == 1))
    agreed = (
        located
        .with_columns(
            pl.when(pl.col("_sources") > 1).then(pl.lit("both")).otherwise(pl.col("source")).alias("source")
        )
        # Prefer the DOJ count as the lineage: DOJ ids are what DOJ updates under PC 13151.
        .sort("delivery_id", pl.col("source_file").is_null(), pl.col("count_id").str.starts_with("doj:").not_(),
              "count_id")
        .unique("delivery_id", keep="first", maintain_order=True)
    )
    agreed = agreed.with_columns(_challenged(agreed, da_challenges).alias("da_challenged"))

    actionable = pl.col("relief").is_in(list(ACTIONABLE_RELIEFS))
    rows = model.conform(
        agreed.filter(actionable).with_columns(
            pl.lit("new").alias("action"),
            pl.lit(run_id).alias("run_id"),
        ),
        model.DELIVERY_ROW,
        extra=False,
    ).sort("court_case_number", "count_number", "delivery_id")
    not_actionable = model.conform(agreed.filter(~actionable), NOT_ACTIONABLE, extra=False).sort("delivery_id")
    undeliverable = model.conform(
        pl.concat(
            [
                keyed.filter(pl.col("_undeliverable").is_not_null()).with_columns(
                    pl.when(pl.col("_undeliverable") == "other_county")
                    .then(pl.col("event_county"))
                    .otherwise(pl.col("county"))
                    .alias("county"),
                    pl.lit(None, pl.String).alias("delivery_id"),
                ),
                conflicting.select(keyed.columns),
            ],
            how="vertical_relaxed",
        ).with_columns(pl.col("_undeliverable").alias("reason")),
        UNDELIVERABLE,
        extra=False,
    ).sort("reason", "count_id")

    folded = located.height - agreed.height
    accounted = rows.height + not_actionable.height + undeliverable.height + folded
    if accounted != determinations.height:  # pragma: no cover - a bug, not bad input
        raise AutoclearError(
            f"delivery lost determinations: {determinations.height} in, {accounted} accounted for"
        )
    return DeliveryBuild(rows=rows, not_actionable=not_actionable, undeliverable=undeliverable)


def build_delivery(
    determinations: pl.DataFrame,
    counts: pl.DataFrame,
    persons: pl.DataFrame,
    reconciled: pl.DataFrame | None = None,
    *,
    county_config: Any = None,
    county: str | None = None,
    run_id: str,
    da_challenges: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The DELIVERY_ROW frame: one row per count the court must act on (actionable relief only).

    Counts with no court case number are not in it: use `assemble_delivery` to get them as well
    (its ``needs_case_number`` list), and report them.
    """
    return assemble_delivery(
        determinations, counts, persons, reconciled,
        county_config=county_config, county=county, run_id=run_id, da_challenges=da_challenges,
    ).rows
