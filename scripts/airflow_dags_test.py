"""Run a county (or the statewide) refresh through Airflow, embedded: `airflow dags test`, no server.

The metadata database is SQLite in AIRFLOW_HOME (default: the project's .airflow/), created or
upgraded on first use. Airflow's own log goes to a file; the terminal shows each task as it ends
and, at the end, where the outputs are.

    .venv/bin/python scripts/airflow_dags_test.py --county los_angeles \\
        --doj work/demo/los_angeles_doj_01.dat --court work/demo/court/extract_01.csv \\
        --compute-at 2026-01-01 --workdir work

    .venv/bin/python scripts/airflow_dags_test.py --statewide --workdir work

Exit status 0 when the DAG run succeeded, 1 when it failed (the log says which task and why).
Used by `make demo` (through `autoclear demo --engine airflow`) and by the Airflow tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from airflow_local import COUNTY_DAG_PREFIX, ROOT, STATEWIDE_DAG_ID, airflow_bin, airflow_env, ensure_migrated

RUN_FOLDER_RE = re.compile(r"autoclear run folder: (\S+)")
STATEWIDE_SUMMARY_RE = re.compile(r"autoclear statewide summary: (\S+)")
TASK_END_RE = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
# Why a task failed: the tasks raise AirflowFailException with the file, line and reason.
ERROR_RE = re.compile(r"^(?:[\w.]+\.)?(?:AirflowFailException|AirflowException|KeyError|FileNotFoundError): (.+)$")
DAGRUN_RE = re.compile(r"DagRun Finished: dag_id=(\S+),.*? run_id=([^,\s]+),.*state=(\w+)")
# Stage summary keys that point at something a person wants to open.
OUTPUT_KEYS = (("delivery", "outbox_path"), ("report", "report_html"), ("dashboard", "dashboard"),
               ("data docs", "data_docs"))


@dataclass
class DagTestResult:
    """What one `airflow dags test` run did."""

    dag_id: str
    returncode: int
    state: str  # success / failed / unknown
    seconds: float
    log_path: Path
    run_dirs: list[str] = field(default_factory=list)
    statewide_summary: str | None = None
    tasks_done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    run_id: str | None = None  # Airflow's id of the DAG run

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.state == "success"


def county_dag_id(county: str) -> tuple[str, str | None]:
    """The DAG id for a county config name or YAML path, and the config dir that path implies."""
    path = Path(county)
    if county.endswith((".yaml", ".yml")):
        if path.parent.name != "counties":
            raise SystemExit(f"{county}: a county YAML must sit in a <config>/counties/ folder to have a DAG")
        return COUNTY_DAG_PREFIX + path.stem, str(path.resolve().parent.parent)
    return COUNTY_DAG_PREFIX + re.sub(r"[^a-z0-9]+", "_", county.strip().lower()).strip("_"), None


def run_dags_test(dag_id: str, conf: dict, *, airflow_home: str | os.PathLike, log_path: str | os.PathLike,
                  env_overrides: dict[str, str] | None = None, echo: bool = True,
                  timeout: float | None = None) -> DagTestResult:
    """Migrate the metadata DB if needed, then `airflow dags test DAG_ID --conf JSON`; parse its log."""
    env = airflow_env(airflow_home, **(env_overrides or {}))
    ensure_migrated(env)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = DagTestResult(dag_id=dag_id, returncode=-1, state="unknown", seconds=0.0, log_path=log_path)
    t0 = time.perf_counter()
    cmd = [airflow_bin(), "dags", "test", dag_id, "--conf", json.dumps(conf)]
    with open(log_path, "w") as log, subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        deadline = t0 + timeout if timeout else None
        for line in proc.stdout:
            log.write(line)
            if m := TASK_END_RE.search(line):
                label = m.group(1) + (f"[{m.group(2)}]" if m.group(2) != "-1" else "")
                result.tasks_done.append(label)
                if echo:
                    print(f"  done: {label}", flush=True)
            if (m := RUN_FOLDER_RE.search(line)) and m.group(1) not in result.run_dirs:
                result.run_dirs.append(m.group(1))
            if m := STATEWIDE_SUMMARY_RE.search(line):
                result.statewide_summary = m.group(1)
            if (m := ERROR_RE.search(line.strip())) and m.group(1) not in result.errors:
                result.errors.append(m.group(1))
            if m := DAGRUN_RE.search(line):
                result.run_id, result.state = m.group(2), m.group(3).lower()
            if deadline and time.perf_counter() > deadline:
                proc.kill()
                raise TimeoutError(f"airflow dags test {dag_id} took more than {timeout} s (log: {log_path})")
        result.returncode = proc.wait()
    result.seconds = time.perf_counter() - t0
    return result


def print_outputs(result: DagTestResult) -> None:
    """Where the outputs are: run folders, delivery, reports (read from the stage summaries)."""
    for run_dir in result.run_dirs:
        print(f"run folder: {run_dir}")
        summaries = Path(run_dir) / "summary"
        for label, key in OUTPUT_KEYS:
            for path in sorted(summaries.glob("*.json")):
                try:
                    value = json.loads(path.read_text()).get(key)
                except (OSError, ValueError):
                    continue
                if value:
                    print(f"  {label}: {value}")
                    break
    if result.statewide_summary:
        print(f"statewide summary: {result.statewide_summary}")
    print(f"Airflow log: {result.log_path}")


def build_parser() -> argparse.ArgumentParser:
    """The command line (also used by the tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--county", help="county config name (config/counties/NAME.yaml) or such a YAML path")
    target.add_argument("--statewide", action="store_true", help="run the statewide DAG instead")
    # Repeat the option or list several files after it; both add up.
    parser.add_argument("--doj", action="extend", nargs="+", default=[],
                        help="DOJ research file(s) (default: the newest in the county's drop folder)")
    parser.add_argument("--court", action="extend", nargs="+", default=[],
                        help="court extract(s) (default: the newest in the county's drop folder)")
    parser.add_argument("--counties", action="extend", nargs="+", default=[],
                        help="statewide: county names or YAML paths (default: every configured county)")
    parser.add_argument("--compute-at", help="YYYY-MM-DD (default: today in California)")
    parser.add_argument("--workdir", default=str(ROOT / "work"), help="run folders, ledger, outbox (default: work/)")
    parser.add_argument("--policy", help="policy name or path (default: the county's)")
    parser.add_argument("--outbox", help="deliver here instead of the county's target")
    parser.add_argument("--ledger-url", help="ledger database URL (default: SQLite in the workdir)")
    parser.add_argument("--drop-selection", choices=["newest", "all"], default="newest")
    parser.add_argument("--airflow-home", default=os.environ.get("AIRFLOW_HOME") or str(ROOT / ".airflow"))
    parser.add_argument("--log", help="where Airflow's output goes (default: <workdir>/airflow-dags-test.log)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    workdir = str(Path(args.workdir).resolve())
    conf: dict = {"workdir": workdir, "drop_selection": args.drop_selection}
    for key in ("compute_at", "policy", "ledger_url"):
        if getattr(args, key):
            conf[key] = getattr(args, key)
    overrides: dict[str, str] = {}
    if args.statewide:
        dag_id = STATEWIDE_DAG_ID
        conf["counties"] = [str(Path(c).resolve()) if c.endswith((".yaml", ".yml")) else c for c in args.counties]
    else:
        dag_id, config_dir = county_dag_id(args.county)
        if config_dir:
            overrides["AUTOCLEAR_CONFIG_DIR"] = config_dir
        conf["doj"] = [str(Path(p).resolve()) for p in args.doj]
        conf["court"] = [str(Path(p).resolve()) for p in args.court]
        if args.outbox:
            conf["outbox"] = str(Path(args.outbox).resolve())
    log_path = Path(args.log or Path(workdir) / "airflow-dags-test.log")
    print(f"airflow dags test {dag_id} (AIRFLOW_HOME={Path(args.airflow_home).resolve()}, SQLite, no server)",
          flush=True)
    result = run_dags_test(dag_id, conf, airflow_home=args.airflow_home, log_path=log_path,
                           env_overrides=overrides)
    print(f"DAG run {result.state} in {result.seconds:.1f} s")
    print_outputs(result)
    if not result.ok:
        for error in result.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"the DAG run failed: see {log_path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
