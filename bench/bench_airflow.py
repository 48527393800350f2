"""Benchmark: what Airflow adds on top of the pipeline.

- "county DAG via airflow dags test (overhead)": a generated Los Angeles-like county (the shipped
  los_angeles config) run twice on the same inputs: `run_county` in a fresh process (the
  pipeline's own time), then `airflow dags test autoclear_county_los_angeles` (embedded, SQLite
  metadata database already migrated). Extra figures: `pipeline_s`, `airflow_s` and
  `overhead_s` = their difference, Airflow's fixed cost per county run (process start, DAG
  parsing, ten task instances with their state kept in the database).
- "DAG file parse": the time Airflow's DagBag takes to import a DAG file in a fresh process with
  Airflow already imported (what the DAG processor pays on every parse), for county_refresh.py
  with the 8 shipped counties and with all 58 counties, and for statewide_refresh.py. Target 2 s.

Bytecode: every child process here uses one bytecode cache (warmed in `prepare`), since a deployed
Airflow never parses from source; this machine's PYTHONDONTWRITEBYTECODE would otherwise make
each import compile everything.
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
COMPUTE_AT = "2026-01-01"


def _env(datadir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(datadir / "airflow_pycache"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "GX_ANALYTICS_ENABLED": "False", **extra})
    return env


def _warm(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", "import airflow.sdk, airflow.dag_processing.dagbag, "
                    "airflow.cli.commands.dag_command, pipelines.stages, pipelines.config"],
                   env=env, check=True, cwd=ROOT, timeout=900)


# ---------------------------------------------------------------------------------------------
# County DAG through `airflow dags test` vs run_county


def prepare_county(scale: str, datadir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    import airflow_local  # noqa: PLC0415

    from pipelines.synth import generate_county  # noqa: PLC0415

    datadir = Path(datadir).resolve()
    out = datadir / f"airflow_county_{scale}"
    done = out / "DONE"
    if not done.exists():
        if out.exists():
            shutil.rmtree(out)
        gen = generate_county(rows=SCALE_ROWS[scale], seed=SEED, county=COUNTY, out=out / "county")
        (out / "inputs.json").write_text(json.dumps({"doj": [str(p) for p in gen.doj_files],
                                                     "court": [str(p) for p in gen.court_files]}))
        done.write_text("ok")
    home = datadir / "airflow_home"
    env = airflow_local.airflow_env(home, **_env(datadir))
    airflow_local.ensure_migrated(env)
    _warm(env)
    return {"folder": str(out), "airflow_home": str(home), "datadir": str(datadir)}


RUN_COUNTY = """
import json, sys
from pipelines.flow import RunSpec, run_county
inputs = json.loads(open(sys.argv[1]).read())
run_county(RunSpec(county="los_angeles", doj=inputs["doj"], court=inputs["court"], compute_at=sys.argv[2],
                   workdir=sys.argv[3]), progress=False)
