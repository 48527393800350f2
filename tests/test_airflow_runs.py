"""The county and statewide DAGs run for real: embedded (`airflow dags test`, SQLite) and distributed
(CeleryExecutor on the local PostgreSQL and Redis, two worker processes).

- The county DAG gives the same determinations and delivery files, byte for byte, as `run_county`
  on the same inputs.
- The statewide DAG, with one county whose court extract is garbage and one whose DOJ drop folder is empty,
  finishes the good counties, reports the broken ones in its summary and ends failed.
- Under Celery the statewide DAG's tasks run on both workers, and its outputs equal the embedded run's;
  a file dropped into a county's drop folder starts that county's DAG (asset watcher, triggerer).

Every Airflow process runs with a temporary AIRFLOW_HOME and a temporary config directory
(AUTOCLEAR_CONFIG_DIR) holding small generated counties, so nothing touches the developer's
.airflow/ or work/.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import airflow_dags_test  # noqa: E402
import airflow_local  # noqa: E402

pytestmark = pytest.mark.slow

COMPUTE_AT = "2026-01-01"
GOOD = {"alpine": "ALPINE"}  # config name -> county as DOJ writes it
BROKEN = {"mono": "MONO", "inyo": "INYO"}  # mono: garbage court extract; inyo: empty DOJ drop folder
ROWS = 2500  # DOJ rows: enough people for the linkage model to train
# The generator's case numbers (00M11215, 01F14187-01); the delivery checks them against it.
CASE_NUMBER_PATTERN = r"^(?:\d{2})?[A-Z]{1,3}\d{4,7}[A-Z]?(?:-\d{2,3})?$"


# ---------------------------------------------------------------------------------------------
# Fixtures: generated counties, their configs, an Airflow home


@pytest.fixture(scope="session")
def counties(tmp_path_factory) -> dict:
    """Small generated counties in drop folders, and a config dir whose counties/ holds their YAML."""
    from pipelines.synth.generate import generate_county

    base = tmp_path_factory.mktemp("af_counties")
    config = base / "config"
    config.mkdir()
    for sub in ("layouts", "delivery"):
        if (ROOT / "config" / sub).is_dir():
            shutil.copytree(ROOT / "config" / sub, config / sub)
    (config / "counties").mkdir()
    drops: dict[str, dict[str, Path]] = {}
    for seed, (name, doj_name) in enumerate({**GOOD, **BROKEN}.items(), start=11):
        doj_dir, court_dir = base / "drop" / name / "doj", base / "drop" / name / "court"
        doj_dir.mkdir(parents=True)
        court_dir.mkdir(parents=True)
        gen = generate_county(rows=ROWS if name in GOOD else 200, seed=seed, county=doj_name, out=base / "gen" / name)
        if name != "inyo":  # inyo's DOJ drop folder stays empty
            for doj_file in gen.doj_files:
                shutil.copy2(doj_file, doj_dir / doj_file.name)
        if name == "mono":  # mono's court extract is not in the county's layout at all
            (court_dir / "extract_01.csv").write_text("foo,bar\n1,2\n")
        else:
            for court_file in gen.court_files:
                shutil.copy2(court_file, court_dir / court_file.name)
        drops[name] = {"doj": doj_dir, "court": court_dir}
        (config / "counties" / f"{name}.yaml").write_text(
            f"name: {name}\n"
            f"display_name: {name.title()}\n"
            f"doj_county_name: {doj_name}\n"
            "court_layouts: [generic_csv]\n"
            "policy: statute\n"
            f"case_number_pattern: '{CASE_NUMBER_PATTERN}'\n"
            f"drop_folders:\n  doj: {doj_dir}\n  court: {court_dir}\n"
        )
    return {"base": base, "config": config, "drops": drops}


@pytest.fixture(scope="session")
def af_overrides(counties, tmp_path_factory) -> dict[str, str]:
    """Environment for every Airflow subprocess of this session."""
    return {
        "AUTOCLEAR_CONFIG_DIR": str(counties["config"]),
        "AUTOCLEAR_WORKDIR": str(tmp_path_factory.mktemp("af_default_work")),
        # Byte-compile once for the session (this machine sets PYTHONDONTWRITEBYTECODE), in a
        # private cache rather than in the project's virtualenv.
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(tmp_path_factory.mktemp("pycache")),
        "AUTOCLEAR_TASK_RETRIES": "1",
        "AUTOCLEAR_RETRY_DELAY_SECONDS": "2",
    }


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, af_overrides) -> Path:
    home = tmp_path_factory.mktemp("airflow_home")
    airflow_local.ensure_migrated(airflow_local.airflow_env(home, **af_overrides))
    return home


def county_yaml(counties: dict, name: str) -> str:
    return str(counties["config"] / "counties" / f"{name}.yaml")


def statewide_conf(counties: dict, workdir: Path) -> dict:
    names = sorted({**GOOD, **BROKEN})
    return {"counties": [county_yaml(counties, n) for n in names], "compute_at": COMPUTE_AT,
            "workdir": str(workdir)}


@pytest.fixture(scope="session")
def direct_run(counties, tmp_path_factory) -> Path:
    """`run_county` (what `autoclear run` does) on the good county's drop-folder files: the baseline."""
    from pipelines.flow import RunSpec, run_county

    workdir = tmp_path_factory.mktemp("direct")
    old = os.environ.get("AUTOCLEAR_CONFIG_DIR")
    os.environ["AUTOCLEAR_CONFIG_DIR"] = str(counties["config"])
    try:
        result = run_county(RunSpec(county=county_yaml(counties, "alpine"), doj=drop_files(counties, "alpine", "doj"),
                                    court=drop_files(counties, "alpine", "court"), compute_at=COMPUTE_AT,
                                    workdir=str(workdir)), progress=False)
    finally:
        if old is None:
            os.environ.pop("AUTOCLEAR_CONFIG_DIR", None)
        else:
            os.environ["AUTOCLEAR_CONFIG_DIR"] = old
    return Path(result["run_dir"])


