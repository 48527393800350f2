"""Deduplication within one source: persons known under several ids, counts repeated by extracts."""

from __future__ import annotations

import polars as pl

from pipelines.linkage.clusters import cluster_persons
from pipelines.linkage.link import LinkResult, Progress, find_duplicates
from pipelines.linkage.settings import LinkageSettings

PERSON_CLUSTERS: dict[str, pl.DataType] = {
    "person_id": pl.String,
    "cluster_id": pl.String,  # the smallest person_id of the cluster
    "cluster_size": pl.Int32,
}


def dedupe_persons(
    persons: pl.DataFrame,
    settings: LinkageSettings | None = None,
    *,
    counts: pl.DataFrame | pl.LazyFrame | None = None,
    progress: Progress | None = None,
    result: LinkResult | None = None,
) -> pl.DataFrame:
    """person_id -> cluster_id: which records of one source are the same person.

    DOJ: one person under several SUBJECT_IDs (or in several files, where the person_id repeats);
    court: one defendant under several person keys, with name variants across cases. The same
    two passes as `link_persons` (identifiers and case numbers, then Splink) find the pairs; the
    clusters are their connected components. Pass `result` (from `find_duplicates`) to reuse pairs
    already computed. One row per distinct person_id, sorted.
    """
    settings = settings or LinkageSettings()
    ids = persons.get_column("person_id").unique().drop_nulls()
    if result is None:
        result = find_duplicates(persons, settings, counts=counts, progress=progress)
    return cluster_persons(ids, result.links, threads=settings.threads).select(list(PERSON_CLUSTERS))


# Fields whose disagreement between two copies of one count is worth a look.
_CONFLICT_FIELDS = ("person_id", "code", "section", "subsection", "level", "disposition", "event_date")


def dedupe_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """One row per count_id, for counts repeated by overlapping extracts (or the same DOJ record in
    several files).

    The copy kept is the one from the file whose name sorts last (refreshes are named by date, so
    the latest extract wins), then the last line. Two columns are added: `copies` (how many rows
    carried this count; rows merged = sum(copies) - rows kept) and `conflicting_copies` (the copies
    disagree on person, section, level, disposition or date: worth a look, the kept copy decides).
    """
    if counts.height == 0:
        return counts.with_columns(
            pl.lit(None, dtype=pl.UInt32).alias("copies"), pl.lit(None, dtype=pl.Boolean).alias("conflicting_copies")
        )
    fields = [f for f in _CONFLICT_FIELDS if f in counts.columns]
    return (
        counts.with_columns(
            pl.len().over("count_id").cast(pl.UInt32).alias("copies"),
            pl.any_horizontal(
                [pl.col(f).n_unique().over("count_id") > 1 for f in fields] or [pl.lit(False)]
            ).alias("conflicting_copies"),
        )
        .sort("count_id", "source_file", "source_line", nulls_last=False)
        .unique("count_id", keep="last", maintain_order=True)
    )


def merged_count_rows(deduped: pl.DataFrame) -> int:
    """How many rows `dedupe_counts` merged away."""
    return int(deduped["copies"].sum() - deduped.height) if deduped.height else 0
