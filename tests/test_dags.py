"""The DAG files: they parse cleanly and cheaply, have the right shape, and watch the drop folders.

Parsing is measured in a fresh subprocess (as Airflow's DAG processor does it), with a temporary
AIRFLOW_HOME and a temporary config directory. The 2 s parse target itself is a benchmark
(bench/bench_airflow.py); here the bound is generous and the measured time is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py"))
HEAVY = ("splink", "great_expectations", "duckdb", "pandas", "sklearn", "altair", "fpdf")

# Run in a subprocess: parse one DAG file with Airflow's DagBag, describe what it produced.
PARSE = r"""
import json, sys, time
import airflow.sdk  # Airflow is already imported in the DAG processor: not part of the file's cost
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
t0 = time.perf_counter()
bag = DagBag(sys.argv[1])
seconds = time.perf_counter() - t0
dags = {}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for t in dag.tasks:
        tasks[t.task_id] = {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                            "backoff": t.retry_exponential_backoff, "trigger_rule": str(t.trigger_rule),
                            "mapped": "MappedOperator" in [c.__name__ for c in type(t).__mro__]}
    assets = []
    for asset in getattr(getattr(dag.timetable, "asset_condition", None), "objects", []):
        assets.append({"name": asset.name, "uri": asset.uri,
                       "watchers": [w.trigger.serialize()[0] for w in asset.watchers]})
    dags[dag_id] = {"tasks": tasks, "params": sorted(dag.params), "timetable": type(dag.timetable).__name__,
                    "inner": type(getattr(dag.timetable, "timetable", None)).__name__, "assets": assets,
                    "max_active_runs": dag.max_active_runs, "description": dag.description}
heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in HEAVY_NAMES)
print("__RESULT__" + json.dumps({"seconds": seconds, "errors": {k: str(v) for k, v in bag.import_errors.items()},
                                "dags": dags, "heavy": sorted({m.split(".")[0] for m in heavy})}))
