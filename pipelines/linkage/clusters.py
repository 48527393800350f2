"""From pairs to persons: connected components of the links (Splink's clustering, in DuckDB)."""

from __future__ import annotations

import logging

import polars as pl


def connected_components(nodes: pl.Series | list[str], edges: pl.DataFrame, *, threads: int = 2) -> pl.DataFrame:
    """node -> cluster, for string node ids and an edge frame with columns left_id, right_id.

    Every node appears once; a cluster is named by its smallest node id, so the result depends
    only on the inputs.
    """
    import duckdb  # noqa: PLC0415
    from splink import DuckDBAPI  # noqa: PLC0415
    from splink.clustering import cluster_pairwise_predictions_at_threshold  # noqa: PLC0415

    node_frame = pl.DataFrame({"node": pl.Series(nodes, dtype=pl.String)}).unique().drop_nulls()
    edge_frame = edges.select(pl.col("left_id").cast(pl.String), pl.col("right_id").cast(pl.String)).unique()
    # Edges to nodes not listed would create clusters of unknown records: they must be listed.
    known = node_frame["node"]
    edge_frame = edge_frame.filter(pl.col("left_id").is_in(known.implode()) & pl.col("right_id").is_in(known.implode()))
    if edge_frame.height == 0:
        return node_frame.with_columns(pl.col("node").alias("cluster")).sort("node")
    logging.getLogger("splink").setLevel(logging.ERROR)
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {threads}")
    db = DuckDBAPI(con)
    out = cluster_pairwise_predictions_at_threshold(
        node_frame.to_arrow(), edge_frame.to_arrow(), db, "node", "left_id", "right_id"
    )
    result = con.sql(f"SELECT node, cluster_id AS cluster FROM {out.physical_name}").pl()
    con.close()
    return result.sort("node")


def cluster_persons(person_ids: pl.Series, links: pl.DataFrame, *, threads: int = 2) -> pl.DataFrame:
    """person_id -> cluster_id (the smallest person_id of the cluster) and cluster_size."""
    comps = connected_components(person_ids, links, threads=threads)
    return (
        comps.rename({"node": "person_id", "cluster": "cluster_id"})
        .with_columns(pl.len().over("cluster_id").cast(pl.Int32).alias("cluster_size"))
        .sort("person_id")
    )
