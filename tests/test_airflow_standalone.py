"""`make airflow`: `airflow standalone` comes up with the autoclear DAGs and stops cleanly on Ctrl-C.

Runs scripts/airflow_standalone.py with a temporary AIRFLOW_HOME on a free port, waits for the
API server, sends SIGINT as a terminal's Ctrl-C would, and checks that every Airflow process it
started is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Processes of this user whose environment contains `marker` (our temporary AIRFLOW_HOME)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_make_airflow_runs_the_standalone_script():
    out = subprocess.run(["make", "-n", "airflow"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "scripts/airflow_standalone.py" in out.stdout


def test_standalone_starts_and_stops_on_ctrl_c(tmp_path):
    home = tmp_path / "airflow_home"
    port = _free_port()
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"),
           "AUTOCLEAR_WORKDIR": str(tmp_path / "work")}
    log = open(tmp_path / "standalone.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "airflow_standalone.py"), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        version = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/version", timeout=5) as r:
                    version = r.read().decode()
                    break
            except OSError:
                time.sleep(3)
        assert version and '"version"' in version, (tmp_path / "standalone.log").read_text()[-3000:]
        assert len(_processes_with(str(home))) >= 4, "scheduler, DAG processor, triggerer and API server run"

        # Ctrl-C in a terminal: SIGINT to the foreground process group, which is the script's.
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=150)
        stopped_in = time.monotonic() - t0
        time.sleep(1)
        left = _processes_with(str(home))
        print(f"standalone stopped in {stopped_in:.1f} s")
        assert code == 0, (tmp_path / "standalone.log").read_text()[-3000:]
        assert left == [], f"processes left running: {left}"
        assert "airflow standalone stopped." in (tmp_path / "standalone.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _processes_with(str(home)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