""".replace("HEAVY_NAMES", repr(HEAVY))


@pytest.fixture(scope="session")
def config_dir(tmp_path_factory) -> Path:
    """Two counties: a good one with drop folders and a schedule, and one whose YAML is wrong."""
    base = tmp_path_factory.mktemp("dag_config")
    config = base / "config"
    for sub in ("layouts", "delivery"):
        if (ROOT / "config" / sub).is_dir():
            shutil.copytree(ROOT / "config" / sub, config / sub)
    (config / "counties").mkdir(parents=True)
    drop = base / "drop"
    (config / "counties" / "alpine.yaml").write_text(
        "name: alpine\ndisplay_name: Alpine\ndoj_county_name: ALPINE\ncourt_layouts: [generic_csv]\n"
        f"policy: statute\ndrop_folders:\n  doj: {drop}/doj\n  court: {drop}/court\nschedule: '0 3 * * 1'\n")
    (config / "counties" / "sierra.yaml").write_text(
        "name: sierra\ndisplay_name: Sierra\ndoj_county_name: SIERRA\npolicy: statute\n")
    (config / "counties" / "nowhere.yaml").write_text(
        "name: nowhere\ndisplay_name: Nowhere\ndoj_county_name: NOWHERE\npolicy: statute\n")
    (config / "counties" / "_template.yaml").write_text("name: template\n")
    return config


@pytest.fixture(scope="session")
def parse_env(config_dir, tmp_path_factory) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AUTOCLEAR_CONFIG_DIR": str(config_dir),
        # Parse with byte-compiled modules, as a deployed DAG processor does (this machine sets
        # PYTHONDONTWRITEBYTECODE); the cache lives in a temporary folder.
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(tmp_path_factory.mktemp("pycache")),
    })
    return env


def parse(path: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PARSE, str(path)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("__RESULT__"))
    return json.loads(line[len("__RESULT__"):])


@pytest.fixture(scope="session")
def parsed(parse_env) -> dict[str, dict]:
    # Fill the bytecode cache first, so the parse timed below is the DAG processor's steady state.
    warm = "import airflow.sdk, airflow.dag_processing.dagbag, polars, pydantic, yaml, pipelines.config"
    subprocess.run([sys.executable, "-c", warm], env=parse_env, check=True, timeout=300, cwd=ROOT)
    return {path.name: parse(path, parse_env) for path in DAG_FILES}


def test_dag_files_import_cleanly_and_quickly(parsed):
    assert {p.name for p in DAG_FILES} >= {"county_refresh.py", "statewide_refresh.py"}
    for name, result in parsed.items():
        print(f"{name}: parsed in {result['seconds']:.2f} s, {len(result['dags'])} DAG(s)")
        assert result["errors"] == {}, f"{name}: {result['errors']}"
        assert result["dags"], f"{name} defines no DAG"
        assert result["heavy"] == [], f"{name} imports heavy libraries at parse time: {result['heavy']}"
        # The target is 2 s (bench/bench_airflow.py measures it); this bound only catches a blow-up.
        assert result["seconds"] < 10, f"{name} took {result['seconds']:.1f} s to parse"


def test_one_county_dag_per_config(parsed):
    dags = parsed["county_refresh.py"]["dags"]
    assert sorted(dags) == ["autoclear_county_alpine", "autoclear_county_nowhere", "autoclear_county_sierra"]
    # A config that does not load gives a DAG whose one task fails with the reason, not a missing DAG.
    broken = dags["autoclear_county_nowhere"]
    assert list(broken["tasks"]) == ["config_error"] and "NOWHERE" in broken["description"]


def test_county_dag_shape(parsed):
    from pipelines.flow import STAGES

    dag = parsed["county_refresh.py"]["dags"]["autoclear_county_alpine"]
    tasks = dag["tasks"]
    assert list(tasks) == ["plan", *STAGES] or sorted(tasks) == sorted(["plan", *STAGES])
    assert tasks["read_doj"]["upstream"] == ["plan"] and tasks["read_court"]["upstream"] == ["plan"]
    assert set(tasks["validate_inputs"]["upstream"]) >= {"read_doj", "read_court"}
    for before, after in zip(STAGES[2:], STAGES[3:], strict=False):
        assert tasks[after]["upstream"] == [before]
    for t in tasks.values():
        assert t["retries"] >= 1 and t["backoff"] > 1, "tasks retry with exponential backoff"
    assert dag["max_active_runs"] == 1
    assert {"compute_at", "policy", "doj", "court", "workdir"} <= set(dag["params"])


def test_county_dag_is_scheduled_and_watches_drop_folders(parsed, config_dir):
    dags = parsed["county_refresh.py"]["dags"]
    alpine = dags["autoclear_county_alpine"]
    assert alpine["timetable"] == "AssetOrTimeSchedule" and alpine["inner"] == "CronTriggerTimetable"
    drop = config_dir.parent / "drop"
    assert sorted(a["uri"] for a in alpine["assets"]) == sorted(
        [(drop / "court").as_uri(), (drop / "doj").as_uri()])
    for asset in alpine["assets"]:
        assert asset["watchers"] == ["autoclear_dags.triggers.DropFolderTrigger"]
    # No drop folders and no schedule: manual runs only.
    assert dags["autoclear_county_sierra"]["timetable"] == "NullTimetable"


def test_statewide_dag_shape(parsed):
    dag = parsed["statewide_refresh.py"]["dags"]["autoclear_statewide"]
    tasks = dag["tasks"]
    assert tasks["refresh_county"]["mapped"], "counties fan out with dynamic task mapping"
    assert tasks["summary"]["trigger_rule"].lower().endswith("all_done"), "the summary is written whatever failed"
    assert tasks["check"]["upstream"] == ["summary"]
    assert {"counties", "inputs", "compute_at", "workdir"} <= set(dag["params"])


def test_dag_stage_list_is_the_pipelines(airflow_in_process):
    from autoclear_dags.settings import STAGES

    from pipelines.flow import STAGES as FLOW_STAGES

    assert tuple(FLOW_STAGES) == STAGES


# ---------------------------------------------------------------------------------------------
# In-process: the drop-folder trigger and input selection


@pytest.fixture(scope="session")
def airflow_in_process(tmp_path_factory):
    """Import the DAG helpers here, with Airflow configured in a temporary home (never ~/airflow)."""
    if "airflow" not in sys.modules:
        os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home_inproc")))
    if str(ROOT / "dags") not in sys.path:
        sys.path.insert(0, str(ROOT / "dags"))


class StateStore:
    """Stands in for Airflow's asset state store (the triggerer injects the real one)."""

    def __init__(self):
        self.values: dict = {}

    async def aget(self, key, default=None):
        return self.values.get(key, default)

    async def aset(self, key, value):
        self.values[key] = value


