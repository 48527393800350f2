"""run_county(): the stages composed. Used by the CLI (`autoclear run`) and by the Airflow DAGs.

The unit of work is a *run folder* (pipelines.runs.RunFolder). `plan_run(spec)` creates it and
writes `spec.json`; each stage is then `run_stage(name, run_dir)`: it reads its predecessors'
frames from the run folder, calls the pure stage functions, and overwrites its own outputs, so a
retried task is idempotent. Airflow tasks pass only the run folder path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from pipelines.runs import RunFolder, file_fingerprint, make_run_id

# In execution order. Each reads only what earlier stages wrote.
STAGES: tuple[str, ...] = (
    "read_doj",
    "read_court",
    "validate_inputs",
    "link",
    "reconcile",
    "eligibility",
    "validate_outputs",
    "deliver",
    "report",
)


@dataclass
class RunSpec:
    """What defines a run. Serialised as spec.json in the run folder."""

    county: str  # county config name ("los_angeles") or path to a county YAML
    doj: list[str]  # DOJ research files
    court: list[str]  # court extracts (read through the county's layout)
    compute_at: str  # YYYY-MM-DD
    workdir: str
    policy: str | None = None  # overrides the county config's policy
    outbox: str | None = None  # overrides the county config's delivery target
    ledger_url: str | None = None  # SQLAlchemy URL; default sqlite in the workdir
    review_decisions: str | None = None  # a worked review-queue file to apply
    input_fingerprints: dict[str, str] = field(default_factory=dict)
    run_id: str = ""

    @property
    def compute_at_date(self) -> date:
        return date.fromisoformat(self.compute_at)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls(**json.loads(text))


def plan_run(spec: RunSpec) -> Path:
    """Fingerprint the inputs, derive the run id, create the run folder, write spec.json."""
    from pipelines.config import load_county  # noqa: PLC0415 (keeps DAG parsing light)
    from pipelines.errors import InputError  # noqa: PLC0415
    from pipelines.sources.checks import check_input_files  # noqa: PLC0415

    config = load_county(spec.county)
    inputs = [*spec.doj, *spec.court]
    prints: dict[str, str] = {}
    for p in inputs:
        try:
            prints[str(p)] = file_fingerprint(p)
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror or exc})", file=Path(p).name, kind="OTHER") from None
    check_input_files(inputs, prints)
    spec.input_fingerprints = {Path(p).name: digest for p, digest in prints.items()}
    if spec.ledger_url and _has_password(spec.ledger_url):
        # spec.json is readable by the group and lives on shared volumes: no password in it.
        if spec.ledger_url != os.environ.get(config.ledger_url_env):
            from pipelines.errors import ConfigError  # noqa: PLC0415

            raise ConfigError(
                f"the ledger URL holds a password: put it in the environment variable {config.ledger_url_env} "
                "(or an Airflow connection) instead of a parameter, so it is not written to the run folder"
            )
        spec.ledger_url = None  # each stage reads it from the environment again
    policy = spec.policy or config.policy
    spec.run_id = spec.run_id or make_run_id(
        config.name, policy, spec.compute_at, *sorted(spec.input_fingerprints.values())
    )
    folder = RunFolder(Path(spec.workdir), config.doj_county_name, spec.run_id).create()
    with county_turn(folder.path, "plan"):
        _write_atomic(folder.path / "spec.json", spec.to_json())
    _crash_point("plan")
    return folder.path


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL: nothing to hide
        return False
    return bool(parsed.password) or any(k.lower() in ("password", "passwd") for k in parsed.query)


def _write_atomic(path: Path, text: str) -> None:
    """Write a small text file whole or not at all (another process may be reading it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# Two runs for one county at once (a scheduled refresh and a manual run) share run folders,
# the dashboard and the outbox. Their stages take turns: each holds the county's turn while it
# runs. Stages are idempotent, so the runs finish with the same, complete results; delivery is
# serialized again, across machines, by the ledger's county lock.
TURN_TIMEOUT_ENV = "AUTOCLEAR_STAGE_LOCK_TIMEOUT"
DEFAULT_TURN_TIMEOUT = 6 * 3600.0


@contextlib.contextmanager
def county_turn(run_dir: str | Path, stage_name: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the county's turn (a file lock next to its run folders) while a stage runs.

    Waits while another process of the same county runs a stage, up to `timeout` seconds
    (default $AUTOCLEAR_STAGE_LOCK_TIMEOUT or 6 hours), then raises AutoclearError naming the
    holder. The operating system releases the lock when its holder dies, even by SIGKILL.
    """
    from pipelines.errors import AutoclearError  # noqa: PLC0415

    if timeout is None:
        timeout = float(os.environ.get(TURN_TIMEOUT_ENV, DEFAULT_TURN_TIMEOUT))
    path = Path(run_dir).parent / ".stage.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o660)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = Path(path).read_text(errors="replace").strip() or "another process"
                    raise AutoclearError(
                        f"another run of county {Path(run_dir).parent.name} is still running ({holder}); waited "
                        f"{timeout:g} s. Retry when it is done, or raise ${TURN_TIMEOUT_ENV}."
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"stage {stage_name} of run {Path(run_dir).name}, pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


# Crash-safety tests: AUTOCLEAR_CRASH_AFTER_STAGE=<stage or "plan"> SIGKILLs the process once that
# step's outputs are complete (a stage boundary), like pipelines.delivery.faults inside a delivery.
CRASH_AFTER_STAGE_ENV = "AUTOCLEAR_CRASH_AFTER_STAGE"


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AFTER_STAGE_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def load_spec(run_dir: str | Path) -> RunSpec:
    return RunSpec.from_json((Path(run_dir) / "spec.json").read_text())


# Stage implementations register here: name -> function(run_dir: Path, spec: RunSpec) -> dict summary.
_STAGE_IMPL: dict[str, Callable[[Path, RunSpec], dict]] = {}


def stage(name: str):
    def register(fn: Callable[[Path, RunSpec], dict]) -> Callable[[Path, RunSpec], dict]:
        assert name in STAGES, name
        _STAGE_IMPL[name] = fn
        return fn

    return register


def run_stage(name: str, run_dir: str | Path) -> dict:
    """Run one stage on a planned run folder; returns the stage's summary (also saved as JSON)."""
    import pipelines.stages  # noqa: F401, PLC0415 (registers the stages; heavy, so imported here)

    run_dir = Path(run_dir)
    spec = load_spec(run_dir)
    if name not in _STAGE_IMPL:
        raise KeyError(f"stage {name!r} is not implemented (known: {', '.join(_STAGE_IMPL)})")
    with county_turn(run_dir, name):
        summary = _STAGE_IMPL[name](run_dir, spec)
        (run_dir / "summary").mkdir(exist_ok=True, mode=0o770)
        _write_atomic(run_dir / "summary" / f"{name}.json", json.dumps(summary, indent=2, default=str, sort_keys=True))
        _crash_point(name)
    return summary


def run_county(spec: RunSpec, *, progress: bool = True) -> dict:
    """Plan and run every stage in order; returns {stage: summary}."""
    run_dir = plan_run(spec)
    results: dict[str, dict] = {}
    for name in STAGES:
        results[name] = run_stage(name, run_dir)
    return {"run_dir": str(run_dir), "stages": results}
