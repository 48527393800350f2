"""Generated counties (pipelines.synth) read back through each layout agree with their ground truth:
every court count and person the truth names is found, with the true statute, level, disposition
and disposition date (except charges the court itself mis-keyed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.sources.court import court_counts, court_persons, read_court

synth = pytest.importorskip("pipelines.synth.generate", reason="the synthetic-data generator is not available")


@pytest.mark.parametrize("layout", ["generic_csv", "sf_cms", "legacy_fixed_width", "generic_parquet"])
def test_generated_extract_matches_truth(tmp_path: Path, layout: str) -> None:
    generated = synth.generate_county(rows=1500, seed=7, court_layout=layout, out=tmp_path, refreshes=2)
    read = read_court(generated.court_files, layout, county="los_angeles", as_of=date(2024, 7, 1))
    stats = read.stats.select(pl.col("rows_read", "rows_accepted", "rows_quarantined").sum()).row(0)
    assert stats[0] == stats[1] + stats[2] and stats[2] == 0
    counts = court_counts(read.rows, county="los_angeles")
    assert counts["count_id"].is_unique().all()

    truth = pl.read_parquet(generated.truth_files["counts"]).filter(pl.col("court_count_id").is_not_null())
    joined = truth.join(counts, left_on="court_count_id", right_on="count_id", how="left", suffix="_read")
    assert joined["person_id"].null_count() == 0  # every true court count was found
    keyed_right = joined.filter(~pl.col("court_charge_miskeyed"))
    assert keyed_right.filter(pl.col("section") != pl.col("section_read")).height == 0
    assert keyed_right.filter(pl.col("subsection").str.to_lowercase() != pl.col("subsection_read")).height == 0
    assert joined.filter(pl.col("level") != pl.col("level_read")).height == 0
    assert joined.filter(pl.col("disposition") != pl.col("disposition_read")).height == 0  # plea dismissals too
    assert joined.filter(pl.col("disposition_date") != pl.col("disposition_date_read")).height == 0

    persons = court_persons(read.rows, county="los_angeles")
    true_persons = pl.read_parquet(generated.truth_files["persons"]).filter(pl.col("source") == "court")
    assert set(true_persons["person_id"].to_list()) == set(persons["person_id"].to_list())
