"""Linkage and reconciliation end to end on a small generated county, against its ground truth.

The county is generated (pipelines.synth), written to files and read back by the real readers,
so this is the path a county's own data takes. Bounds are looser than the benchmark's targets
(a small county has fewer examples to train on); bench/bench_linkage.py measures at scale.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.linkage import LinkageSettings, link_persons, link_sources, save_model_artifacts
from pipelines.linkage.evaluate import cluster_scores, cross_pairs_from_keys, pair_scores, true_cross_pairs
from pipelines.model import PERSON, conform
from pipelines.reconcile import reconcile, unified_history

COUNTY = "LOS ANGELES"
# Smaller samples than the defaults: the county is small and CI has two cores.
SETTINGS = LinkageSettings(u_max_pairs=3e5, em_max_pairs=2e5)

# Hand-made people the generator does not make on purpose, appended to the generated frames.
CRAFTED_DOJ = [
    {"person_id": "doj:T1", "last_name": "GARCIA-LOPEZ", "first_name": "FRANCISCO", "middle_name": "J",
     "dob": date(1981, 4, 7), "gender": "M"},
    {"person_id": "doj:T2", "last_name": "NGUYEN", "first_name": "MINH", "dob": date(1975, 11, 23), "gender": "M",
     "cii": "987654321"},
]
CRAFTED_COURT = [
    {"person_id": "court:LOS ANGELES:T1", "last_name": "LOPEZ", "first_name": "PACO", "dob": date(1981, 7, 4),
     "gender": "M"},
    {"person_id": "court:LOS ANGELES:T2", "last_name": "MINH", "first_name": "NGUYEN", "dob": date(1975, 11, 23),
     "gender": "M"},
]


def _crafted(rows: list[dict], source: str) -> pl.DataFrame:
    frame = pl.DataFrame([{**r, "source": source, "source_file": "crafted", "source_line": i + 1}
                          for i, r in enumerate(rows)], infer_schema_length=None)
    return conform(frame, PERSON, extra=False)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    from pipelines.sources.court import court_counts, court_persons, read_court
    from pipelines.sources.doj import doj_counts, doj_persons, read_doj
    from pipelines.synth.generate import generate_county

    out = tmp_path_factory.mktemp("county")
    gen = generate_county(rows=6000, seed=11, county=COUNTY, out=out)
    doj = read_doj(gen.doj_files)
    court = read_court(gen.court_files, gen.court_layout, county=COUNTY, as_of=date(2024, 1, 1))
    frames = {
        "doj_persons": doj_persons(doj.rows),
        "doj_counts": doj_counts(doj.rows),
        "court_persons": court_persons(court.rows, county=COUNTY),
        "court_counts": court_counts(court.rows, county=COUNTY),
    }
    frames["doj_persons_all"] = pl.concat([conform(frames["doj_persons"], PERSON, extra=False),
                                           _crafted(CRAFTED_DOJ, "doj")])
    frames["court_persons_all"] = pl.concat([conform(frames["court_persons"], PERSON, extra=False),
                                             _crafted(CRAFTED_COURT, "court")])
    outcome = link_sources(frames["doj_persons_all"], frames["doj_counts"], frames["court_persons_all"],
                           frames["court_counts"], SETTINGS)
    truth = {name: pl.read_parquet(gen.truth_files[name]) for name in ("persons", "counts")}
    return {"gen": gen, "outcome": outcome, "truth": truth, **frames}


def test_person_linkage_meets_the_bound_against_truth(county):
    outcome, truth = county["outcome"], county["truth"]["persons"]
    doj_ids, court_ids = county["doj_persons"]["person_id"], county["court_persons"]["person_id"]
    actual = true_cross_pairs(truth, doj_ids, court_ids)
    assert actual.height > 300  # the county is big enough to mean something
    unified = pair_scores(cross_pairs_from_keys(outcome.unified, doj_ids, court_ids), actual)
    assert unified["precision"] >= 0.995, unified
    assert unified["f1"] >= 0.99, unified
    # Within and across sources, every pair of records of one person.
    everyone = cluster_scores(outcome.unified, truth, cluster="person_key")
    assert everyone["f1"] >= 0.985, everyone
    # The model alone (no transitive help from duplicates) is nearly as good.
    direct = pair_scores(outcome.links.links, actual)
    assert direct["f1"] >= 0.985, direct


def test_both_passes_contribute_and_carry_evidence(county):
    links = county["outcome"].links.links
    by_pass = dict(links.group_by("pass").len().iter_rows())
    assert by_pass.get("deterministic", 0) > 0 and by_pass.get("probabilistic", 0) > 0
    det = links.filter(pl.col("pass") == "deterministic")
    assert det["evidence"].str.starts_with("rule: ").all()
    assert det["agreement"].str.contains(r"\b(cii|ssn|cdl|case_number)\b").all()
    prob = links.filter(pl.col("pass") == "probabilistic")
    assert prob["evidence"].str.contains("name: ").all()
    assert prob["match_probability"].min() >= SETTINGS.match_threshold
    assert prob["match_weight"].is_not_null().all()


def test_domain_comparisons_see_nicknames_compound_surnames_swaps_and_transpositions(county):
    m = county["outcome"].links.matches
    swapped = m.filter((pl.col("left_id") == "doj:T2") & (pl.col("right_id") == "court:LOS ANGELES:T2"))
    assert swapped.height == 1 and swapped["is_match"][0]
    assert "first and last swapped" in swapped["evidence"][0] and "dob: exact" in swapped["evidence"][0]
    nick = m.filter((pl.col("left_id") == "doj:T1") & (pl.col("right_id") == "court:LOS ANGELES:T1"))
    assert nick.height == 1, "the nickname / compound surname / transposed DOB pair was never compared"
    assert "surname and nickname" in nick["evidence"][0]
    assert "day and month transposed" in nick["evidence"][0]


def test_court_only_cases_are_found(county):
    outcome, truth = county["outcome"], county["truth"]["counts"]
    r = reconcile(county["doj_counts"], county["court_counts"], outcome.unified,
                  person_matches=outcome.links.matches)
    expected = truth.filter(pl.col("classification") == "court_only")["court_count_id"]
    found = r.filter(pl.col("classification") == "court_only")["court_count_id"]
    assert expected.len() > 100
    tp = found.is_in(expected.implode()).sum()
    assert tp / found.len() >= 0.98 and tp / expected.len() >= 0.98, (tp, found.len(), expected.len())
    # Every count, every classification.
    key = ["court_count_id", "doj_count_id", "classification"]
    agree = r.select(key).join(truth.select(key), on=key, how="inner", nulls_equal=True).height
    assert agree / truth.height >= 0.98
    matched = r.filter(pl.col("classification") == "matched")
    assert matched["agreement"].str.contains("case_number").mean() > 0.9
    assert matched["match_probability"].is_not_null().mean() > 0.9

    history = unified_history(county["doj_counts"], county["court_counts"], r, outcome.unified)
    court_only_counts = set(found.to_list())
    added = set(history.filter(pl.col("is_court_only") & pl.col("count_id").is_in(found.implode()))["count_id"])
    assert added == court_only_counts  # every court-only cannabis count reaches eligibility
    assert history.filter(~pl.col("is_court_only"))["source"].unique().to_list() == ["doj"]


def test_linkage_is_reproducible(county):
    doj = county["doj_persons_all"].head(400)
    court = county["court_persons_all"].filter(pl.col("person_id").is_in(
        county["outcome"].links.links.filter(pl.col("left_id").is_in(doj["person_id"].implode()))["right_id"].implode()
    ) | (pl.int_range(pl.len()) < 300))
    a = link_persons(doj, court, SETTINGS, left_counts=county["doj_counts"], right_counts=county["court_counts"])
    b = link_persons(doj.reverse(), court.reverse(), SETTINGS, left_counts=county["doj_counts"],
                     right_counts=county["court_counts"])
    assert a.matches.height > 100
    assert a.matches.equals(b.matches)
    assert json.dumps(a.model, sort_keys=True) == json.dumps(b.model, sort_keys=True)


def test_model_artifacts_are_saved_without_personal_data(county, tmp_path: Path):
    result = county["outcome"].links
    files = save_model_artifacts(result, tmp_path)
    assert {"model", "settings", "summary", "match_weights", "m_u_parameters", "waterfall"} <= set(files)
    model = json.loads(files["model"].read_text())
    assert model["link_type"] == "link_only"
    trained = [lv for c in model["comparisons"] for lv in c["comparison_levels"] if "m_probability" in lv]
    assert len(trained) > 10
    from splink import SettingsCreator

    SettingsCreator.from_path_or_dict(str(files["model"]))  # Splink reads it back
    people = result.left.select("full_name", "dob_str").drop_nulls().head(200)
    for name in ("waterfall", "match_weights", "m_u_parameters", "summary"):
        text = files[name].read_text()
        leaked = [v for v in people["full_name"].to_list() + people["dob_str"].to_list() if v in text]
        assert not leaked, f"{name} contains personal values"
    html = files["waterfall"].read_text()
    assert "<script" in html and "cdn.jsdelivr" not in html  # libraries inlined: opens offline
    for path in files.values():
        assert path.stat().st_mode & 0o007 == 0  # not world-readable


@pytest.mark.parametrize("rows", [40, 300])
def test_a_small_county_links_without_failing(rows, tmp_path: Path):
    """Few records: training rules that pair nobody and a sample without identifier pairs must
    not stop the run (Splink refuses an empty EM session and a zero prior)."""
    from pipelines.sources.court import court_counts, court_persons, read_court
    from pipelines.sources.doj import doj_counts, doj_persons, read_doj
    from pipelines.synth.generate import generate_county

    gen = generate_county(rows=rows, seed=5, county=COUNTY, out=tmp_path)
    doj = read_doj(gen.doj_files)
    court = read_court(gen.court_files, gen.court_layout, county=COUNTY, as_of=date(2024, 1, 1))
    outcome = link_sources(doj_persons(doj.rows), doj_counts(doj.rows), court_persons(court.rows, county=COUNTY),
                           court_counts(court.rows, county=COUNTY), SETTINGS)
    truth = pl.read_parquet(gen.truth_files["persons"])
    doj_ids, court_ids = doj_persons(doj.rows)["person_id"], court_persons(court.rows, county=COUNTY)["person_id"]
    scores = pair_scores(cross_pairs_from_keys(outcome.unified, doj_ids, court_ids),
                         true_cross_pairs(truth, doj_ids, court_ids))
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.8, scores
