"""Running autoclear's Airflow on this machine: environment, metadata database, process groups.

Shared by scripts/airflow_standalone.py (`make airflow`), scripts/airflow_dags_test.py (`make demo`
through Airflow) and the Airflow tests. Standard library only: it starts Airflow as subprocesses
and never imports it (nor the pipeline).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
COUNTY_DAG_PREFIX = "autoclear_county_"
STATEWIDE_DAG_ID = "autoclear_statewide"


def airflow_bin() -> str:
    """The `airflow` command of the interpreter running this script (the project's venv)."""
    return str(Path(sys.executable).with_name("airflow"))


def airflow_env(airflow_home: str | os.PathLike, **overrides: str) -> dict[str, str]:
    """The environment autoclear's Airflow processes run with: project DAGs, no examples, no telemetry.

    Values already in the environment win over these defaults (except AIRFLOW_HOME and PYTHONPATH);
    `overrides` win over both.
    """
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(Path(airflow_home).resolve())
    defaults = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "AUTOCLEAR_WORKDIR": str(ROOT / "work"),
        # A local UI over criminal-record data: listen on this machine only; keep the executor small.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__PARALLELISM": "4",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    # The triggerer imports the drop-folder trigger by class path: the DAG folder must be importable.
    paths = [str(DAGS), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # Airflow starts its components as `airflow …` from PATH: make that the venv's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(overrides)
    return env


def ensure_migrated(env: dict[str, str], *, quiet: bool = True) -> None:
    """Create or upgrade the metadata database (`airflow db migrate`), once per Airflow version.

    A stamp file in AIRFLOW_HOME records the version migrated to, so later runs skip the
    several seconds `airflow db migrate` takes when nothing changed.
    """
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True, mode=0o770)
    version = _airflow_version()
    db_key = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite")
    stamp = home / ".autoclear-migrated"
    wanted = f"{version}\n{db_key}\n"
    if stamp.exists() and stamp.read_text() == wanted and (db_key != "sqlite" or (home / "airflow.db").exists()):
        return
    out = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=quiet, text=True)
    if out.returncode != 0:
        detail = (out.stderr or out.stdout or "").strip().splitlines()[-20:] if quiet else []
        raise RuntimeError("airflow db migrate failed:\n" + "\n".join(detail))
    stamp.write_text(wanted)


def _airflow_version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("apache-airflow-core")
    except Exception:  # noqa: BLE001
        return "unknown"


def stop_group(proc: subprocess.Popen, grace: float = 60.0) -> int:
    """Stop a process started with start_new_session=True: SIGINT to its group, then TERM, then KILL.

    Airflow's components (standalone, scheduler, workers) only shut down cleanly when their whole
    process group gets SIGINT.
    """
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        if sig != signal.SIGINT:
            print(f"still running after SIGINT; sending {sig.name} to process group {proc.pid}", file=sys.stderr)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
    # The leader may be gone while others in its group linger: clear them too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()