"""


def run_county_dag(folder: str, airflow_home: str, datadir: str) -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    import airflow_dags_test  # noqa: PLC0415

    folder_path = Path(folder)
    inputs = json.loads((folder_path / "inputs.json").read_text())
    for sub in ("direct", "dag"):
        shutil.rmtree(folder_path / sub, ignore_errors=True)
    env = _env(Path(datadir))

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN_COUNTY, str(folder_path / "inputs.json"), COMPUTE_AT,
                    str(folder_path / "direct")], env=env, check=True, cwd=ROOT)
    pipeline_s = time.perf_counter() - t0

    conf = {**inputs, "compute_at": COMPUTE_AT, "workdir": str(folder_path / "dag")}
    result = airflow_dags_test.run_dags_test(
        "autoclear_county_los_angeles", conf, airflow_home=airflow_home, log_path=folder_path / "airflow.log",
        env_overrides=_env(Path(datadir)), echo=False)
    if not result.ok:
        raise RuntimeError(f"DAG run {result.state}; see {result.log_path}")
    overhead = result.seconds - pipeline_s
    tasks_s = task_seconds(result.log_path)
    outside = result.seconds - tasks_s
    return {"pipeline_s": round(pipeline_s, 2), "airflow_s": round(result.seconds, 2),
            "overhead_s": round(overhead, 2), "tasks_s": round(tasks_s, 2), "outside_tasks_s": round(outside, 2),
            "notes": f"pipeline alone {pipeline_s:.1f} s; via Airflow {result.seconds:.1f} s "
                     f"(overhead {overhead:.1f} s; {outside:.1f} s of it outside the tasks: "
                     "Airflow start-up, metadata DB, scheduling)"}


def task_seconds(log_path: Path) -> float:
    """Sum of the task durations `airflow dags test` logged ([DAG TEST] starting / end task)."""
    import re  # noqa: PLC0415
    from datetime import datetime  # noqa: PLC0415

    stamp = re.compile(r"^(\S+Z) .*\[DAG TEST\] (starting|end) task")
    started, total = None, 0.0
    for line in Path(log_path).read_text().splitlines():
        if m := stamp.match(line):
            when = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
            if m.group(2) == "starting":
                started = when
            elif started is not None:
                total += (when - started).total_seconds()
                started = None
    return total


# ---------------------------------------------------------------------------------------------
# DAG file parse time

PARSE_SCALES = {"8 counties": None, "58 counties": 58}


def prepare_parse(scale: str, datadir: Path) -> dict:
    from pipelines.config import CA_COUNTIES, county_slug  # noqa: PLC0415

    datadir = Path(datadir).resolve()
    config = ""
    if PARSE_SCALES.get(scale):
        base = datadir / "airflow_config_58"
        if not (base / "counties" / "yuba.yaml").exists():
            for sub in ("layouts", "delivery"):
                shutil.rmtree(base / sub, ignore_errors=True)
                shutil.copytree(ROOT / "config" / sub, base / sub)
            (base / "counties").mkdir(parents=True, exist_ok=True)
            for county in CA_COUNTIES:
                slug = county_slug(county)
                (base / "counties" / f"{slug}.yaml").write_text(
                    f"name: {slug}\ndisplay_name: {county.title()} County\ndoj_county_name: {county}\n"
                    "court_layouts: [generic_csv]\npolicy: statute\n"
                    f"drop_folders: {{doj: /srv/autoclear/{slug}/doj, court: /srv/autoclear/{slug}/court}}\n"
                    "schedule: '0 2 * * 1'\n")
        config = str(base)
    home = datadir / "airflow_parse_home"
    home.mkdir(parents=True, exist_ok=True)
    _warm(_env(datadir, AIRFLOW_HOME=str(home)))
    return {"dag_file": "county_refresh.py" if scale != "1" else "statewide_refresh.py", "config": config,
            "airflow_home": str(home), "datadir": str(datadir)}


PARSE = """
import json, sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(sys.argv[1])
seconds = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
print(json.dumps({"parse_s": seconds, "dags": len(bag.dags)}))
"""


def run_parse(dag_file: str, config: str, airflow_home: str, datadir: str) -> dict:
    extra = {"AIRFLOW_HOME": airflow_home, **({"AUTOCLEAR_CONFIG_DIR": config} if config else {})}
    out = subprocess.run([sys.executable, "-c", PARSE, str(ROOT / "dags" / dag_file)],
                         env=_env(Path(datadir), **extra), capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"parse_s": round(result["parse_s"], 3), "dags": result["dags"],
            "notes": f"{dag_file}: {result['dags']} DAG(s) parsed in {result['parse_s']:.2f} s "
                     "(after Airflow's own import)"}


CASES = [
    Case(
        name="county DAG via airflow dags test (overhead)",
        scales=["10k", "100k"],
        prepare=prepare_county,
        run=run_county_dag,
        target="overhead (airflow_s - pipeline_s): report",
    ),
    Case(
        name="DAG file parse: county_refresh.py",
        scales=list(PARSE_SCALES),
        prepare=prepare_parse,
        run=run_parse,
        target="< 2 s per DAG file",
    ),
    Case(
        name="DAG file parse: statewide_refresh.py",
        scales=["1"],
        prepare=prepare_parse,
        run=run_parse,
        target="< 2 s per DAG file",
    ),
]
