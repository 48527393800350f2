"""The review queue: the file a person works through, and decisions fed back on the next run."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.errors import InputError
from pipelines.linkage import (
    LinkageSettings,
    LinkResult,
    apply_review_decisions,
    link_sources,
    read_review_decisions,
    review_queue,
    review_queue_for,
    write_review_queue,
)
from pipelines.linkage.link import MATCHES
from pipelines.linkage.prepare import prepare_persons
from pipelines.model import PERSON, conform

COUNTY = "LOS ANGELES"


def _matches(rows: list[tuple]) -> pl.DataFrame:
    cols = list(MATCHES)
    return pl.DataFrame(rows, schema=MATCHES, orient="row").select(cols)


def _result() -> LinkResult:
    people = conform(pl.DataFrame({
        "person_id": ["d1", "d2", "c1", "c2"], "last_name": ["PEREZ", "KIM", "PERES", "KIM"],
        "first_name": ["JOSE", "LEE", "JOSE", "LEE"],
        "dob": [date(1980, 1, 2), None, date(1980, 1, 2), date(1970, 5, 5)],
        "source": ["doj", "doj", "court", "court"], "source_file": "f", "source_line": [1, 2, 3, 4],
    }), PERSON)
    prepared = prepare_persons(people)
    matches = _matches([
        ("d1", "c1", 0.93, 3.9, True, "probabilistic", "dob", "name: similar surname, first name; dob: exact"),
        ("d2", "c2", 0.61, 0.6, False, "probabilistic", "name", "name: exact"),
        ("d2", "c1", 0.99, 7.0, True, "probabilistic", "name", "name: exact"),  # above the band
        ("d1", "c2", 1.0, 20.0, True, "deterministic", "cii", "rule: cii"),  # never reviewed
    ])
    return LinkResult(matches=matches, model=None, settings=LinkageSettings(), left=prepared.filter(
        pl.col("unique_id").str.starts_with("d")), right=prepared.filter(pl.col("unique_id").str.starts_with("c")))


def test_queue_shows_uncertain_pairs_side_by_side():
    q = review_queue(_result())
    assert q.select("left_id", "right_id").rows() == [("d1", "c1"), ("d2", "c2")]  # highest first
    assert q.columns[0] == "decision" and q["decision"].to_list() == ["", ""]
    row = q.row(0, named=True)
    assert (row["left_last_name"], row["right_last_name"]) == ("PEREZ", "PERES")
    assert row["left_dob"] == row["right_dob"] == "1980-01-02"


def test_queue_file_is_marked_confidential_and_private(tmp_path: Path):
    path = write_review_queue(review_queue(_result()), tmp_path / "queue.csv")
    assert path.name == "CONFIDENTIAL_queue.csv"
    assert path.read_text().splitlines()[0].startswith("# CONFIDENTIAL")
    assert os.stat(path).st_mode & 0o007 == 0
    assert write_review_queue(review_queue(_result()), tmp_path / "run1").name == "CONFIDENTIAL_review_queue.csv"


def _work(path: Path, decisions: dict[tuple[str, str], str], *, spreadsheet: bool = False) -> None:
    """What a person does: fill decisions; a spreadsheet adds a BOM and quotes the first line."""
    lines = path.read_text().splitlines()
    frame = pl.read_csv("\n".join(lines[1:]).encode(), infer_schema=False)
    frame = frame.with_columns(pl.struct("left_id", "right_id").map_elements(
        lambda s: decisions.get((s["left_id"], s["right_id"]), ""), return_dtype=pl.String).alias("decision"))
    first = f'"{lines[0]}",,,' if spreadsheet else lines[0]
    text = first + "\n" + frame.write_csv()
    path.write_bytes(("\ufeff" if spreadsheet else "").encode() + text.encode())


def test_decisions_read_back_tolerate_a_spreadsheet(tmp_path: Path):
    path = write_review_queue(review_queue(_result()), tmp_path)
    _work(path, {("d1", "c1"): " Different ", ("d2", "c2"): "SAME"}, spreadsheet=True)
    got = read_review_decisions(path)
    assert got.rows() == [("d1", "c1", "different"), ("d2", "c2", "same")]


def test_a_wrong_decision_names_file_and_line(tmp_path: Path):
    path = write_review_queue(review_queue(_result()), tmp_path)
    _work(path, {("d2", "c2"): "maybe"})
    with pytest.raises(InputError) as err:
        read_review_decisions(path)
    assert err.value.file == path.name and err.value.line == 4  # confidential line, header, row 1, row 2
    assert "same, different" in str(err.value)


def test_decisions_override_the_model_and_add_pairs():
    matches = _result().matches
    decisions = pl.DataFrame({"left_id": ["d1", "d2", "d9"], "right_id": ["c1", "c2", "c9"],
                              "decision": ["different", "same", "same"]})
    out = apply_review_decisions(matches, decisions)
    got = {(r["left_id"], r["right_id"]): (r["is_match"], r["pass"]) for r in out.iter_rows(named=True)}
    assert got[("d1", "c1")] == (False, "review")
    assert got[("d2", "c2")] == (True, "review")
    assert got[("d9", "c9")] == (True, "review")  # a pair the model never proposed
    assert got[("d1", "c2")] == (True, "deterministic")  # untouched
    assert out.columns == list(MATCHES)
    assert apply_review_decisions(matches, None).equals(matches)


def test_a_decision_in_the_file_changes_the_next_run(tmp_path: Path):
    """The round trip: run, write the queue, decide, run again with the decisions."""
    from pipelines.sources.court import court_counts, court_persons, read_court
    from pipelines.sources.doj import doj_counts, doj_persons, read_doj
    from pipelines.synth.generate import generate_county

    gen = generate_county(rows=2500, seed=23, county=COUNTY, out=tmp_path / "county")
    doj = read_doj(gen.doj_files)
    court = read_court(gen.court_files, gen.court_layout, county=COUNTY, as_of=date(2024, 1, 1))
    frames = (doj_persons(doj.rows), doj_counts(doj.rows), court_persons(court.rows, county=COUNTY),
              court_counts(court.rows, county=COUNTY))
    settings = LinkageSettings(u_max_pairs=2e5, em_max_pairs=1e5, review_band=(0.3, 0.9999))

    first = link_sources(*frames, settings)
    queue = review_queue_for(first)
    assert queue.height > 0 and set(queue["pair_kind"]) <= {"doj-court", "doj-doj", "court-court"}
    path = write_review_queue(queue, tmp_path / "review")

    # Unlink a pair the model linked; link two records the model kept apart.
    linked = queue.filter((pl.col("pair_kind") == "doj-court") & (pl.col("match_probability") >= 0.9)).head(1)
    if linked.height == 0:
        linked = first.links.links.filter(pl.col("pass") == "probabilistic").head(1)
    unlink = (linked["left_id"][0], linked["right_id"][0])
    keys = dict(first.unified.select("person_id", "person_key").iter_rows())
    apart = next((d, c) for d, c in zip(frames[0]["person_id"], frames[2]["person_id"], strict=False)
                 if keys[d] != keys[c])
    _work(path, {unlink: "different"})
    header = path.read_text().splitlines()[1].split(",")
    listed = set(queue.select("left_id", "right_id").iter_rows())
    typed = [(apart, "same")] + ([] if unlink in listed else [(unlink, "different")])
    with path.open("a") as f:  # pairs the queue did not list: typed in by the reviewer
        for (left_id, right_id), decision in typed:
            row = {"decision": decision, "left_id": left_id, "right_id": right_id}
            f.write(",".join(row.get(col, "") for col in header) + "\n")

    second = link_sources(*frames, settings, review_decisions=path)
    m = second.links.matches
    row = m.filter((pl.col("left_id") == unlink[0]) & (pl.col("right_id") == unlink[1])).row(0, named=True)
    assert (row["is_match"], row["pass"]) == (False, "review")
    row = m.filter((pl.col("left_id") == apart[0]) & (pl.col("right_id") == apart[1])).row(0, named=True)
    assert (row["is_match"], row["pass"]) == (True, "review")
    keys2 = dict(second.unified.select("person_id", "person_key").iter_rows())
    assert keys2[apart[0]] == keys2[apart[1]]
    assert second.decisions_applied == 2
    # Decided pairs leave the queue.
    again = review_queue_for(second)
    decided = pl.DataFrame({"left_id": [unlink[0], apart[0]], "right_id": [unlink[1], apart[1]]})
    assert again.join(decided, on=["left_id", "right_id"], how="semi").height == 0
