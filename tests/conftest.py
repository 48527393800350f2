"""Shared test fixtures.

- `shared_dir`: ../shared (fixtures with independently produced results); tests that need it skip
  with a clear message where it is absent (a fresh clone does not have it).
- `postgres_url` / `redis_url`: the local servers. They skip with a message where none is
  reachable, except under CI (AUTOCLEAR_REQUIRE_SERVICES=1), where a missing server fails.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REQUIRE_SERVICES = os.environ.get("AUTOCLEAR_REQUIRE_SERVICES") == "1"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need(service: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    msg = f"{service} is not reachable at {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(msg + " (AUTOCLEAR_REQUIRE_SERVICES=1: CI must provide it)")
    pytest.skip(msg + "; start it (see .ci/run) to run this test")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared fixtures are not part of a clone")
    return SHARED


@pytest.fixture(scope="session")
def gogen_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "gogen"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    host, port = "127.0.0.1", 5432
    _need("PostgreSQL", host, port)
    return os.environ.get("AUTOCLEAR_TEST_POSTGRES_URL", f"postgresql+psycopg://postgres@{host}:{port}/test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    _need("Redis", "127.0.0.1", 6379)
    return "redis://127.0.0.1:6379/0"


@pytest.fixture()
def artifacts_dir() -> Path:
    """Where tests leave artefacts a person may want to look at (screenshots, reports)."""
    p = ROOT / "tests" / "artifacts"
    p.mkdir(parents=True, exist_ok=True)
    return p
