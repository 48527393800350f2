"""Benchmark: the statewide refresh, all 58 counties, through the embedded Airflow path.

Workload ("statewide" of issue 10): `pipelines.synth.generate_statewide(total, seed=58, ...)` —
58 counties sized like California's 2020 population (Los Angeles about a quarter), each with its
DOJ file and a court extract of about 1.5 x its DOJ rows (generic_csv) — cached under
bench/out/data/statewide/<scale>/counties/. Scales: "10M" (the issue's workload: about 10M DOJ
rows in all) and "1M" (the same 58 counties at a tenth of the size: mostly Airflow's and each
stage's fixed cost per county).

Configuration. Only 8 county configs ship (config/counties/), and the statewide DAG covers every
config in the config directory (AUTOCLEAR_CONFIG_DIR, else config/). So the bench writes a config
directory of its own, bench/out/data/statewide/<scale>/config/: the shipped layouts/ and delivery/
folders, and one counties/<slug>.yaml per county —

- for the 8 shipped counties, their own config (policy, policy parameters) with four changes:
  court_layouts [generic_csv] (what the generator writes), an outbox in the bench's work folder as
  delivery target (San Diego ships an SFTP target), drop folders, and the case-number pattern;
- for the other 50, the template's choices (policy `configurable`) and an outbox;
- every county's case-number pattern is CASE_NUMBER_PATTERN, which fits all the generator's
  numbering (the generator does not write each court's real style: San Francisco's shipped
  pattern is all digits, and the delivery gate rightly blocks numbers outside a county's pattern);
- drop folders: the county's generated DOJ file and court extract. The DAG run takes the newest
  file of each (one each here), which is how a deployed statewide run finds its inputs.

Timed (one child process, wall / CPU / peak RSS include the Airflow process it starts):
`scripts/airflow_dags_test.py --statewide` — `airflow dags test autoclear_statewide` on a SQLite
metadata database (migrated in `prepare`, untimed), which runs the counties one after another in
one process (`dags test` runs without an executor), then the statewide summary. Task retries are
off (AUTOCLEAR_TASK_RETRIES=0) so that a failing county is reported, not retried after a backoff
that would be timed as statewide work; any failed county makes the measurement fail. Extra figures:
counties ok / failed, the largest county's time, and the sum of the per-county times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import ROOT, Case

SEED = 58
COMPUTE_AT = "2026-01-01"
TOTAL_ROWS = {"1M": 1_000_000, "10M": 10_000_000}
# Fits every number the generator writes (BA336486, 97CJ04567-01, 13F07014, SCD123456A, and
# all-digit forms such as 62002421 where a county's prefix is numeric): letters and digits, an
# optional defendant suffix. (The first statewide run found the narrower LA-style pattern blocking
# Placer's delivery at the case-number gate, as it should.)
CASE_NUMBER_PATTERN = r"^[A-Z0-9]{5,20}(?:-\d{2,3})?$"
TIMEOUT_S = 4 * 3600


def statewide_data(scale: str, datadir: Path) -> dict:
    """The generated 58 counties (cached): {slug: {"doj": [...], "court": [...], "doj_rows", "court_rows"}}."""
    out = Path(datadir).resolve() / "statewide" / scale / "counties"
    manifest = out / "inputs.json"
    if not manifest.exists():
        from pipelines.runs import county_slug  # noqa: PLC0415
        from pipelines.synth import generate_statewide  # noqa: PLC0415

        shutil.rmtree(out, ignore_errors=True)
        generated = generate_statewide(TOTAL_ROWS[scale], SEED, out)
        counties = {county_slug(g.county): {"county": g.county, "doj": [str(p) for p in g.doj_files],
                                            "court": [str(p) for p in g.court_files],
                                            "doj_rows": g.doj_rows, "court_rows": g.court_rows}
                    for g in generated}
        manifest.write_text(json.dumps(counties, indent=2, sort_keys=True))
    return json.loads(manifest.read_text())


def write_config_dir(base: Path, counties: dict) -> Path:
    """A config directory with one county YAML per generated county (see the module doc)."""
    import yaml  # noqa: PLC0415

    for sub in ("layouts", "delivery"):
        shutil.rmtree(base / sub, ignore_errors=True)
        shutil.copytree(ROOT / "config" / sub, base / sub)
    shutil.rmtree(base / "counties", ignore_errors=True)
    (base / "counties").mkdir(parents=True)
    for slug, c in sorted(counties.items()):
        shipped = ROOT / "config" / "counties" / f"{slug}.yaml"
        config = yaml.safe_load(shipped.read_text()) if shipped.exists() else {
            "name": slug, "display_name": f"{c['county'].title()} County", "doj_county_name": c["county"],
            "policy": "configurable", "policy_parameters": {}, "case_number_pattern": CASE_NUMBER_PATTERN,
            "schedule": "0 2 * * 1", "ledger_url_env": "AUTOCLEAR_LEDGER_URL",
        }
        config["court_layouts"] = ["generic_csv"]
        # The generator numbers cases in three styles of its own, not each court's real one (San
        # Francisco's shipped pattern is all digits): every county checks against one that fits them.
        config["case_number_pattern"] = CASE_NUMBER_PATTERN
        config["delivery"] = {"layout": config.get("delivery", {}).get("layout", "delimited"),
                              "target": {"kind": "outbox", "path": f"outbox/{slug}"}}
        config["drop_folders"] = {"doj": str(Path(c["doj"][0]).parent), "court": str(Path(c["court"][0]).parent)}
        (base / "counties" / f"{slug}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return base


def prepare(scale: str, datadir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    import airflow_local  # noqa: PLC0415

    datadir = Path(datadir).resolve()
    counties = statewide_data(scale, datadir)
    base = datadir / "statewide" / scale
    config = write_config_dir(base / "config", counties)
    work = base / "work"
    shutil.rmtree(work, ignore_errors=True)
    home = datadir / "statewide" / "airflow_home"
    airflow_local.ensure_migrated(airflow_local.airflow_env(home))
    rows = sum(c["doj_rows"] + c["court_rows"] for c in counties.values())
    doj = sum(c["doj_rows"] for c in counties.values())
    return {"config": str(config), "work": str(work), "airflow_home": str(home), "rows": rows, "doj_rows": doj,
            "counties": len(counties)}


def run(config: str, work: str, airflow_home: str, rows: int, doj_rows: int, counties: int) -> dict:
    # No retries: a county that fails is reported at once instead of after Airflow's backoff
    # (120 s, doubling), which would be measured as statewide time.
    env = {**os.environ, "AUTOCLEAR_CONFIG_DIR": config, "AUTOCLEAR_WORKDIR": work, "AUTOCLEAR_TASK_RETRIES": "0"}
    cmd = [sys.executable, str(ROOT / "scripts" / "airflow_dags_test.py"), "--statewide", "--workdir", work,
           "--compute-at", COMPUTE_AT, "--airflow-home", airflow_home, "--log", str(Path(work) / "airflow.log")]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - t0
    summary_path = Path(work) / "statewide" / COMPUTE_AT / "summary.json"
    if not summary_path.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"no statewide summary (exit {done.returncode}): {' | '.join(tail)}")
    summary = json.loads(summary_path.read_text())
    per_county = county_seconds(summary)
    biggest = max(per_county.items(), key=lambda kv: kv[1]) if per_county else ("", 0.0)
    failed = summary["counties_failed"]
    notes = (f"{summary['counties_ok']}/{summary['counties_total']} counties ok, {doj_rows:,} DOJ rows; "
             f"DAG run {seconds:.0f} s, counties {sum(per_county.values()):.0f} s in all, "
             f"largest {biggest[0]} {biggest[1]:.0f} s")
    if failed:  # not a complete refresh: reported as a failed measurement, with what was measured
        raise RuntimeError(f"{notes}; failed: {', '.join(failed)} (see {summary_path})")
    if done.returncode != 0:
        raise RuntimeError(f"airflow_dags_test.py exited {done.returncode}; see {Path(work) / 'airflow.log'}")
    return {"rows": rows, "dag_s": round(seconds, 1), "counties_ok": summary["counties_ok"],
            "counties_failed": failed, "county_s": {k: round(v, 1) for k, v in sorted(per_county.items())},
            "notes": notes}


def county_seconds(summary: dict) -> dict[str, float]:
    """Seconds per county, from its run folder: plan (spec.json) to its last stage summary."""
    out = {}
    for record in summary["counties"]:
        run_dir = record.get("run_dir")
        if not run_dir or not (Path(run_dir) / "spec.json").exists():
            continue
        start = (Path(run_dir) / "spec.json").stat().st_mtime
        ends = [p.stat().st_mtime for p in (Path(run_dir) / "summary").glob("*.json")]
        if ends:
            out[record["county"]] = max(ends) - start
    return out


CASES = [
    Case(
        name="statewide refresh (58 counties, embedded Airflow)",
        scales=["1M", "10M"],
        prepare=prepare,
        run=run,
        target="10M DOJ rows statewide: < 10 min",
    ),
]
