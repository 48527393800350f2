"""Finding and reading run folders for reports: what a run was (county, policy, compute-at) and the
other runs of its county, in refresh order.

Refresh order is the order runs were planned (spec.json is written by plan_run), ties broken by
run id: run ids are hashes of the inputs, so they carry no order themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.eligibility.policy import Policy, load_policy
from pipelines.errors import AutoclearError

REPORT_DIR = "report"  # inside a run folder


@dataclass(frozen=True)
class RunInfo:
    """A run folder and what defines it (no personal data)."""

    run_dir: Path
    county_slug: str  # the run folder's parent ("los_angeles")
    county: str  # DOJ spelling ("LOS ANGELES")
    display_name: str  # "Los Angeles County"
    run_id: str
    compute_at: date
    policy_name: str  # as configured (name or path)
    policy_parameters: dict[str, Any]
    spec: dict[str, Any]
    planned_ns: int  # when spec.json was written (refresh order)

    @property
    def report_dir(self) -> Path:
        return self.run_dir / REPORT_DIR

    def has(self, name: str) -> bool:
        return (self.run_dir / f"{name}.parquet").is_file()

    def read(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.run_dir / f"{name}.parquet")

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.run_dir / f"{name}.parquet")

    def summary(self, stage: str) -> dict[str, Any]:
        """The stage's summary JSON ({} when the stage has not run)."""
        path = self.run_dir / "summary" / f"{stage}.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def policy(self) -> Policy:
        """The policy the eligibility stage used (the county's, with its parameters, or the override)."""
        return load_policy(self.policy_name, parameters=self.policy_parameters or None)


def load_run(run_dir: str | os.PathLike) -> RunInfo:
    """What a run folder is; AutoclearError when it is not one."""
    run_dir = Path(run_dir).resolve()
    spec_path = run_dir / "spec.json"
    if not spec_path.is_file():
        raise AutoclearError(f"{run_dir}: not a run folder (no spec.json); run the flow first (autoclear run)")
    spec = json.loads(spec_path.read_text())
    county, display, policy, parameters = _county(spec)
    return RunInfo(
        run_dir=run_dir, county_slug=run_dir.parent.name, county=county, display_name=display,
        run_id=spec.get("run_id") or run_dir.name, compute_at=date.fromisoformat(spec["compute_at"]),
        policy_name=policy, policy_parameters=parameters, spec=spec, planned_ns=spec_path.stat().st_mtime_ns,
    )


def _county(spec: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    from pipelines.config import load_county  # noqa: PLC0415

    config = load_county(spec["county"])
    override = spec.get("policy")
    parameters = {} if override else dict(config.policy_parameters)
    display = getattr(config, "display_name", None) or config.doj_county_name.title()
    return config.doj_county_name, display, override or config.policy, parameters


def county_runs(workdir: str | os.PathLike) -> dict[str, list[RunInfo]]:
    """Every run folder under `workdir`, by county slug, oldest refresh first."""
    workdir = Path(workdir)
    out: dict[str, list[RunInfo]] = {}
    if not workdir.is_dir():
        return out
    for spec in sorted(workdir.glob("*/*/spec.json")):
        try:
            info = load_run(spec.parent)
        except (AutoclearError, ValueError, KeyError, json.JSONDecodeError):
            continue  # a half-planned or foreign folder is not a run to report on
        out.setdefault(info.county_slug, []).append(info)
    for runs in out.values():
        runs.sort(key=lambda r: (r.planned_ns, r.run_id))
    return dict(sorted(out.items()))


def previous_run(info: RunInfo, runs: list[RunInfo]) -> RunInfo | None:
    """The county's run refreshed just before `info` (None for the first)."""
    ids = [r.run_id for r in runs]
    if info.run_id not in ids:
        return runs[-1] if runs else None
    i = ids.index(info.run_id)
    return runs[i - 1] if i > 0 else None
