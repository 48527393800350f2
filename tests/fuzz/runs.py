"""Helpers for tests that run the real flow in child processes and inspect what it delivered.

    county = generate(base, rows=800, seed=5)            # (doj file, court file), generated
    proc = run_cli(["run", ...], env=child_env(AUTOCLEAR_CRASH_AFTER_STAGE="link"))
    proc = run_stages(run_dir, ["deliver"], env=...)     # like one Airflow task per stage
    state = delivery_state(workdir)                      # ledger + outbox, as seen from outside
    state.assert_exactly_once()
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUTOCLEAR = Path(sys.executable).with_name("autoclear")
COUNTY = "LOS ANGELES"
COMPUTE_AT = "2020-07-01"
# A generated county this size has enough people for the linkage model to train.
ROWS = 800


def generate(base: Path, *, rows: int = ROWS, seed: int = 5, county: str = COUNTY) -> tuple[Path, Path]:
    """A generated county's DOJ file and court extract (fictional people)."""
    from pipelines.synth import generate_county  # noqa: PLC0415

    g = generate_county(rows=rows, seed=seed, county=county, out=base)
    return g.doj_files[0], g.court_files[0]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child run: this project importable, no analytics, nothing inherited
    that would point the run elsewhere (ledger URL, crash hooks)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTOCLEAR_", "AIRFLOW_CONN_"))}
    env.update(PYTHONPATH=str(ROOT), GX_ANALYTICS_ENABLED="False", DO_NOT_TRACK="1", SCARF_ANALYTICS="false",
               POLARS_MAX_THREADS=env.get("POLARS_MAX_THREADS", "2"))
    env.update(extra)
    return env


def run_args(doj: Path, court: Path, workdir: Path, *extra: str) -> list[str]:
    return ["run", "--county", "los_angeles", "--doj", str(doj), "--court", str(court),
            "--compute-at", COMPUTE_AT, "--workdir", str(workdir), *extra]


def run_cli(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """`autoclear ARGS` in a child process (text output captured)."""
    return subprocess.run([str(AUTOCLEAR), *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or child_env(), timeout=timeout, check=False)


_STAGE_DRIVER = (
    "import sys\n"
    "from pipelines.flow import run_stage\n"
    "for name in sys.argv[2:]:\n"
    "    run_stage(name, sys.argv[1])\n"
)


def run_stages(run_dir: Path, stages: list[str], *, env: dict[str, str] | None = None,
               timeout: float = 900) -> subprocess.CompletedProcess:
    """run_stage for each stage, in order, in one child process (as a DAG task runs one)."""
    return subprocess.run([sys.executable, "-c", _STAGE_DRIVER, str(run_dir), *stages], capture_output=True,
                          text=True, cwd=ROOT, env=env or child_env(), timeout=timeout, check=False)


@dataclass
class DeliveryState:
    """What was delivered, as the ledger and the outbox show it."""

    deliveries: list[dict]  # ledger history
    ledger_ids: list[str]  # delivery ids of the rows of published deliveries (every revision)
    outbox_folders: list[str]
    outbox_ids: list[str]  # delivery ids in the published court_upload.csv files
    staging: list[str] = field(default_factory=list)  # leftovers in <outbox>/.staging

    def by_status(self, status: str) -> list[str]:
        return [d["delivery"] for d in self.deliveries if d["status"] == status]

    def assert_exactly_once(self) -> None:
        """Every count delivered once: one published folder per published delivery, each delivery
        id once in the ledger and once in the files, the two agreeing, nothing pending."""
        assert self.by_status("pending") == [], f"pending deliveries left: {self.by_status('pending')}"
        assert sorted(self.by_status("published")) == self.outbox_folders, (self.deliveries, self.outbox_folders)
        assert len(self.ledger_ids) == len(set(self.ledger_ids)), "a count recorded as delivered twice"
        assert len(self.outbox_ids) == len(set(self.outbox_ids)), "a count in the outbox twice"
        assert sorted(self.ledger_ids) == sorted(self.outbox_ids), "ledger and outbox disagree"


def delivery_state(workdir: Path, *, ledger_url: str | None = None, schema: str | None = None,
                   outbox: Path | None = None, county: str = COUNTY) -> DeliveryState:
    """Read the ledger (SQLite in the workdir unless a URL is given) and the outbox folder."""
    from pipelines.ledger import Ledger  # noqa: PLC0415

    outbox = outbox or workdir / "outbox" / "los_angeles"
    url = ledger_url or f"sqlite:///{workdir / 'ledger.sqlite'}"
    with Ledger(url, schema=schema) as ledger:
        history = ledger.history(county)
        rows = ledger.delivery_rows(county)
    published = rows.filter(rows["status"] == "published") if rows.height else rows
    folders = sorted(p.name for p in outbox.iterdir() if p.is_dir() and p.name != ".staging") if outbox.is_dir() else []
    ids: list[str] = []
    for name in folders:
        manifest = json.loads((outbox / name / "manifest.json").read_text())
        assert manifest["delivery"] == name
        upload = next(f for f in manifest["files"] if f["kind"] == "court_upload")
        with (outbox / name / upload["name"]).open(newline="", encoding="utf-8") as f:
            file_ids = [row["DELIVERY_ID"] for row in csv.DictReader(f)]
        assert len(file_ids) == upload["rows"], f"{name}: manifest row count differs from the file"
        ids += file_ids
    staging = sorted(p.name for p in (outbox / ".staging").iterdir()) if (outbox / ".staging").is_dir() else []
    return DeliveryState(deliveries=history, ledger_ids=published["delivery_id"].to_list() if rows.height else [],
                         outbox_folders=folders, outbox_ids=ids, staging=staging)