async def _next_event(agen, timeout=3.0):
    return (await asyncio.wait_for(agen.__anext__(), timeout)).payload


def test_drop_folder_trigger_fires_once_per_new_settled_file(airflow_in_process, tmp_path):
    from autoclear_dags.triggers import DropFolderTrigger

    async def scenario():
        (tmp_path / "old.dat").write_text("already here")
        trigger = DropFolderTrigger(folder=str(tmp_path), poke_interval=0.05)
        trigger.asset_state_store = StateStore()
        events = trigger.run()
        first = asyncio.ensure_future(_next_event(events))
        await asyncio.sleep(0.3)
        assert not first.done(), "files present at the first start are known, not new"
        (tmp_path / "upload.dat.part").write_text("partial")  # ignored: partial upload
        (tmp_path / ".hidden").write_text("x")  # ignored: hidden
        (tmp_path / "new.dat").write_text("DOJ file")
        assert await first == {"folder": str(tmp_path), "files": ["new.dat"]}
        # A changed file counts again; an unchanged one does not.
        time.sleep(0.01)
        (tmp_path / "new.dat").write_text("DOJ file, corrected")
        assert (await _next_event(events))["files"] == ["new.dat"]
        # A restarted trigger with the same state does not report what was already reported.
        again = DropFolderTrigger(folder=str(tmp_path), poke_interval=0.05)
        again.asset_state_store = trigger.asset_state_store
        second = again.run()
        pending = asyncio.ensure_future(_next_event(second))
        await asyncio.sleep(0.3)
        assert not pending.done()
        (tmp_path / "extract.csv").write_text("court")
        assert (await pending)["files"] == ["extract.csv"]
        await events.aclose()
        await second.aclose()

    asyncio.run(scenario())


def test_drop_folder_trigger_can_report_existing_files(airflow_in_process, tmp_path):
    from autoclear_dags.triggers import DropFolderTrigger

    (tmp_path / "a.dat").write_text("a")
    trigger = DropFolderTrigger(folder=str(tmp_path), poke_interval=0.05, fire_on_existing=True)
    assert trigger.serialize() == ("autoclear_dags.triggers.DropFolderTrigger", {
        "folder": str(tmp_path), "pattern": "*", "poke_interval": 0.05, "fire_on_existing": True})

    async def scenario():
        events = trigger.run()
        payload = await _next_event(events)
        await events.aclose()
        return payload

    assert asyncio.run(scenario())["files"] == ["a.dat"]


def test_inputs_from_drop_folders(airflow_in_process, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException
    from autoclear_dags.tasks import select_drop_files

    for i, name in enumerate(["b_doj.dat", "a_doj.dat", "c_doj.dat.part", ".x"]):
        p = tmp_path / name
        p.write_text(name)
        os.utime(p, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    assert select_drop_files(tmp_path, "newest") == [str(tmp_path / "a_doj.dat")]
    assert select_drop_files(tmp_path, "all") == [str(tmp_path / "a_doj.dat"), str(tmp_path / "b_doj.dat")]
    assert select_drop_files(tmp_path / "missing", "newest") == []
    with pytest.raises(AirflowFailException):
        select_drop_files(tmp_path, "oldest")


def test_dags_test_script_arguments(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import airflow_dags_test

    args = airflow_dags_test.build_parser().parse_args(
        ["--county", "los_angeles", "--doj", "a.dat", "--doj", "b.dat", "--court", "c.csv", "d.csv"])
    assert args.doj == ["a.dat", "b.dat"] and args.court == ["c.csv", "d.csv"]
    assert airflow_dags_test.county_dag_id("Los Angeles") == ("autoclear_county_los_angeles", None)
    counties = tmp_path / "config" / "counties"
    counties.mkdir(parents=True)
    assert airflow_dags_test.county_dag_id(str(counties / "alpine.yaml")) == (
        "autoclear_county_alpine", str(tmp_path / "config"))
    with pytest.raises(SystemExit):
        airflow_dags_test.county_dag_id(str(tmp_path / "alpine.yaml"))
