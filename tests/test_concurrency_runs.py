"""Two whole runs for one county at the same time: serialized, both finish, each count delivered once.

- SQLite (the default): two ``autoclear run`` processes on the same inputs and the same work
  folder, so they share the run folder, the ledger file and the outbox. Stages of one county take
  turns (a file lock in pipelines/flow.py), delivery holds the ledger's county lock.
- PostgreSQL: two runs with separate work folders (two workers) sharing one ledger database (a
  throwaway database on the local server) and one outbox: the ledger's advisory lock serializes
  their deliveries.

Either way one run publishes the delivery and the other finds nothing new to deliver (or, had
it waited too long for the lock, fails with a message naming the holder).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.fuzz.runs import AUTOCLEAR, ROOT, child_env, delivery_state, generate, run_args

LOCKED_MESSAGE = "another run is delivering for county LOS ANGELES"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    return generate(tmp_path_factory.mktemp("concurrency") / "county", seed=5)


def _both(args_a: list[str], args_b: list[str]) -> list[subprocess.CompletedProcess]:
    """Start both runs at once and wait for both."""
    procs = [subprocess.Popen([str(AUTOCLEAR), *args], cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in (args_a, args_b)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=1200)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _check(done: list[subprocess.CompletedProcess]) -> None:
    for proc in done:
        assert proc.returncode == 0 or (proc.returncode == 1 and LOCKED_MESSAGE in proc.stderr), proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    finished = [p for p in done if p.returncode == 0]
    assert finished, "neither run finished"
    published = [p for p in finished if "los_angeles_00001:" in p.stdout]
    assert len(published) == 1, [p.stdout[-1500:] for p in finished]
    assert all("nothing new to deliver" in p.stdout for p in finished if p not in published)


@pytest.mark.slow
def test_two_runs_at_once_on_sqlite_share_one_delivery(inputs, tmp_path) -> None:
    doj, court = inputs
    work = tmp_path / "work"
    done = _both(run_args(doj, court, work), run_args(doj, court, work))
    _check(done)
    state = delivery_state(work)
    state.assert_exactly_once()
    assert state.by_status("published") == ["los_angeles_00001"] and len(state.deliveries) == 1


@pytest.fixture()
def ledger_database(postgres_url: str):
    """A throwaway PostgreSQL database for one test's ledger."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"autoclear_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_runs_at_once_on_postgresql_share_one_delivery(inputs, tmp_path, ledger_database) -> None:
    doj, court = inputs
    outbox = tmp_path / "court_outbox"
    shared = ["--ledger-url", ledger_database, "--outbox", str(outbox)]
    done = _both(run_args(doj, court, tmp_path / "worker_a", *shared),
                 run_args(doj, court, tmp_path / "worker_b", *shared))
    _check(done)
    state = delivery_state(tmp_path / "worker_a", ledger_url=ledger_database, outbox=outbox)
    state.assert_exactly_once()
    assert state.by_status("published") == ["los_angeles_00001"] and len(state.deliveries) == 1