def drop_files(counties: dict, name: str, kind: str) -> list[str]:
    return sorted(str(p) for p in counties["drops"][name][kind].iterdir())


@pytest.fixture(scope="session")
def embedded_statewide(counties, airflow_home, af_overrides, tmp_path_factory) -> dict:
    """The statewide DAG run embedded (`airflow dags test`), with the two broken counties."""
    workdir = tmp_path_factory.mktemp("statewide_embedded")
    result = airflow_dags_test.run_dags_test(
        airflow_local.STATEWIDE_DAG_ID, statewide_conf(counties, workdir), airflow_home=airflow_home,
        log_path=workdir / "airflow.log", env_overrides=af_overrides, echo=False, timeout=900)
    summary_path = workdir / "statewide" / COMPUTE_AT / "summary.json"
    return {"result": result, "workdir": workdir, "summary_path": summary_path}


# ---------------------------------------------------------------------------------------------
# Comparing outputs


def output_files(run_dir: Path) -> dict[str, bytes]:
    """Determinations and delivery files of a run, by path relative to its workdir."""
    workdir = run_dir.parents[1]
    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if path.is_file() and ((len(rel.parts) == 1 and rel.name.startswith("determinations"))
                               or rel.parts[0] == "delivery"):
            files[str(path.relative_to(workdir))] = path.read_bytes()
    outbox = workdir / "outbox"
    if outbox.is_dir():
        for path in sorted(outbox.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(workdir))] = path.read_bytes()
    return files


def assert_same_outputs(a: Path, b: Path) -> None:
    fa, fb = output_files(a), output_files(b)
    assert any("determinations" in k for k in fa), f"no determinations written in {a}"
    assert sorted(fa) == sorted(fb), "the two runs wrote different output files"
    different = [k for k in fa if fa[k] != fb[k]]
    assert not different, f"outputs differ byte for byte: {different}"


def summary_without_paths(summary: dict, workdir: Path) -> dict:
    text = json.dumps(summary, sort_keys=True).replace(str(workdir), "<workdir>")
    return json.loads(text)


# ---------------------------------------------------------------------------------------------
# Embedded


