"""Benchmark: the county flow, whole and stage by stage, at 100k, 1M and LA scale (2M).

Workload ("LA scale" of issue 10 at 2M): one Los Angeles-like county from pipelines.synth,
`generate_county(rows=N, seed=64, county="LOS ANGELES")` — N DOJ rows and about 1.5 x N court
charge rows (generic_csv) — cached under bench/out/data/flow/<scale>/county/. The county config
is the shipped `los_angeles` (policy los_angeles), compute-at 2026-01-01, delivered to an outbox
inside the bench's work folder with a fresh SQLite ledger.

Cases (each in a fresh child process: wall, CPU and peak RSS are that process's):

- "county flow (all stages)": `run_county` on a fresh work folder: plan (fingerprints), read
  both sources, validate inputs, link, reconcile, eligibility, validate outputs, deliver (files +
  ledger) and report — every stage pipelines.flow has an implementation for (a stage not yet
  implemented is left out and named in the notes). Airflow is not involved.
- "flow stage: <stage>": `run_stage(<stage>, run_dir)` alone on a cached run folder whose earlier
  stages were run once, untimed, by `prepare` (in a child process, so the harness stays small).
  Rows are the county's input rows (DOJ + court), so µs/row compares stages and scales. The
  child's wall time includes starting Python and importing what the stage needs (as an Airflow
  task pays it); `stage_s` in the notes is the stage alone.

Freshness: a cached stage output counts only if it was written during this `python -m bench`
invocation (so a code change is always measured), unless BENCH_FLOW_REUSE=1 (for profiling: any
existing output is reused). The deliver stage starts from an empty ledger and outbox each time,
or it would find nothing new to deliver.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import ROOT, SCALE_ROWS, Case

SEED = 64
COUNTY = "LOS ANGELES"
CONFIG = "los_angeles"
COMPUTE_AT = "2026-01-01"
SCALES = ["100k", "1M", "2M"]

# Outputs written before this time were made by an earlier bench run (possibly older code).
_STARTED = time.time()

# Same order as pipelines.flow.STAGES (checked in prepare); literal so importing this module stays light.
STAGES = ("read_doj", "read_court", "validate_inputs", "link", "reconcile", "eligibility",
          "validate_outputs", "deliver", "report")


def county_inputs(scale: str, datadir: Path) -> dict:
    """The generated county at a scale (cached): {"doj": [...], "court": [...], "doj_rows", "court_rows"}."""
    out = Path(datadir).resolve() / "flow" / scale / "county"
    manifest = out / "inputs.json"
    if not manifest.exists():
        from pipelines.synth import generate_county  # noqa: PLC0415

        shutil.rmtree(out, ignore_errors=True)
        g = generate_county(rows=SCALE_ROWS[scale], seed=SEED, county=COUNTY, out=out)
        manifest.write_text(json.dumps({
            "doj": [str(p) for p in g.doj_files], "court": [str(p) for p in g.court_files],
            "doj_rows": g.doj_rows, "court_rows": g.court_rows,
        }, indent=2))
    return json.loads(manifest.read_text())


def _spec(inputs: dict, workdir: Path):
    from pipelines.flow import RunSpec  # noqa: PLC0415

    return RunSpec(county=CONFIG, doj=inputs["doj"], court=inputs["court"], compute_at=COMPUTE_AT,
                   workdir=str(workdir), outbox=str(workdir / "outbox"))


def registered() -> list[str]:
    """The stages of pipelines.flow.STAGES that have an implementation, in order."""
    import pipelines.stages  # noqa: F401, PLC0415 (registers them)
    from pipelines import flow  # noqa: PLC0415

    if tuple(flow.STAGES) != STAGES:
        raise RuntimeError(f"bench_flow.STAGES {STAGES} differs from pipelines.flow.STAGES {flow.STAGES}")
    public = getattr(flow, "registered_stages", None)
    known = set(public()) if callable(public) else set(getattr(flow, "_STAGE_IMPL", {}))
    return [s for s in STAGES if s in known]


def _fresh(run_dir: Path, stage: str) -> bool:
    summary = run_dir / "summary" / f"{stage}.json"
    if not summary.exists():
        return False
    return os.environ.get("BENCH_FLOW_REUSE") == "1" or summary.stat().st_mtime >= _STARTED


STAGE_CHILD = """
import sys
from pipelines.flow import run_stage
run_stage(sys.argv[1], sys.argv[2])
"""


def reset_delivery(run_dir: Path, workdir: Path) -> None:
    """Forget an earlier delivery of this run: ledger, outbox, the assembled delivery frames."""
    for name in ("ledger.sqlite", "ledger.sqlite-journal", "ledger.sqlite-wal", "ledger.sqlite-shm"):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(workdir / "outbox", ignore_errors=True)
    shutil.rmtree(run_dir / "delivery", ignore_errors=True)
    for name in ("delivery_rows", "delivery_not_actionable", "delivery_undeliverable"):
        (run_dir / f"{name}.parquet").unlink(missing_ok=True)


def prepare_stage(scale: str, datadir: Path, stage: str) -> dict:
    """Run every stage before `stage` (untimed, each in a child process) unless already fresh."""
    from pipelines.flow import plan_run  # noqa: PLC0415

    inputs = county_inputs(scale, datadir)
    workdir = Path(datadir).resolve() / "flow" / scale / "stages"
    run_dir = plan_run(_spec(inputs, workdir))
    stages = registered()
    prepared = {"run_dir": str(run_dir), "stage": stage, "rows": inputs["doj_rows"] + inputs["court_rows"],
                "problem": ""}
    if stage not in stages:
        return {**prepared, "problem": f"stage {stage} is not implemented in pipelines.flow yet"}
    for before in stages[: stages.index(stage)]:
        if _fresh(run_dir, before):
            continue
        if before == "deliver":
            reset_delivery(run_dir, workdir)
        print(f"bench: flow @ {scale}: preparing stage {before} (untimed)", flush=True)
        done = subprocess.run([sys.executable, "-c", STAGE_CHILD, before, str(run_dir)], cwd=ROOT)
        if done.returncode != 0:
            return {**prepared, "problem": f"the earlier stage {before} failed (exit {done.returncode})"}
    if stage == "deliver":
        reset_delivery(run_dir, workdir)
    return prepared


def run_stage_case(run_dir: str, stage: str, rows: int, problem: str) -> dict:
    if problem:
        raise RuntimeError(problem)
    from pipelines.flow import run_stage  # noqa: PLC0415

    t0 = time.perf_counter()
    summary = run_stage(stage, run_dir)
    seconds = time.perf_counter() - t0
    headline = summary.get("headline", "") if isinstance(summary, dict) else ""
    return {"rows": rows, "stage_s": round(seconds, 2),
            "notes": f"stage alone {seconds:.1f} s" + (f"; {headline}" if headline else "")}


def prepare_flow(scale: str, datadir: Path) -> dict:
    inputs = county_inputs(scale, datadir)
    workdir = Path(datadir).resolve() / "flow" / scale / "full"
    shutil.rmtree(workdir, ignore_errors=True)
    return {"inputs": inputs, "workdir": str(workdir)}


def run_flow(inputs: dict, workdir: str) -> dict:
    from pipelines import flow  # noqa: PLC0415

    stages = registered()
    spec = _spec(inputs, Path(workdir))
    times: dict[str, float] = {}
    t0, started = time.perf_counter(), time.time()
    if stages == list(STAGES):
        # The real entry point; per-stage times come from the times its files were written.
        run_dir = Path(flow.run_county(spec, progress=False)["run_dir"])
        last = (run_dir / "spec.json").stat().st_mtime
        times["plan"] = last - started
        for name in stages:
            done = (run_dir / "summary" / f"{name}.json").stat().st_mtime
            times[name], last = done - last, done
    else:
        t = time.perf_counter()
        run_dir = flow.plan_run(spec)
        times["plan"] = time.perf_counter() - t
        for name in stages:
            t = time.perf_counter()
            flow.run_stage(name, run_dir)
            times[name] = time.perf_counter() - t
    total = time.perf_counter() - t0
    left_out = [s for s in STAGES if s not in stages]
    split = ", ".join(f"{k} {v:.1f}" for k, v in times.items())
    notes = f"in-process {total:.1f} s: {split}" + (f"; not implemented yet: {', '.join(left_out)}" if left_out else "")
    return {"rows": inputs["doj_rows"] + inputs["court_rows"], "flow_s": round(total, 2),
            "stage_s": {k: round(v, 2) for k, v in times.items()}, "notes": notes}


def _stage_case(stage: str) -> Case:
    return Case(
        name=f"flow stage: {stage}",
        scales=SCALES,
        prepare=lambda scale, datadir, _stage=stage: prepare_stage(scale, datadir, _stage),
        run=run_stage_case,
        target="µs/row flat from 100k to 2M (within 1.3x)",
    )


CASES = [
    Case(
        name="county flow (all stages)",
        scales=SCALES,
        prepare=prepare_flow,
        run=run_flow,
        target="2M DOJ + 3M court rows: < 90 s, < 8 GB",
    ),
    *[_stage_case(s) for s in STAGES],
]
