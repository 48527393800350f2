"""Crash safety: a run killed with SIGKILL at every stage boundary, in the middle of publishing and
in the middle of the ledger write, then run again, delivers each count exactly once and leaves a
consistent ledger.

The kills are real (the process sends itself SIGKILL at the named point):
``AUTOCLEAR_CRASH_AFTER_STAGE=<stage>`` (pipelines/flow.py) at a stage boundary, once the stage's
outputs are complete; ``AUTOCLEAR_CRASH_AT=<point>`` (pipelines/delivery/faults.py) inside a
delivery. Each stage runs in its own child process, as an Airflow task does, and the killed step
is retried by the next process, which then goes on to the next kill; the last one completes and a
further delivery publishes nothing new. (A whole ``autoclear run`` repeated after a finished run
delivering nothing new is shown by tests/test_concurrency_runs.py.)
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pipelines.flow import STAGES, RunSpec, plan_run
from tests.fuzz.runs import COMPUTE_AT, child_env, delivery_state, generate, run_args, run_cli, run_stages

KILLED = -signal.SIGKILL
# Inside the deliver stage, in the order a delivery reaches them (pipelines/delivery/deliver.py).
DELIVERY_POINTS = ("mid_write", "staged", "ledger_write", "pending", "renamed")


def _killed(proc, where: str) -> None:
    assert proc.returncode == KILLED, f"expected a SIGKILL at {where}, got {proc.returncode}:\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    return generate(tmp_path_factory.mktemp("crash") / "county", seed=5)


@pytest.mark.slow
def test_killed_at_every_boundary_and_inside_delivery_then_rerun_delivers_exactly_once(inputs, tmp_path) -> None:
    doj, court = inputs
    work = tmp_path / "work"
    # Killed right after planning: the next process finds the run folder and carries on.
    _killed(run_cli(run_args(doj, court, work), env=child_env(AUTOCLEAR_CRASH_AFTER_STAGE="plan")), "plan")
    run_dir = plan_run(RunSpec(county="los_angeles", doj=[str(doj)], court=[str(court)], compute_at=COMPUTE_AT,
                               workdir=str(work)))
    retry: list[str] = []  # the stage whose process was killed is run again first, as a retried task is
    for stage in STAGES:
        if stage == "deliver":
            for point in DELIVERY_POINTS:
                _killed(run_stages(run_dir, [*retry, "deliver"], env=child_env(AUTOCLEAR_CRASH_AT=point)), point)
                retry = []
                state = delivery_state(work)
                visible = state.outbox_folders
                if point in ("mid_write", "staged", "ledger_write", "pending"):
                    assert visible == [], f"a delivery became visible before it was complete ({point})"
                if point in ("mid_write", "staged", "ledger_write"):
                    # nothing of this attempt in the ledger (the write was one transaction)
                    assert state.by_status("pending") == []
                if point == "pending":
                    assert len(state.by_status("pending")) == 1
                if point == "renamed":
                    assert len(visible) == 1 and len(state.by_status("pending")) == 1
                assert state.by_status("published") == []
        _killed(run_stages(run_dir, [*retry, stage], env=child_env(AUTOCLEAR_CRASH_AFTER_STAGE=stage)), stage)
        retry = [stage]
        assert (run_dir / "summary" / f"{stage}.json").is_file()
        state = delivery_state(work)
        if STAGES.index(stage) < STAGES.index("deliver"):
            assert state.deliveries == [] and state.outbox_folders == []
        else:
            state.assert_exactly_once()
            assert len(state.by_status("published")) == 1
    # The last killed step, retried, completes; delivering again publishes nothing new.
    proc = run_stages(run_dir, [*retry, "deliver"], env=child_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nothing new to deliver" in (run_dir / "summary" / "deliver.json").read_text()
    state = delivery_state(work)
    state.assert_exactly_once()
    assert state.by_status("published") == ["los_angeles_00002"]
    assert state.by_status("rolled_back") == ["los_angeles_00001"]  # the attempt killed while pending
    assert state.staging == [], "staging leftovers were not cleaned"
    assert len(state.ledger_ids) > 0
