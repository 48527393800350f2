"""Reconciliation at count level: which cannabis counts both sources show, which only the court
shows (the cases DOJ missed) and which only DOJ shows, with the evidence for every match.

    unified = linkage.unify_persons(doj_persons, court_persons, links, doj_clusters=..., court_clusters=...)
    reconciled = reconcile(doj_counts, court_counts, unified, person_matches=links.matches)
    history = unified_history(doj_counts, court_counts, reconciled, unified)
    people = unified_people(doj_persons, court_persons, unified)
    # eligibility runs on (history, people); then:
    determinations = caution_court_only(determinations, history)

Cannabis count: Health and Safety Code 11357-11360, read from the count's code/section; also a
court count whose charge field is unreadable but whose comment names such a statute, and a court
count whose section is one keystroke from one of them (11375 for 11357) while its description
says marijuana or cannabis (a mis-keyed section). DOJ counts are reconciled from their court
steps only (arrests are not court cases).

Two counts match when they belong to the same unified person and to the same court case (county
and case number, the defendant suffix allowed to be missing on one side) and agree on the count
number, the section or the date; or, when a case number is missing, agree on both the date and
the section. Each count is matched at most once: best evidence first, ties broken by ids.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import polars as pl

from pipelines.model import COUNT, PERSON, RECONCILED, conform
from pipelines.normalize.case_numbers import case_number_keys

CANNABIS_SECTIONS = ("11357", "11358", "11359", "11360")
_CANNABIS_WORDS = r"MARIJUANA|MARIHUANA|CANNABIS|HASH|CONCENTRATED"

# RECONCILED, then what a reader of the reconciliation needs next to it.
RECONCILED_EXTRA: dict[str, pl.DataType] = {
    "county": pl.String,
    "case_number": pl.String,  # normalized, from the court count (else DOJ's)
    "count_number": pl.Int32,
    "section": pl.String,  # "HS 11359(a)" as the court (else DOJ) has it
    "court_person_id": pl.String,
    "doj_person_id": pl.String,
    "court_disposition": pl.String,
    "doj_disposition": pl.String,
    "cannabis_basis": pl.String,  # "section" | "comment" | "miskeyed section": why it counts as cannabis
    "notes": pl.String,  # disagreements worth a look ("section differs: court HS 11375")
}
RECONCILED_OUT = {**RECONCILED, **RECONCILED_EXTRA}

REASONS = {
    "court_only_new_person": "DOJ missed the case (person not in the DOJ file)",
    "court_only_case": "DOJ missed the case",
    "court_only_count": "DOJ missed the count (DOJ has the case)",
    "doj_only_out_of_county": "out of county",
    "doj_only_no_case": "case not in the court extract",
    "doj_only_other_charge": "court shows another charge for this count",
    "doj_only_no_count": "count not in the court's case",
    "dismissed": "dismissed in court",
    "acquitted": "acquitted in court",
}

HISTORY_BASES = ("doj+court", "court_only")


# ---------------------------------------------------------------------------------------------
# Person keys


def person_keys(person_links: pl.DataFrame) -> pl.DataFrame:
    """person_id -> person_key from either a unified-person frame (linkage.UNIFIED_PERSONS) or a
    matches/links frame (left_id, right_id[, is_match]); the latter is clustered here."""
    if "person_key" in person_links.columns:
        return person_links.select("person_id", "person_key", *(
            [c] if (c := "known_to_doj") in person_links.columns else []
        )).unique("person_id", keep="first")
    from pipelines.linkage.clusters import connected_components  # noqa: PLC0415

    links = person_links
    if "is_match" in links.columns:
        links = links.filter(pl.col("is_match"))
    nodes = pl.concat([links["left_id"], links["right_id"]]).unique()
    comps = connected_components(nodes, links.select("left_id", "right_id"))
    return comps.select(pl.col("node").alias("person_id"), pl.col("cluster").alias("person_key"))


def _keyed(counts: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    # A court extract's own person key column (a reader extra) is not the unified key.
    counts = counts.drop("person_key", strict=False)
    # The key is looked up on the person column alone and added beside the others: a join of the
    # whole frame would copy every column (a million wide count rows).
    found = counts.select("person_id").join(
        keys.select("person_id", "person_key"), on="person_id", how="left", maintain_order="left"
    )
    return counts.with_columns(pl.coalesce(found["person_key"], counts["person_id"]).alias("person_key"))


# ---------------------------------------------------------------------------------------------
# Which counts are cannabis counts


def _one_keystroke_from_cannabis(section: pl.Expr) -> pl.Expr:
    """Section numbers one transposition or one substituted digit away from 11357-11360."""
    variants: set[str] = set()
    for s in CANNABIS_SECTIONS:
        for i in range(len(s) - 1):
            variants.add(s[:i] + s[i + 1] + s[i] + s[i + 2:])
        for i in range(len(s)):
            variants.update(s[:i] + d + s[i + 1:] for d in "0123456789")
    return section.is_in(sorted(variants - set(CANNABIS_SECTIONS)))


def cannabis_counts(counts: pl.DataFrame, *, source: Literal["doj", "court"]) -> pl.DataFrame:
    """The cannabis counts of a COUNT frame, with `cannabis_basis` and the section they count as.

    DOJ: court steps whose statute is HS 11357-11360. Court: the same, plus the comment and
    mis-keyed-section cases described in the module docstring.
    """
    frame = conform(counts, COUNT)
    code = pl.col("code").fill_null("").str.to_uppercase()
    section = pl.col("section")
    by_section = code.is_in(["HS", ""]) & section.is_in(CANNABIS_SECTIONS)
    comment_statute = (
        pl.col("comment_sections").fill_null([])
        .list.eval(pl.element().str.extract(r"^(?:HS\s*)?(1135[789]|11360)\b", 1)).list.drop_nulls().list.first()
    )
    if source == "doj":
        frame = frame.filter(pl.col("step_type") == "COURT")
        return frame.filter(by_section.fill_null(False)).with_columns(
            pl.lit("section").alias("cannabis_basis"), section.alias("cannabis_section")
        )
    # Cheap tests first: only the few counts that can be cannabis reach the regular expressions.
    miskeyed = _one_keystroke_from_cannabis(section)
    frame = frame.filter(
        by_section.fill_null(False)
        | (section.is_null() & (pl.col("comment_sections").list.len() > 0)).fill_null(False)
        | miskeyed.fill_null(False)
    )
    # The charge's own description (court extras) tells a mis-keyed section from a real one.
    says_cannabis = (
        pl.col("charge_description").str.contains(f"(?i){_CANNABIS_WORDS}").fill_null(False)
        if "charge_description" in counts.columns else pl.lit(False)
    )
    basis = (
        pl.when(by_section).then(pl.lit("section"))
        .when(section.is_null() & comment_statute.is_not_null()).then(pl.lit("comment"))
        .when(miskeyed & says_cannabis).then(pl.lit("miskeyed section"))
    )
    return (
        frame.with_columns(basis.alias("cannabis_basis"))
        .filter(pl.col("cannabis_basis").is_not_null())
        .with_columns(
            pl.when(pl.col("cannabis_basis") == "comment").then(comment_statute).otherwise(section)
            .alias("cannabis_section")
        )
    )


def _case_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Every case number a count carries, one row each: count_id, case_base and case_full
    ("COUNTY|NUMBER" keys, without and with the defendant suffix) and normalized; in the order
    written. Each distinct number is parsed once (most counts share their case's number)."""
    numbers = pl.coalesce(pl.col("case_numbers"), pl.col("case_number")).str.split(";")
    county = pl.col("county").fill_null("").str.to_uppercase().str.strip_chars() + "|"
    exploded = frame.select("count_id", county.alias("_county"), numbers.alias("_n")).explode("_n")
    keyed = case_number_keys(exploded, "_n").filter(pl.col("base").is_not_null())
    return keyed.select(
        "count_id",
        (pl.col("_county") + pl.col("base")).alias("case_base"),
        (pl.col("_county") + pl.col("normalized")).alias("case_full"),
        "normalized",
    )


