"""The whole person-linkage step for one county: dedupe each source, link DOJ <-> court, apply the
people's review decisions, and form the unified persons.

    outcome = link_sources(doj_persons, doj_counts, court_persons, court_counts,
                           review_decisions="CONFIDENTIAL_review_queue.csv")
    outcome.unified          # person_id -> person_key (linkage.UNIFIED_PERSONS)
    outcome.links.matches    # DOJ (left) <-> court (right) pairs with evidence
    review_queue_for(outcome)  # the next queue (cross-source and within-source pairs)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.linkage.clusters import cluster_persons
from pipelines.linkage.link import LinkResult, Progress, find_duplicates, link_persons
from pipelines.linkage.review import apply_review_decisions, read_review_decisions, review_queue
from pipelines.linkage.settings import LinkageSettings
from pipelines.linkage.unify import unify_persons

PAIR_KINDS = ("doj-court", "doj-doj", "court-court")


@dataclass
class LinkageOutcome:
    """Everything the link stage produced."""

    links: LinkResult  # DOJ (left) <-> court (right)
    doj_duplicates: LinkResult | None
    court_duplicates: LinkResult | None
    doj_clusters: pl.DataFrame  # linkage.dedupe.PERSON_CLUSTERS
    court_clusters: pl.DataFrame
    unified: pl.DataFrame  # linkage.UNIFIED_PERSONS
    decisions_applied: int = 0

    def summary(self) -> dict[str, Any]:
        """Counts only (safe to log)."""
        u = self.unified
        return {
            "doj_records": int((u["source"] == "doj").sum()),
            "court_records": int((u["source"] == "court").sum()),
            "unified_persons": int(u["person_key"].n_unique()),
            "persons_known_to_doj": int(u.filter(pl.col("known_to_doj"))["person_key"].n_unique()),
            "court_persons_unknown_to_doj": int(u.filter(~pl.col("known_to_doj"))["person_key"].n_unique()),
            "doj_court_links": int(self.links.matches["is_match"].sum()),
            "links_by_pass": {
                k: int(v) for k, v in self.links.links.group_by("pass").len().sort("pass").iter_rows()
            },
            "doj_duplicate_links": int(self.doj_duplicates.matches["is_match"].sum()) if self.doj_duplicates else 0,
            "court_duplicate_links": int(self.court_duplicates.matches["is_match"].sum()) if self.court_duplicates else 0,
            "review_decisions_applied": self.decisions_applied,
            "link_stats": self.links.stats,
        }


def _decisions_for(decisions: pl.DataFrame, left: pl.Series, right: pl.Series) -> pl.DataFrame:
    return decisions.filter(pl.col("left_id").is_in(left.implode()) & pl.col("right_id").is_in(right.implode()))


def link_sources(
    doj_persons: pl.DataFrame,
    doj_counts: pl.DataFrame,
    court_persons: pl.DataFrame,
    court_counts: pl.DataFrame,
    settings: LinkageSettings | None = None,
    *,
    review_decisions: str | os.PathLike | pl.DataFrame | None = None,
    dedupe: bool = True,
    progress: Progress | None = None,
) -> LinkageOutcome:
    """Dedupe both sources, link DOJ to court, apply review decisions, unify (see module doc).

    `review_decisions` is a worked review-queue file (or a frame from `read_review_decisions`):
    its "same" / "different" decisions override the model for those pairs, whichever of the three
    linkages (DOJ-court, DOJ-DOJ, court-court) they belong to.
    """
    settings = settings or LinkageSettings()
    say = progress or (lambda _msg: None)
    decisions = None
    if review_decisions is not None:
        decisions = review_decisions if isinstance(review_decisions, pl.DataFrame) else read_review_decisions(
            review_decisions
        )
    doj_ids = doj_persons["person_id"].unique()
    court_ids = court_persons["person_id"].unique()

    def decide(result: LinkResult | None, left: pl.Series, right: pl.Series) -> int:
        if result is None or decisions is None:
            return 0
        mine = _decisions_for(decisions, left, right)
        result.matches = apply_review_decisions(result.matches, mine)
        return mine.height

    doj_dups = court_dups = None
    applied = 0
    if dedupe:
        say("DOJ duplicates")
        doj_dups = find_duplicates(doj_persons, settings, counts=doj_counts)
        applied += decide(doj_dups, doj_ids, doj_ids)
        say("court duplicates")
        court_dups = find_duplicates(court_persons, settings, counts=court_counts)
        applied += decide(court_dups, court_ids, court_ids)
    say("DOJ <-> court links")
    links = link_persons(doj_persons, court_persons, settings, left_counts=doj_counts, right_counts=court_counts,
                         progress=progress)
    applied += decide(links, doj_ids, court_ids)

    say("unified persons")
    empty = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String})
    doj_clusters = cluster_persons(doj_ids, doj_dups.links if doj_dups else empty, threads=settings.threads)
    court_clusters = cluster_persons(court_ids, court_dups.links if court_dups else empty, threads=settings.threads)
    unified = unify_persons(doj_persons, court_persons, links, doj_clusters=doj_clusters,
                            court_clusters=court_clusters, threads=settings.threads)
    return LinkageOutcome(links=links, doj_duplicates=doj_dups, court_duplicates=court_dups,
                          doj_clusters=doj_clusters, court_clusters=court_clusters, unified=unified,
                          decisions_applied=applied)


def review_queue_for(outcome: LinkageOutcome, band: tuple[float, float] | None = None) -> pl.DataFrame:
    """The review queue of all three linkages, with a `pair_kind` column (PAIR_KINDS)."""
    parts = []
    for kind, result in zip(PAIR_KINDS, (outcome.links, outcome.doj_duplicates, outcome.court_duplicates), strict=True):
        if result is not None:
            parts.append(review_queue(result, band).with_columns(pl.lit(kind).alias("pair_kind")))
    queue = pl.concat(parts, how="diagonal_relaxed")
    first = ["decision", "pair_kind"]
    return queue.select(first + [c for c in queue.columns if c not in first]).sort(
        ["match_probability", "left_id", "right_id"], descending=[True, False, False]
    )
