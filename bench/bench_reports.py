"""Benchmark: the report stage (`write_reports`) on a DOJ-only run folder of a generated county.

prepare (untimed, cached under bench/out/data/reports_<scale>/): a generated Los Angeles DOJ file
of the scale's rows, read into canonical counts and persons, decided under the county's policy,
laid out as a run folder (spec.json, counts, persons, determinations, doj_stats).

The timed child runs `write_reports`: the facts once, the impact figures, the what-if under all
six shipped policies, the data-quality figures, the impact report (charts drawn by vl-convert,
HTML and PDF) and the dashboard (the Vega bundle is cached in the work folder after the first
build, as in production). Its notes split the time.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

COMPUTE_AT = "2020-07-01"


def prepare(scale: str, datadir: Path) -> dict:
    import json

    out = Path(datadir) / f"reports_{scale}"
    run_dir = out / "work" / "los_angeles" / f"bench{scale}"
    done = out / "done"
    if not done.exists():
        from datetime import date

        from pipelines.config import load_county
        from pipelines.eligibility import determine, load_policy
        from pipelines.sources.doj import doj_counts, doj_persons, read_doj
        from pipelines.synth.generate import generate_county

        generated = generate_county(rows=SCALE_ROWS[scale], seed=7, out=out / "county")
        read = read_doj([str(p) for p in generated.doj_files])
        counts, persons = doj_counts(read.rows), doj_persons(read.rows)
        config = load_county("los_angeles")
        policy = load_policy(config.policy, parameters=config.policy_parameters or None)
        decided = determine(counts, persons, policy=policy, county=config.doj_county_name,
                            compute_at=date.fromisoformat(COMPUTE_AT))
        run_dir.mkdir(parents=True, exist_ok=True)
        counts.write_parquet(run_dir / "counts.parquet")
        persons.write_parquet(run_dir / "persons.parquet")
        decided.write_parquet(run_dir / "determinations.parquet")
        read.stats.write_parquet(run_dir / "doj_stats.parquet")
        read.quarantine.write_parquet(run_dir / "doj_quarantine.parquet")
        (run_dir / "spec.json").write_text(json.dumps({
            "county": "los_angeles", "doj": [], "court": [], "compute_at": COMPUTE_AT,
            "workdir": str(out / "work"), "run_id": f"bench{scale}"}))
        done.write_text("ok")
    return {"run_dir": str(run_dir), "workdir": str(out / "work")}


def run(run_dir: str, workdir: str) -> dict:
    t0 = time.perf_counter()
    import pipelines.reports.write as write

    timings: dict[str, float] = {"import": time.perf_counter() - t0}

    def timed(name, fn):
        def inner(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        return inner

    for name in ("county_facts", "impact_figures", "what_if", "write_impact_report", "run_quality"):
        setattr(write, name, timed(name, getattr(write, name)))
    write.dash.build_dashboard = timed("build_dashboard", write.dash.build_dashboard)
    summary = write.write_reports(run_dir, workdir=workdir)
    timings["total"] = time.perf_counter() - t0
    return {"notes": ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
            "convictions": summary["convictions_decided"]}


CASES = [
    Case(
        name="report stage (impact, what-if x6, quality, HTML/PDF, dashboard)",
        scales=["10k", "100k", "1M", "2M"],
        prepare=prepare,
        run=run,
        target="2M DOJ rows: under a minute",
        rows=lambda scale: SCALE_ROWS[scale],
    ),
]