def _case_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """case_bases / case_fulls: every case number a count carries, as "COUNTY|NUMBER" keys."""
    keys = _case_keys(frame).group_by("count_id").agg(
        pl.col("case_base").unique().sort().alias("case_bases"),
        pl.col("case_full").unique().sort().alias("case_fulls"),
        pl.col("normalized").first().alias("case_normalized"),
    )
    return frame.join(keys, on="count_id", how="left")


def _case_index(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """(count_id, case_bases, *columns) with one row per distinct case base of each count; what
    _case_columns(frame).explode("case_bases").drop_nulls("case_bases") gives, without the lists."""
    keys = _case_keys(frame).select("count_id", pl.col("case_base").alias("case_bases")).unique(maintain_order=True)
    return keys.join(frame.select("count_id", *columns), on="count_id", how="left")


class ReconcileInputs:
    """What reconcile and unified_history both derive from the same inputs, derived once when
    both are given the same instance (the flow's reconcile stage does)."""

    def __init__(self, doj_counts: pl.DataFrame, court_counts: pl.DataFrame, person_links: pl.DataFrame):
        self.doj_counts, self.court_counts, self.person_links = doj_counts, court_counts, person_links

    @cached_property
    def keys(self) -> pl.DataFrame:
        return person_keys(self.person_links)

    @cached_property
    def doj_all(self) -> pl.DataFrame:
        return _keyed(conform(self.doj_counts, COUNT), self.keys)

    @cached_property
    def court_all(self) -> pl.DataFrame:
        return _keyed(conform(self.court_counts, COUNT), self.keys)

    @cached_property
    def court_cannabis(self) -> pl.DataFrame:
        return cannabis_counts(self.court_counts, source="court")

    @cached_property
    def doj_case_bases(self) -> pl.DataFrame:
        """(person_key, case_bases) of every DOJ court step."""
        return _case_index(self.doj_all.filter(pl.col("step_type") == "COURT"), "person_key").select(
            "person_key", "case_bases"
        ).drop_nulls().unique()

    @cached_property
    def court_case_index(self) -> pl.DataFrame:
        return _case_index(self.court_all, "person_key", "count_number")


# ---------------------------------------------------------------------------------------------
# Matching


def _candidates(court: pl.DataFrame, doj: pl.DataFrame) -> pl.DataFrame:
    cols = ["count_id", "person_key", "county", "case_bases", "case_fulls", "count_number", "event_date",
            "cannabis_section", "subsection", "level"]
    c = court.select(cols).rename(lambda n: n if n == "person_key" else f"c_{n}")
    d = doj.select(cols).rename(lambda n: n if n == "person_key" else f"d_{n}")
    pairs = c.join(d, on="person_key", how="inner")
    same_county = (pl.col("c_county") == pl.col("d_county")).fill_null(True)
    full = pl.col("c_case_fulls").list.set_intersection(pl.col("d_case_fulls")).list.len() > 0
    base = pl.col("c_case_bases").list.set_intersection(pl.col("d_case_bases")).list.len() > 0
    no_number = pl.col("c_case_bases").is_null() | pl.col("d_case_bases").is_null()
    days = (pl.col("c_event_date") - pl.col("d_event_date")).dt.total_days().abs()
    same_count = (pl.col("c_count_number") == pl.col("d_count_number")).fill_null(False)
    same_section = (pl.col("c_cannabis_section") == pl.col("d_cannabis_section")).fill_null(False)
    same_sub = (pl.col("c_subsection").fill_null("") == pl.col("d_subsection").fill_null("")) & same_section
    same_level = (pl.col("c_level") == pl.col("d_level")).fill_null(False)
    close = (days <= 3).fill_null(False)
    pairs = pairs.with_columns(
        full.fill_null(False).alias("_full"), base.fill_null(False).alias("_base"), no_number.alias("_no_number"),
        days.alias("_days"), same_count.alias("_count"), same_section.alias("_section"), same_sub.alias("_sub"),
        same_level.alias("_level"), close.alias("_close"), same_county.alias("_county"),
    )
    admissible = pl.col("_county") & (
        (pl.col("_base") & (pl.col("_count") | pl.col("_section") | pl.col("_close")))
        | (pl.col("_no_number") & pl.col("_close") & pl.col("_section"))
    )
    score = (
        pl.col("_full").cast(pl.Int32) * 64 + pl.col("_base").cast(pl.Int32) * 32 + pl.col("_count").cast(pl.Int32) * 16
        + pl.col("_section").cast(pl.Int32) * 8 + (pl.col("_days") == 0).fill_null(False).cast(pl.Int32) * 4
        + pl.col("_sub").cast(pl.Int32) * 2 + pl.col("_level").cast(pl.Int32)
    )
    return pairs.filter(admissible).with_columns(score.alias("_score"))


def _assign(pairs: pl.DataFrame) -> pl.DataFrame:
    """One-to-one: repeatedly keep pairs that are each other's best (score, then ids), drop their
    counts, until none are left. Rounds, not rows, are iterated."""
    chosen = []
    remaining = pairs.sort(["_score", "c_count_id", "d_count_id"], descending=[True, False, False])
    while remaining.height:
        best_c = remaining.unique("c_count_id", keep="first", maintain_order=True)
        best_d = remaining.unique("d_count_id", keep="first", maintain_order=True)
        mutual = best_c.join(best_d.select("c_count_id", "d_count_id"), on=["c_count_id", "d_count_id"], how="semi")
        if mutual.height == 0:  # cannot happen with a strict order; kept as a guard
            break
        chosen.append(mutual)
        remaining = remaining.join(mutual.select("c_count_id"), on="c_count_id", how="anti").join(
            mutual.select("d_count_id"), on="d_count_id", how="anti"
        )
    return pl.concat(chosen) if chosen else pairs.head(0)


def _person_evidence(person_matches: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"d_person_id": pl.String, "c_person_id": pl.String, "match_probability": pl.Float64,
              "match_weight": pl.Float64, "person_agreement": pl.String}
    if person_matches is None or person_matches.height == 0:
        return pl.DataFrame(schema=schema)
    return person_matches.select(
        pl.col("left_id").alias("d_person_id"), pl.col("right_id").alias("c_person_id"),
        "match_probability", "match_weight", pl.col("agreement").alias("person_agreement"),
    )


def reconcile(
    doj_counts: pl.DataFrame,
    court_counts: pl.DataFrame,
    person_links: pl.DataFrame,
    *,
    person_matches: pl.DataFrame | None = None,
    court_counties: list[str] | None = None,
    prepared: ReconcileInputs | None = None,
) -> pl.DataFrame:
    """One row per cannabis count of either source (RECONCILED, then RECONCILED_EXTRA).

    `person_links` is the unified-person frame (`linkage.unify_persons`), or links (left_id = DOJ
    person, right_id = court person). `person_matches` (a LinkResult's matches, DOJ on the left)
    supplies the match probability, weight and agreeing fields of the two persons. A DOJ count in
    a county the court extract does not cover (`court_counties`, by default the counties of the
    court counts) is DOJ-only "out of county". Sorted by classification, then ids.
    """
    inputs = prepared or ReconcileInputs(doj_counts, court_counts, person_links)
    keys, doj_all, court_all = inputs.keys, inputs.doj_all, inputs.court_all
    doj = _case_columns(_keyed(cannabis_counts(doj_counts, source="doj"), keys))
    court = _case_columns(_keyed(inputs.court_cannabis, keys))
    counties = court_counties if court_counties is not None else court_all["county"].drop_nulls().unique().to_list()
    counties = [c.strip().upper() for c in counties]

    pairs = _assign(_candidates(court, doj))
    cinfo = court.select(
        pl.col("count_id").alias("c_count_id"), pl.col("person_id").alias("c_person_id"), "person_key",
        pl.col("county").alias("c_county"), pl.col("case_normalized").alias("c_case"),
        pl.col("count_number").alias("c_number"), pl.col("code").alias("c_code"),
        pl.col("cannabis_section").alias("c_section"), pl.col("subsection").alias("c_sub"),
        pl.col("disposition").alias("c_disposition"), pl.col("is_conviction").alias("c_convicted"),
        "cannabis_basis", pl.col("section").alias("c_section_as_keyed"),
    )
    dinfo = doj.select(
        pl.col("count_id").alias("d_count_id"), pl.col("person_id").alias("d_person_id"),
        pl.col("person_key").alias("d_person_key"), pl.col("county").alias("d_county"),
        pl.col("case_normalized").alias("d_case"), pl.col("count_number").alias("d_number"),
        pl.col("cannabis_section").alias("d_section"), pl.col("subsection").alias("d_sub"),
        pl.col("disposition").alias("d_disposition"), pl.col("is_conviction").alias("d_convicted"),
        "case_bases",
    )

    # ---- matched
    matched = (
        pairs.select("c_count_id", "d_count_id", "_full", "_base", "_count", "_section", "_sub", "_level", "_days")
        .join(cinfo, on="c_count_id", how="left")
        .join(dinfo.drop("case_bases"), on="d_count_id", how="left")
        .join(_person_evidence(person_matches), on=["d_person_id", "c_person_id"], how="left")
    )
    count_agreement = pl.concat_list(
        pl.when(pl.col("_full") | pl.col("_base")).then(pl.lit("case_number")),
        pl.when(pl.col("_count")).then(pl.lit("count_number")),
        pl.when(pl.col("_section")).then(pl.lit("section")),
        pl.when(pl.col("_days") == 0).then(pl.lit("date")),
        pl.when(pl.col("_level")).then(pl.lit("level")),
    ).list.drop_nulls().list.join(",")
    dismissed = pl.col("d_convicted").fill_null(False) & ~pl.col("c_convicted").fill_null(False)
    notes = pl.concat_list(
        pl.when(~pl.col("_section")).then(pl.format("section differs: court {}, DOJ {}", "c_section_as_keyed", "d_section")),
        pl.when(pl.col("cannabis_basis") == "miskeyed section").then(pl.lit("court section looks mis-keyed")),
        pl.when(pl.col("_days") > 0).then(pl.format("dates {} days apart", "_days")),
        pl.when(pl.col("person_key").is_not_null() & pl.col("match_probability").is_null())
        .then(pl.lit("persons linked through duplicate records")),
    ).list.drop_nulls().list.join("; ")
    matched = matched.select(
        "c_count_id", "d_count_id",
        pl.lit("matched").alias("classification"),
        pl.when(dismissed & (pl.col("c_disposition") == "acquitted")).then(pl.lit(REASONS["acquitted"]))
        .when(dismissed).then(pl.lit(REASONS["dismissed"])).alias("reason"),
        "person_key", "match_probability", "match_weight",
        pl.concat_str([pl.col("person_agreement"), count_agreement], separator=",", ignore_nulls=True)
        .str.strip_chars(",").alias("agreement"),
        pl.col("c_county").alias("county"), pl.coalesce("c_case", "d_case").alias("case_number"),
        pl.coalesce("c_number", "d_number").alias("count_number"),
        pl.format("HS {}{}", pl.coalesce("c_section", "d_section"), pl.coalesce("c_sub", "d_sub").fill_null(""))
        .alias("section"),
        pl.col("c_person_id").alias("court_person_id"), pl.col("d_person_id").alias("doj_person_id"),
        pl.col("c_disposition").alias("court_disposition"), pl.col("d_disposition").alias("doj_disposition"),
        "cannabis_basis",
        pl.when(notes != "").then(notes).alias("notes"),
    )

    # ---- court only
    doj_people = doj_all["person_key"].unique()
    doj_case_keys = inputs.doj_case_bases
    court_case_keys = court.select("count_id", "person_key", "case_bases").explode("case_bases")
    case_in_doj = court_case_keys.join(
        doj_case_keys, on=["person_key", "case_bases"], how="semi"
    ).select("count_id").unique()
    court_only = (
        cinfo.join(pairs.select("c_count_id"), on="c_count_id", how="anti")
        .with_columns(
            pl.col("person_key").is_in(doj_people.implode()).alias("_known"),
            pl.col("c_count_id").is_in(case_in_doj["count_id"].implode()).alias("_case_in_doj"),
        )
        .select(
            "c_count_id", pl.lit(None, dtype=pl.String).alias("d_count_id"),
            pl.lit("court_only").alias("classification"),
            pl.when(~pl.col("_known")).then(pl.lit(REASONS["court_only_new_person"]))
            .when(pl.col("_case_in_doj")).then(pl.lit(REASONS["court_only_count"]))
            .otherwise(pl.lit(REASONS["court_only_case"])).alias("reason"),
            "person_key",
            pl.lit(None, dtype=pl.Float64).alias("match_probability"),
            pl.lit(None, dtype=pl.Float64).alias("match_weight"),
            pl.lit(None, dtype=pl.String).alias("agreement"),
            pl.col("c_county").alias("county"), pl.col("c_case").alias("case_number"),
            pl.col("c_number").alias("count_number"),
            pl.format("HS {}{}", "c_section", pl.col("c_sub").fill_null("")).alias("section"),
            pl.col("c_person_id").alias("court_person_id"), pl.lit(None, dtype=pl.String).alias("doj_person_id"),
            pl.col("c_disposition").alias("court_disposition"), pl.lit(None, dtype=pl.String).alias("doj_disposition"),
            "cannabis_basis",
            pl.when(pl.col("cannabis_basis") == "miskeyed section")
            .then(pl.format("court section {} looks mis-keyed", "c_section_as_keyed")).alias("notes"),
        )
    )

    # ---- DOJ only
    court_people = court_all["person_key"].unique()
    court_case_index = inputs.court_case_index
    d_left = dinfo.join(pairs.select("d_count_id"), on="d_count_id", how="anti")
    d_cases = d_left.select("d_count_id", pl.col("d_person_key").alias("person_key"), "d_number", "case_bases").explode(
        "case_bases"
    )
    in_court_case = d_cases.join(court_case_index.select("person_key", "case_bases").unique(),
                                 on=["person_key", "case_bases"], how="semi")["d_count_id"].unique()
    other_charge = d_cases.join(
        court_case_index.select("person_key", "case_bases", pl.col("count_number").alias("d_number")),
        on=["person_key", "case_bases", "d_number"], how="semi",
    )["d_count_id"].unique()
    doj_only = d_left.with_columns(
        (~pl.col("d_county").fill_null("").str.to_uppercase().is_in(counties)).alias("_out"),
        pl.col("d_count_id").is_in(in_court_case.implode()).alias("_case"),
        pl.col("d_count_id").is_in(other_charge.implode()).alias("_other"),
        pl.col("d_person_key").is_in(court_people.implode()).alias("_person_in_court"),
    ).select(
        pl.lit(None, dtype=pl.String).alias("c_count_id"), "d_count_id",
        pl.lit("doj_only").alias("classification"),
        pl.when(pl.col("_out")).then(pl.lit(REASONS["doj_only_out_of_county"]))
        .when(pl.col("_other")).then(pl.lit(REASONS["doj_only_other_charge"]))
        .when(pl.col("_case")).then(pl.lit(REASONS["doj_only_no_count"]))
        .otherwise(pl.lit(REASONS["doj_only_no_case"])).alias("reason"),
        pl.col("d_person_key").alias("person_key"),
        pl.lit(None, dtype=pl.Float64).alias("match_probability"),
        pl.lit(None, dtype=pl.Float64).alias("match_weight"),
        pl.lit(None, dtype=pl.String).alias("agreement"),
        pl.col("d_county").alias("county"), pl.col("d_case").alias("case_number"),
        pl.col("d_number").alias("count_number"),
        pl.format("HS {}{}", "d_section", pl.col("d_sub").fill_null("")).alias("section"),
        pl.lit(None, dtype=pl.String).alias("court_person_id"), pl.col("d_person_id").alias("doj_person_id"),
        pl.lit(None, dtype=pl.String).alias("court_disposition"), pl.col("d_disposition").alias("doj_disposition"),
        pl.lit("section").alias("cannabis_basis"),
        pl.when(~pl.col("_person_in_court") & ~pl.col("_out")).then(pl.lit("person not in the court extract"))
        .alias("notes"),
    )

    out = pl.concat([matched, court_only, doj_only], how="vertical_relaxed").rename(
        {"c_count_id": "court_count_id", "d_count_id": "doj_count_id"}
    )
    order = {c: i for i, c in enumerate(("matched", "court_only", "doj_only"))}
    return (
        conform(out, RECONCILED_OUT, extra=False)
        .with_columns(pl.col("classification").replace_strict(order, return_dtype=pl.Int8).alias("_o"))
        .sort(["_o", "court_count_id", "doj_count_id"], nulls_last=True)
        .drop("_o")
    )


# ---------------------------------------------------------------------------------------------
# The history eligibility runs on


def unified_history(
    doj_counts: pl.DataFrame,
    court_counts: pl.DataFrame,
    reconciled: pl.DataFrame,
    person_links: pl.DataFrame,
    *,
    court_cases_missing_from_doj: bool = True,
    prepared: ReconcileInputs | None = None,
) -> pl.DataFrame:
    """COUNT rows of both sources under the unified person (person_id = person key), for the
    eligibility engine: the same policy then runs over DOJ-known and court-only people alike.

    - Every DOJ count (all steps), history_basis "doj+court".
    - For a person known to DOJ: DOJ's record is the history; added to it are the court's
      cannabis counts DOJ missed (court_only) and, with `court_cases_missing_from_doj`, every
      count of a court case DOJ does not have at all (so a conviction DOJ never recorded still
      counts as a prior or a disqualifier). Court counts of cases DOJ has are DOJ's to tell.
    - For a person unknown to DOJ: all their court counts, history_basis "court_only".

    Extra columns: history_basis, is_court_only (the row comes from the court alone) and
    source_person_id (the record's own person id). Sorted by person, then DOJ record order,
    then date and id.
    """
    inputs = prepared or ReconcileInputs(doj_counts, court_counts, person_links)
    doj, court = inputs.doj_all, inputs.court_all
    known = doj.select("person_key").unique()

    court_only_ids = reconciled.filter(pl.col("classification") == "court_only").select(
        pl.col("court_count_id").alias("count_id")
    )
    cannabis_ids = inputs.court_cannabis.select("count_id")
    is_known = pl.col("person_key").is_in(known["person_key"].implode())
    added = pl.col("count_id").is_in(court_only_ids["count_id"].implode())
    if court_cases_missing_from_doj:
        doj_bases = inputs.doj_case_bases
        court_bases = inputs.court_case_index.select("count_id", "person_key", "case_bases").join(
            known, on="person_key", how="semi"
        )
        in_doj_case = court_bases.join(doj_bases, on=["person_key", "case_bases"], how="semi")["count_id"].unique()
        # cannabis counts are decided by reconciliation
        added = added | ~(pl.col("count_id").is_in(in_doj_case.implode())
                          | pl.col("count_id").is_in(cannabis_ids["count_id"].implode()))

    def finish(frame: pl.DataFrame, basis: str | pl.Expr, court_only: bool) -> pl.DataFrame:
        return frame.with_columns(
            pl.col("person_id").alias("source_person_id"),
            pl.col("person_key").alias("person_id"),
            (pl.lit(basis) if isinstance(basis, str) else basis).alias("history_basis"),
            pl.lit(court_only).alias("is_court_only"),
        )

    # One pass over the court counts (a known person's added counts, an unknown person's all),
    # not a copy per part; a known person's added counts are taken once per count id.
    court_rows = court.filter(~is_known | added)
    if court_rows.filter(is_known)["count_id"].is_duplicated().any():
        court_rows = pl.concat([
            court_rows.filter(is_known).unique("count_id", keep="first", maintain_order=True),
            court_rows.filter(~is_known),
        ])
    parts = [
        finish(doj, "doj+court", False),
        finish(court_rows, pl.when(is_known).then(pl.lit("doj+court")).otherwise(pl.lit("court_only")), True),
    ]
    schema = {**COUNT, "history_basis": pl.String, "is_court_only": pl.Boolean, "source_person_id": pl.String}
    history = pl.concat([conform(p, schema, extra=False) for p in parts], how="vertical")
    return history.sort(["person_id", "row_index", "event_date", "count_id"], nulls_last=True)


def unified_people(doj_persons: pl.DataFrame, court_persons: pl.DataFrame, person_links: pl.DataFrame) -> pl.DataFrame:
    """One PERSON row per unified person (person_id = person key): the DOJ record when there is
    one (lowest id), else the court record with the lowest id; plus `known_to_doj`."""
    keys = person_keys(person_links)
    doj = conform(doj_persons, PERSON, extra=False).with_columns(pl.lit(0).alias("_rank"))
    court = conform(court_persons, PERSON, extra=False).with_columns(pl.lit(1).alias("_rank"))
    both = _keyed(pl.concat([doj, court]), keys)
    return (
        both.with_columns((pl.col("_rank") == 0).any().over("person_key").alias("known_to_doj"))
        .sort("person_key", "_rank", "person_id")
        .unique("person_key", keep="first", maintain_order=True)
        .with_columns(pl.col("person_key").alias("person_id"))
        .select([*PERSON, "known_to_doj"])
    )


# ---------------------------------------------------------------------------------------------
# The conservative choice for people DOJ does not know

CourtOnlyMode = Literal["review", "flag"]
ELIGIBLE = ("Eligible for Dismissal", "Eligible for Reduction")
COURT_ONLY_NOTE = (
    "Court records only: this person is not in the DOJ file, so convictions elsewhere in the state "
    "(super strikes, PC 290) cannot be ruled out."
)
COURT_ONLY_COUNT_NOTE = "This count is in the court's records only (DOJ missed it); the person's DOJ record was used."


def caution_court_only(
    determinations: pl.DataFrame, history: pl.DataFrame, *, mode: CourtOnlyMode = "review"
) -> pl.DataFrame:
    """Determinations with the court-only caution applied (see docs/linkage.md).

    For a person unknown to DOJ (history_basis "court_only"), the policy's outcome is kept in
    `policy_determination` / `policy_reason`; with mode "review" (default) an eligible outcome
    becomes "Hand Review" (relief "review"), so no one is granted relief on an incomplete record
    without a person checking the state record; with "flag" the outcome stands. Either way the
    explanation says why. A not-eligible outcome is never changed. Court-only counts of people
    DOJ knows keep their outcome with a note. Adds history_basis and is_court_only.
    """
    if mode not in ("review", "flag"):
        raise ValueError(f"mode must be 'review' or 'flag', not {mode!r}")
    info = history.select("count_id", "history_basis", "is_court_only").unique("count_id", keep="first")
    out = determinations.join(info, on="count_id", how="left").with_columns(
        pl.col("history_basis").fill_null("doj+court"), pl.col("is_court_only").fill_null(False)
    )
    court_person = pl.col("history_basis") == "court_only"
    downgrade = court_person & pl.col("determination").is_in(ELIGIBLE) & pl.lit(mode == "review")
    note = (
        pl.when(court_person & downgrade)
        .then(pl.format("{} Policy outcome on court records alone: {} ({}).", pl.lit(COURT_ONLY_NOTE),
                        "determination", "reason"))
        .when(court_person).then(pl.lit(COURT_ONLY_NOTE))
        .when(pl.col("is_court_only")).then(pl.lit(COURT_ONLY_COUNT_NOTE))
    )
    return out.with_columns(
        pl.col("determination").alias("policy_determination"),
        pl.col("reason").alias("policy_reason"),
        pl.when(downgrade).then(pl.lit("Hand Review")).otherwise(pl.col("determination")).alias("determination"),
        pl.when(downgrade).then(pl.lit("Court records only: check the state record")).otherwise(pl.col("reason"))
        .alias("reason"),
        pl.when(downgrade).then(pl.lit("review")).otherwise(pl.col("relief")).alias("relief"),
        pl.when(downgrade).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("resulting_section"))
        .alias("resulting_section"),
        pl.when(downgrade).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("resulting_level"))
        .alias("resulting_level"),
        pl.when(downgrade).then(pl.lit("HS 11361.9")).otherwise(pl.col("statutory_basis")).alias("statutory_basis"),
        pl.concat_str([note, pl.col("explanation")], separator=" ", ignore_nulls=True).alias("explanation"),
    )
