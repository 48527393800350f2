"""Benchmark: person linkage and reconciliation on generated counties, scored against the truth.

- "link 1M court persons × 1M DOJ persons": `link_persons` alone (deterministic pass, Splink
  training on a sample, scoring), DOJ persons and court persons of a generated Los Angeles-like
  county, about `scale` persons on each side. Extra figures: pairwise precision / recall / F1 of
  the DOJ-court links against the generator's truth.
- "linkage stage + reconcile": what the county run does (dedupe both sources, link, unify,
  reconcile at count level). Extra figures: F1 of the unified persons across sources and
  precision / recall of the court-only counts (the cases DOJ missed).

`prepare` generates the county (pipelines.synth, default noise), reads it with the real readers
and caches the canonical frames and the truth as Parquet under bench/out/data/linkage_<scale>;
only the linkage itself is timed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bench.harness import Case

SEED = 2024
COUNTY = "LOS ANGELES"
PERSONS = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
# Generated counties have about 0.142 DOJ persons per DOJ row; a court ratio of 0.52 gives about
# as many court persons as DOJ persons (measured on 20k-row counties).
DOJ_ROWS_PER_PERSON = 7.05
COURT_RATIO = 0.52
FRAMES = ("doj_persons", "doj_counts", "court_persons", "court_counts")


def prepare(scale: str, datadir: Path) -> dict:
    import polars as pl  # noqa: PLC0415

    from pipelines.sources.court import court_counts, court_persons, read_court  # noqa: PLC0415
    from pipelines.sources.doj import CANONICAL_INPUT_COLUMNS, doj_counts, doj_persons, read_doj  # noqa: PLC0415
    from pipelines.synth import generate_county  # noqa: PLC0415

    out = datadir / f"linkage_{scale}"
    done = out / "frames" / "DONE"
    if done.exists():
        return {"folder": str(out)}
    gen = generate_county(rows=int(PERSONS[scale] * DOJ_ROWS_PER_PERSON), seed=SEED, county=COUNTY,
                          court_ratio=COURT_RATIO, doj_files=max(1, PERSONS[scale] // 250_000), out=out / "county")
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    doj = read_doj(gen.doj_files, columns=CANONICAL_INPUT_COLUMNS)
    doj_persons(doj.rows).write_parquet(frames_dir / "doj_persons.parquet")
    doj_counts(doj.rows).write_parquet(frames_dir / "doj_counts.parquet")
    del doj
    court = read_court(gen.court_files, gen.court_layout, county=COUNTY, as_of=date(2024, 1, 1))
    court_persons(court.rows, county=COUNTY).write_parquet(frames_dir / "court_persons.parquet")
    court_counts(court.rows, county=COUNTY).write_parquet(frames_dir / "court_counts.parquet")
    for name in ("persons", "counts"):
        pl.read_parquet(gen.truth_files[name]).write_parquet(frames_dir / f"truth_{name}.parquet")
    done.write_text("ok")
    return {"folder": str(out)}


def _frames(folder: str, *, lazy_counts: bool = False) -> dict:
    """The cached frames; with `lazy_counts` the COUNT frames are scans (linkage reads four columns)
    and the truth is left for later."""
    import polars as pl  # noqa: PLC0415

    base = Path(folder) / "frames"
    names = FRAMES if lazy_counts else (*FRAMES, "truth_persons", "truth_counts")
    return {
        name: pl.scan_parquet(base / f"{name}.parquet") if lazy_counts and name.endswith("_counts")
        else pl.read_parquet(base / f"{name}.parquet")
        for name in names
    }


def run_link(folder: str) -> dict:
    import polars as pl  # noqa: PLC0415

    from pipelines.linkage import LinkageSettings, link_persons  # noqa: PLC0415
    from pipelines.linkage.evaluate import pair_scores, true_cross_pairs  # noqa: PLC0415

    f = _frames(folder, lazy_counts=True)  # the truth is read after linking: scoring is not linkage
    # Bounded DuckDB memory, spilling under the bench folder: how a county runs a big file on a
    # small machine (temp files hold personal data: keep them in the run's own folder).
    spill = Path(folder) / "duckdb_tmp"
    spill.mkdir(parents=True, exist_ok=True, mode=0o770)
    settings = LinkageSettings(memory_limit="2GB", temp_directory=str(spill))
    result = link_persons(f["doj_persons"], f["court_persons"], settings, left_counts=f["doj_counts"],
                          right_counts=f["court_counts"])
    truth = pl.read_parquet(Path(folder) / "frames" / "truth_persons.parquet", columns=["person_id", "true_person_id"])
    actual = true_cross_pairs(truth, f["doj_persons"]["person_id"], f["court_persons"]["person_id"])
    s = pair_scores(result.links, actual)
    return {
        "rows": f["doj_persons"].height + f["court_persons"].height,
        "f1": round(s["f1"], 5), "precision": round(s["precision"], 5), "recall": round(s["recall"], 5),
        "notes": (f"{f['doj_persons'].height:,} DOJ x {f['court_persons'].height:,} court persons; "
                  f"link F1 {s['f1']:.4f} (P {s['precision']:.4f}, R {s['recall']:.4f}); "
                  f"{result.stats.get('pairs_scored_kept', 0):,} pairs kept"),
    }


def run_stage(folder: str) -> dict:
    import polars as pl  # noqa: PLC0415

    from pipelines.linkage import link_sources  # noqa: PLC0415
    from pipelines.linkage.evaluate import cross_pairs_from_keys, pair_scores, true_cross_pairs  # noqa: PLC0415
    from pipelines.reconcile import reconcile  # noqa: PLC0415

    f = _frames(folder)
    outcome = link_sources(f["doj_persons"], f["doj_counts"], f["court_persons"], f["court_counts"])
    reconciled = reconcile(f["doj_counts"], f["court_counts"], outcome.unified,
                           person_matches=outcome.links.matches, court_counties=[COUNTY])
    doj_ids, court_ids = f["doj_persons"]["person_id"], f["court_persons"]["person_id"]
    persons = pair_scores(cross_pairs_from_keys(outcome.unified, doj_ids, court_ids),
                          true_cross_pairs(f["truth_persons"], doj_ids, court_ids))
    expected = f["truth_counts"].filter(pl.col("classification") == "court_only").select("court_count_id")
    found = reconciled.filter(pl.col("classification") == "court_only").select("court_count_id")
    tp = found.join(expected, on="court_count_id", how="semi").height
    precision = tp / found.height if found.height else 1.0
    recall = tp / expected.height if expected.height else 1.0
    return {
        "rows": f["doj_counts"].height + f["court_counts"].height,
        "f1": round(persons["f1"], 5), "court_only_precision": round(precision, 5),
        "court_only_recall": round(recall, 5),
        "notes": (f"persons F1 {persons['f1']:.4f}; court-only counts P {precision:.4f} R {recall:.4f} "
                  f"({found.height:,} found, {expected.height:,} true)"),
    }


CASES = [
    Case(
        name="link 1M court persons × 1M DOJ persons",
        scales=["10k", "100k", "1M"],
        prepare=prepare,
        run=run_link,
        target="1M×1M: < 60 s, < 6 GB; F1 ≥ 0.995",
        rows=lambda scale: 2 * PERSONS[scale],
    ),
    Case(
        name="linkage stage + reconcile (dedupe, link, unify, count-level)",
        scales=["10k", "100k", "1M"],
        prepare=prepare,
        run=run_stage,
        target="person F1 ≥ 0.995; court-only P, R ≥ 0.99",
    ),
]
