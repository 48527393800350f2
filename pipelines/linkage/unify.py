"""The unified person: DOJ and court records of one human being under one key."""

from __future__ import annotations

import polars as pl

from pipelines.linkage.clusters import connected_components
from pipelines.linkage.link import LinkResult

UNIFIED_PERSONS: dict[str, pl.DataType] = {
    "person_id": pl.String,  # a source record's person id
    "person_key": pl.String,  # the unified person: the smallest DOJ person_id, else the smallest court one
    "source": pl.String,  # "doj" | "court": which frame the record came from
    "known_to_doj": pl.Boolean,  # the unified person has at least one DOJ record
    "in_court": pl.Boolean,  # ... and at least one court record
}


def _edges(links: LinkResult | pl.DataFrame | None) -> pl.DataFrame:
    if links is None:
        return pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String})
    frame = links.matches if isinstance(links, LinkResult) else links
    if "is_match" in frame.columns:
        frame = frame.filter(pl.col("is_match"))
    return frame.select("left_id", "right_id")


def _cluster_edges(clusters: pl.DataFrame | None) -> pl.DataFrame:
    if clusters is None or clusters.height == 0:
        return pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String})
    return clusters.filter(pl.col("person_id") != pl.col("cluster_id")).select(
        pl.col("person_id").alias("left_id"), pl.col("cluster_id").alias("right_id")
    )


def unify_persons(
    doj_persons: pl.DataFrame,
    court_persons: pl.DataFrame,
    links: LinkResult | pl.DataFrame | None,
    *,
    doj_clusters: pl.DataFrame | None = None,
    court_clusters: pl.DataFrame | None = None,
    threads: int = 2,
) -> pl.DataFrame:
    """person_id -> person_key for every person record of both sources (schema UNIFIED_PERSONS).

    The unified persons are the connected components of the DOJ <-> court links and of each
    source's own duplicate clusters (from `dedupe_persons`). A person known to DOJ is keyed by a
    DOJ person id, so the key reads as the record DOJ has.
    """
    doj_ids = doj_persons.select(pl.col("person_id").cast(pl.String)).unique().drop_nulls()
    court_ids = court_persons.select(pl.col("person_id").cast(pl.String)).unique().drop_nulls()
    records = pl.concat([
        doj_ids.with_columns(pl.lit("doj").alias("source")),
        court_ids.join(doj_ids, on="person_id", how="anti").with_columns(pl.lit("court").alias("source")),
    ])
    edges = pl.concat([_edges(links), _cluster_edges(doj_clusters), _cluster_edges(court_clusters)])
    comps = connected_components(records["person_id"], edges, threads=threads).rename(
        {"node": "person_id", "cluster": "component"}
    )
    frame = records.join(comps, on="person_id", how="left")
    is_doj = pl.col("source") == "doj"
    return (
        frame.with_columns(
            pl.coalesce(
                pl.when(is_doj).then(pl.col("person_id")).min().over("component"),
                pl.col("person_id").min().over("component"),
            ).alias("person_key"),
            is_doj.any().over("component").alias("known_to_doj"),
            (~is_doj).any().over("component").alias("in_court"),
        )
        .select(list(UNIFIED_PERSONS))
        .sort("person_id")
    )
