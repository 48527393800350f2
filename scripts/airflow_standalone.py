"""`make airflow`: run `airflow standalone` (UI, scheduler, DAG processor, triggerer) for autoclear.

Uses the project-local AIRFLOW_HOME (.airflow/, set by the Makefile), the project's dags/ folder
and a SQLite metadata database. Airflow's components only stop cleanly when their whole process
group receives SIGINT, so standalone runs in its own session and Ctrl-C (or SIGTERM) is forwarded
to that group; what has not stopped after a grace period is terminated, then killed.

    .venv/bin/python scripts/airflow_standalone.py [--port 8080]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from airflow_local import ROOT, airflow_bin, airflow_env, stop_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=None, help="API server / UI port (default 8080)")
    args = parser.parse_args(argv)

    airflow_home = Path(os.environ.get("AIRFLOW_HOME") or ROOT / ".airflow").resolve()
    airflow_home.mkdir(parents=True, exist_ok=True, mode=0o770)
    port = args.port or int(os.environ.get("AIRFLOW__API__PORT") or 8080)
    overrides = {"AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://localhost:{port}"}
    env = airflow_env(airflow_home, **overrides)
    print(f"airflow standalone: AIRFLOW_HOME={airflow_home}, DAGs from {env['AIRFLOW__CORE__DAGS_FOLDER']}")
    print(f"  UI: http://localhost:{port}  (user 'admin'; password in "
          f"{airflow_home}/simple_auth_manager_passwords.json.generated)")
    print("  Ctrl-C stops every Airflow process.", flush=True)

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    # Handlers before starting Airflow: a SIGINT ignored by our parent (a background job) would
    # otherwise stay ignored in every Airflow process, and Ctrl-C could not stop them.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    proc = None
    try:
        proc = subprocess.Popen([airflow_bin(), "standalone"], env=env, start_new_session=True)
        while proc.poll() is None:
            time.sleep(0.5)
        return proc.returncode
    except KeyboardInterrupt:
        if proc is None:
            return 130
        # A second Ctrl-C must not abandon Airflow half stopped.
        signal.signal(signal.SIGINT, lambda *_: print("still stopping, please wait…", flush=True))
        print("\nstopping airflow standalone (this takes up to a minute)…", flush=True)
        code = stop_group(proc)
        print("airflow standalone stopped.")
        return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM, 1, 130) else code


if __name__ == "__main__":
    sys.exit(main())
