"""The review queue: pairs the model is unsure about, side by side, for a person to decide.

    queue = review_queue(result)                       # pure: a frame
    path = write_review_queue(queue, run_dir / "review")  # CONFIDENTIAL_review_queue.csv
    ... a person fills the `decision` column with same / different (or leaves it blank) ...
    matches = apply_review_decisions(result.matches, path)   # on the next run

A decision overrides the model for that pair on every later run (pairs are keyed by the records'
stable ids). The file holds names, dates of birth and identifiers: its name and first line say
CONFIDENTIAL, it is written readable by owner and group only, and it never goes in a delivery.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pipelines.errors import InputError
from pipelines.linkage.link import MATCHES, LinkResult

CONFIDENTIAL_LINE = (
    "# CONFIDENTIAL - criminal history personal data (names; dates of birth; identifiers). "
    "Do not e-mail or share. Fill the decision column with same or different; leave blank if unsure."
)
DECISIONS = ("same", "different")
_SHOWN = ("last_name", "first_name", "middle_name", "dob", "gender", "cii", "ssn", "cdl", "case_keys")


def review_queue(result: LinkResult, band: tuple[float, float] | None = None) -> pl.DataFrame:
    """Model-decided pairs with a probability in [low, high), both records side by side.

    Sorted by probability (highest first), then ids; the `decision` and `note` columns are blank.
    """
    low, high = band or result.settings.review_band
    pairs = result.matches.filter(
        (pl.col("pass") == "probabilistic") & pl.col("match_probability").is_between(low, high, closed="left")
    )

    def side(frame: pl.DataFrame | None, prefix: str, key: str) -> pl.DataFrame:
        cols = [c for c in _SHOWN if frame is not None and c in frame.columns]
        if frame is None:
            return pl.DataFrame(schema={key: pl.String})
        return frame.select(
            pl.col("unique_id").alias(key),
            *[
                (pl.col(c).list.join(" ") if frame.schema[c] == pl.List(pl.String) else pl.col(c).cast(pl.String))
                .alias(f"{prefix}{'cases' if c == 'case_keys' else c}")
                for c in cols
            ],
        )

    left = side(result.left, "left_", "left_id")
    right = side(result.right, "right_", "right_id")
    queue = pairs.join(left, on="left_id", how="left").join(right, on="right_id", how="left")
    shown = [("cases" if c == "case_keys" else c) for c in _SHOWN]
    side_by_side = [f"{p}{c}" for c in shown for p in ("left_", "right_") if f"{p}{c}" in queue.columns]
    return queue.select(
        pl.lit("", dtype=pl.String).alias("decision"),
        pl.col("match_probability").round(4),
        pl.col("match_weight").round(2),
        "agreement",
        "evidence",
        "left_id",
        "right_id",
        *side_by_side,
        pl.lit("", dtype=pl.String).alias("note"),
    ).sort(["match_probability", "left_id", "right_id"], descending=[True, False, False])


def write_review_queue(queue: pl.DataFrame, destination: str | os.PathLike) -> Path:
    """Write the queue as CSV; returns the path. A folder gets `CONFIDENTIAL_review_queue.csv`;
    a file name without CONFIDENTIAL in it gets the prefix."""
    dest = Path(destination)
    if dest.suffix.lower() != ".csv":
        dest.mkdir(parents=True, exist_ok=True, mode=0o770)
        dest = dest / "CONFIDENTIAL_review_queue.csv"
    elif "CONFIDENTIAL" not in dest.name.upper():
        dest = dest.with_name(f"CONFIDENTIAL_{dest.name}")
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
    tmp = dest.with_name(dest.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o660)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(CONFIDENTIAL_LINE + "\n")
        f.write(queue.write_csv())
    os.chmod(tmp, 0o660)
    os.replace(tmp, dest)
    return dest


def read_review_decisions(path: str | os.PathLike) -> pl.DataFrame:
    """left_id, right_id, decision ("same" | "different") for every row with a decision.

    Tolerates what a spreadsheet does to a CSV (a byte-order mark, the confidential line saved as a
    row, reordered or extra columns). An unknown decision is an InputError naming file and line.
    """
    path = Path(path)
    name = path.name
    raw = path.read_text(encoding="utf-8-sig")
    lines = raw.splitlines()
    skipped = 0
    while skipped < len(lines) and lines[skipped].lstrip('"').startswith("#"):
        skipped += 1
    if skipped >= len(lines):
        raise InputError("no header row (expected decision, left_id, right_id columns)", file=name, kind="REVIEW")
    frame = pl.read_csv("\n".join(lines[skipped:]).encode(), infer_schema=False, truncate_ragged_lines=True)
    missing = [c for c in ("decision", "left_id", "right_id") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=name, line=skipped + 1, kind="REVIEW")
    frame = frame.with_row_index("line", offset=skipped + 2).select(
        pl.col("line").cast(pl.Int64),
        pl.col("left_id").str.strip_chars(),
        pl.col("right_id").str.strip_chars(),
        pl.col("decision").fill_null("").str.strip_chars().str.to_lowercase().alias("decision"),
    )
    bad = frame.filter((pl.col("decision") != "") & ~pl.col("decision").is_in(DECISIONS))
    if bad.height:
        line = int(bad["line"][0])
        raise InputError(
            f"decision must be one of {', '.join(DECISIONS)} or blank ({bad.height} row(s) are not)",
            file=name, line=line, kind="REVIEW",
        )
    decided = frame.filter(pl.col("decision") != "")
    no_ids = decided.filter(pl.col("left_id").is_null() | pl.col("right_id").is_null())
    if no_ids.height:
        raise InputError("a decided row lacks left_id or right_id", file=name, line=int(no_ids["line"][0]), kind="REVIEW")
    conflicting = decided.group_by("left_id", "right_id").agg(pl.col("decision").n_unique().alias("n"), pl.col("line").min())
    conflicting = conflicting.filter(pl.col("n") > 1)
    if conflicting.height:
        raise InputError("the same pair is decided both same and different", file=name,
                         line=int(conflicting["line"].min()), kind="REVIEW")
    return decided.unique(["left_id", "right_id"]).select("left_id", "right_id", "decision").sort("left_id", "right_id")


def apply_review_decisions(matches: pl.DataFrame, decisions: pl.DataFrame | str | os.PathLike | None) -> pl.DataFrame:
    """Matches with people's decisions applied: "same" links the pair, "different" unlinks it,
    whatever the model said; such pairs get pass = "review". A "same" pair the model did not
    propose is added. `decisions` is a worked review file or a frame from `read_review_decisions`.
    """
    if decisions is None:
        return matches
    if not isinstance(decisions, pl.DataFrame):
        decisions = read_review_decisions(decisions)
    if decisions.height == 0:
        return matches
    joined = matches.join(decisions, on=["left_id", "right_id"], how="left")
    decided = pl.col("decision").is_not_null()
    note = pl.concat_str([pl.lit("review: "), pl.col("decision")])
    updated = joined.with_columns(
        pl.when(decided).then(pl.col("decision") == "same").otherwise(pl.col("is_match")).alias("is_match"),
        pl.when(decided).then(pl.lit("review")).otherwise(pl.col("pass")).alias("pass"),
        pl.when(decided).then(pl.concat_str([note, pl.col("evidence")], separator="; ", ignore_nulls=True))
        .otherwise(pl.col("evidence")).alias("evidence"),
    ).drop("decision")
    added = decisions.filter(pl.col("decision") == "same").join(matches, on=["left_id", "right_id"], how="anti")
    added = added.select(
        "left_id", "right_id",
        pl.lit(None, dtype=pl.Float64).alias("match_probability"),
        pl.lit(None, dtype=pl.Float64).alias("match_weight"),
        pl.lit(True).alias("is_match"),
        pl.lit("review").alias("pass"),
        pl.lit("").alias("agreement"),
        pl.lit("review: same").alias("evidence"),
    )
    return pl.concat([updated.select(list(MATCHES)), added.select([pl.col(c).cast(t) for c, t in MATCHES.items()])]).sort(
        "left_id", "right_id"
    )