def test_county_dag_equals_run_county(counties, airflow_home, af_overrides, direct_run, tmp_path):
    """`airflow dags test` of a county DAG writes the same determinations and deliveries as run_county."""
    workdir = tmp_path / "dag"
    conf = {"doj": drop_files(counties, "alpine", "doj"), "court": drop_files(counties, "alpine", "court"),
            "compute_at": COMPUTE_AT, "workdir": str(workdir)}
    result = airflow_dags_test.run_dags_test(
        "autoclear_county_alpine", conf, airflow_home=airflow_home, log_path=tmp_path / "airflow.log",
        env_overrides=af_overrides, echo=False, timeout=900)
    assert result.ok, f"county DAG run {result.state}; log: {result.log_path}"
    assert result.tasks_done[0] == "plan" and set(result.tasks_done) == {"plan", *airflow_local_stages()}
    assert len(result.run_dirs) == 1
    dag_run_dir = Path(result.run_dirs[0])
    assert dag_run_dir.relative_to(workdir) == direct_run.relative_to(direct_run.parents[1]), "different run ids"
    assert_same_outputs(dag_run_dir, direct_run)

    # Re-running a task (as a retry or a cleared task does) overwrites its outputs with the same bytes.
    determinations = dag_run_dir / "determinations.parquet"
    before, written = determinations.read_bytes(), determinations.stat().st_mtime_ns
    env = airflow_local.airflow_env(airflow_home, **af_overrides)
    rerun = subprocess.run([airflow_local.airflow_bin(), "tasks", "test", "autoclear_county_alpine", "eligibility",
                            result.run_id], env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert determinations.stat().st_mtime_ns > written and determinations.read_bytes() == before
    assert_same_outputs(dag_run_dir, direct_run)


def airflow_local_stages() -> tuple[str, ...]:
    from pipelines.flow import STAGES

    return tuple(STAGES)


def test_statewide_dag_reports_broken_counties(embedded_statewide, direct_run):
    """Good counties finish; the broken ones are in the summary with the stage and the reason."""
    result = embedded_statewide["result"]
    assert result.state == "failed", "the run must end failed when a county failed"
    assert "summary" in result.tasks_done and len([t for t in result.tasks_done if t.startswith("refresh_county")]) == len(GOOD) + len(BROKEN)
    summary = json.loads(embedded_statewide["summary_path"].read_text())
    by_county = {c["county"]: c for c in summary["counties"]}
    assert sorted(by_county) == sorted({**GOOD, **BROKEN})
    for name in GOOD:
        assert by_county[name]["status"] == "ok", by_county[name]
    assert_same_outputs(Path(by_county["alpine"]["run_dir"]), direct_run)
    assert summary["counties_failed"] == sorted(BROKEN)
    assert by_county["inyo"]["failed_stage"] == "plan" and "no doj file" in by_county["inyo"]["error"]
    assert by_county["mono"]["failed_stage"] == "read_court", by_county["mono"]
    assert "extract_01.csv, line 1" in by_county["mono"]["error"], "the error names the file and line"


# ---------------------------------------------------------------------------------------------
# Distributed: CeleryExecutor, PostgreSQL metadata database, Redis broker, two workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CeleryCluster:
    """api-server, scheduler, DAG processor and two Celery workers, each in its own process group."""

    def __init__(self, home: Path, env: dict[str, str], logs: Path):
        self.home, self.env, self.logs = home, env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], **extra_env: str) -> None:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [airflow_local.airflow_bin(), *args], env={**self.env, **extra_env}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            tails = {n: (self.logs / f"{n}.log").read_text()[-2000:] for n in dead}
            raise AssertionError(f"Airflow processes exited early: {dead}\n{tails}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)  # Airflow's components shut down cleanly on it
        for proc in self.procs.values():
            airflow_local.stop_group(proc, grace=20)


def _wait(what: str, predicate, timeout: float, cluster: CeleryCluster, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        cluster.check_alive()
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (logs: {cluster.logs})")


@pytest.fixture()
def airflow_database(postgres_url):
    """A fresh PostgreSQL database for Airflow's metadata, dropped afterwards."""
    import psycopg

    server = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    admin = server.rsplit("/", 1)[0] + "/postgres"
    name = f"autoclear_airflow_test_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_statewide_dag_on_celery(counties, embedded_statewide, airflow_database, redis_url, af_overrides,
                                 tmp_path):
    """Two Celery workers share the statewide run; its outputs equal the embedded run's."""
    import psycopg

    home, logs, workdir = tmp_path / "airflow_home", tmp_path / "logs", tmp_path / "work"
    for d in (home, logs, workdir):
        d.mkdir()
    # Each worker reports its own name as the task instance's hostname.
    (tmp_path / "worker_identity.py").write_text(
        "import os, socket\n\n\ndef hostname():\n"
        "    return os.environ.get('AUTOCLEAR_TEST_WORKER') or socket.getfqdn()\n")
    port = _free_port()
    queue = f"autoclear_test_{os.getpid()}"
    sa_url = airflow_database.replace("postgresql://", "postgresql+psycopg://")
    env = airflow_local.airflow_env(home, **{**af_overrides,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sa_url,
        # Airflow would derive an asyncpg URL; psycopg 3 does async itself.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sa_url,
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sa_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # private queue: other users of this Redis are not disturbed
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_identity.hostname",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs / "tasks"),
        "AUTOCLEAR_WORKDIR": str(workdir),
        "AUTOCLEAR_DROP_POKE_INTERVAL": "2",
    })
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    airflow_local.ensure_migrated(env)

    cluster = CeleryCluster(home, env, logs)
    dag_id, run_id = airflow_local.STATEWIDE_DAG_ID, "celery_statewide_test"
    try:
        cluster.start("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"])
        cluster.start("scheduler", ["scheduler"])
        cluster.start("dag-processor", ["dag-processor"])
        cluster.start("triggerer", ["triggerer"])
        for worker in ("worker-a", "worker-b"):
            cluster.start(worker, ["celery", "worker", "--queues", queue, "--concurrency", "1",
                                   "--celery-hostname", f"{worker}@%h", "--skip-serve-logs", "--without-mingle",
                                   "--without-gossip"], AUTOCLEAR_TEST_WORKER=worker)

        def query(sql: str, *params):
            with psycopg.connect(airflow_database) as conn:
                return conn.execute(sql, params).fetchall()

        _wait("the statewide DAG to be parsed",
              lambda: query("select 1 from serialized_dag where dag_id = %s", dag_id), 240, cluster)
        conf = statewide_conf(counties, workdir)
        trigger = subprocess.run([airflow_local.airflow_bin(), "dags", "trigger", dag_id, "--run-id", run_id,
                                  "--conf", json.dumps(conf)], env=env, capture_output=True, text=True, timeout=120)
        assert trigger.returncode == 0, trigger.stderr[-2000:]
        def run_state():
            rows = query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
            return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

        state = _wait("the statewide run to finish", run_state, 420, cluster)
        tis = query("select task_id, map_index, hostname, state from task_instance where dag_id = %s and run_id = %s",
                    dag_id, run_id)

        # A file landing in a drop folder starts that county's DAG (asset watcher in the triggerer).
        # inyo's run then fails at once (its DOJ folder is empty), which is all this needs.
        new_file = counties["drops"]["inyo"]["court"] / "extract_new.csv"
        new_file.write_text("court_case_number\n")
        try:
            runs = _wait("a drop-folder triggered run of autoclear_county_inyo", lambda: query(
                "select run_type from dag_run where dag_id = 'autoclear_county_inyo'"), 180, cluster)
        finally:
            new_file.unlink()
    finally:
        cluster.stop()

    assert [r[0] for r in runs] == ["asset_triggered"]
    assert state == "failed", "the broken counties must fail the run, as embedded"
    county_tis = [t for t in tis if t[0] == "refresh_county"]
    assert len(county_tis) == len(GOOD) + len(BROKEN)
    assert all(t[3] == "success" for t in county_tis), tis  # failures are reported, not raised
    assert {t[2] for t in tis if t[2]} == {"worker-a", "worker-b"}, f"tasks did not run on both workers: {tis}"

    embedded = json.loads(embedded_statewide["summary_path"].read_text())
    celery = json.loads((workdir / "statewide" / COMPUTE_AT / "summary.json").read_text())
    assert celery["counties_ok"] == len(GOOD), celery["counties"]
    assert summary_without_paths(celery, workdir) == summary_without_paths(embedded, embedded_statewide["workdir"])
    for record in celery["counties"]:
        if record["status"] == "ok":
            twin = next(r for r in embedded["counties"] if r["county"] == record["county"])
            assert_same_outputs(Path(record["run_dir"]), Path(twin["run_dir"]))
