"""Measuring linkage against ground truth (the synthetic generator's, or a hand-labelled sample).

Pairwise precision / recall / F1: a pair of records is a true link when both records belong to
the same true person. Used by the tests and by bench/bench_linkage.py.
"""

from __future__ import annotations

import polars as pl


def _scores(tp: int, predicted: int, actual: int) -> dict[str, float | int]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp,
            "predicted": predicted, "actual": actual}


def true_cross_pairs(truth: pl.DataFrame, left_ids: pl.Series, right_ids: pl.Series) -> pl.DataFrame:
    """(left_id, right_id) for every left and right record of the same true person.

    `truth` has person_id and true_person_id."""
    t = truth.select("person_id", "true_person_id")
    left = t.join(pl.DataFrame({"person_id": left_ids.unique()}), on="person_id", how="semi")
    right = t.join(pl.DataFrame({"person_id": right_ids.unique()}), on="person_id", how="semi")
    return left.join(right, on="true_person_id", suffix="_r").select(
        pl.col("person_id").alias("left_id"), pl.col("person_id_r").alias("right_id")
    ).unique()


def pair_scores(predicted: pl.DataFrame, actual: pl.DataFrame) -> dict[str, float | int]:
    """Pairwise scores of predicted (left_id, right_id) pairs against the actual ones."""
    p = predicted.select("left_id", "right_id").unique()
    a = actual.select("left_id", "right_id").unique()
    tp = p.join(a, on=["left_id", "right_id"], how="semi").height
    return _scores(tp, p.height, a.height)


def cross_pairs_from_keys(keys: pl.DataFrame, left_ids: pl.Series, right_ids: pl.Series) -> pl.DataFrame:
    """(left_id, right_id) pairs placed under one unified key (`keys`: person_id, person_key)."""
    k = keys.select("person_id", "person_key")
    left = k.join(pl.DataFrame({"person_id": left_ids.unique()}), on="person_id", how="semi")
    right = k.join(pl.DataFrame({"person_id": right_ids.unique()}), on="person_id", how="semi")
    return left.join(right, on="person_key", suffix="_r").select(
        pl.col("person_id").alias("left_id"), pl.col("person_id_r").alias("right_id")
    ).unique()


def cluster_scores(assignment: pl.DataFrame, truth: pl.DataFrame, *, cluster: str = "cluster_id") -> dict[str, float | int]:
    """Pairwise scores of a clustering (person_id -> `cluster`) against true persons, over all
    record pairs (within and across sources), counted without listing the pairs."""
    def pairs(n: pl.Expr) -> pl.Expr:
        return (n * (n - 1) // 2).sum()

    j = assignment.select("person_id", pl.col(cluster).alias("c")).join(
        truth.select("person_id", "true_person_id"), on="person_id", how="inner"
    )
    predicted = j.group_by("c").len().select(pairs(pl.col("len").cast(pl.Int64))).item()
    actual = j.group_by("true_person_id").len().select(pairs(pl.col("len").cast(pl.Int64))).item()
    tp = j.group_by("c", "true_person_id").len().select(pairs(pl.col("len").cast(pl.Int64))).item()
    return _scores(int(tp or 0), int(predicted or 0), int(actual or 0))
