"""The production files (docker/): no Docker engine runs here, so these are read, not built.

They check what can be checked without building: the compose file has the services a county
needs, every Airflow setting it passes is a real Airflow option (a misspelt one is silently
ignored by Airflow), the image is the Airflow version the lock file installs, and everything the
Dockerfile copies exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker" / "docker-compose.yaml").read_text())
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker-1", "airflow-worker-2"}


def test_compose_has_every_component():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands["airflow-scheduler"] == "scheduler" and commands["airflow-triggerer"] == "triggerer"
    workers = [c for c in commands.values() if c.startswith("celery worker")]
    assert len(workers) == 2 and len(set(workers)) == 2, "two Celery workers with distinct hostnames"


def test_compose_shares_drop_folders_and_outputs():
    for name in AIRFLOW_SERVICES:
        mounts = {re.search(r":(/[^:]+)(?::ro|:rw)?$", v).group(1) for v in COMPOSE["services"][name]["volumes"]}
        assert {"/srv/autoclear", "/data/work", "/opt/airflow/logs"} <= mounts, name
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "AUTOCLEAR_LEDGER_URL" in env and "AUTOCLEAR_WORKDIR" in env
    # Passwords come from docker/.env, never from this file.
    assert not re.search(r"://\w+:(?!\$\{)[^@/]+@", json.dumps(COMPOSE)), "a literal password in the compose file"


def test_compose_airflow_settings_are_real_options(tmp_path):
    keys = set()
    for service in COMPOSE["services"].values():
        keys |= {k for k in (service.get("environment") or {}) if k.startswith("AIRFLOW__")}
    pairs = sorted({tuple(k.split("__")[1:3]) for k in keys})
    script = (
        "import json, sys\n"
        "from airflow.configuration import conf\n"
        "known = conf.configuration_description  # core and provider options\n"
        "pairs = json.loads(sys.argv[1])\n"
        "print(json.dumps([p for p in pairs if p[1].lower() not in\n"
        "                  known.get(p[0].lower(), {}).get('options', {})]))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script, json.dumps(pairs)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    unknown = json.loads(out.stdout.strip().splitlines()[-1])
    assert unknown == [], f"not Airflow options (misspelt?): {unknown}"


def test_image_is_the_locked_airflow_and_copies_what_exists():
    image = re.search(r"ARG AIRFLOW_IMAGE=apache/airflow:([\d.]+)-python", DOCKERFILE)
    assert image and image.group(1) == version("apache-airflow"), "image and uv.lock disagree on Airflow"
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    for src in re.findall(r"^COPY --chown=\S+ (.+) \S+$", DOCKERFILE, flags=re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"Dockerfile copies {part}, which does not exist"
    assert (ROOT / "docker" / "postgres-init").is_dir()
