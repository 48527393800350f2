"""Deliver a run to the county's court: plan against the ledger, stage, publish, record. Exactly once.

    with the county lock held (runs for one county are serialized):
      1. recover: a delivery a killed run left "pending" is marked published if its folder reached
         the target complete (manifest hash matches), else its rows are rolled back; staging
         leftovers of the county are removed;
      2. record the run, its input files and the determinations that changed;
      3. plan: new counts, corrections, withdrawals (nothing to do -> nothing published);
      4. stage every file, then the manifest, into a staging folder on the target's filesystem;
      5. record the delivery and its rows as pending (one transaction; the database's unique
         constraint refuses a count delivered twice);
      5b. validation gate (`check`): the files as staged and the rows the ledger recorded are
         compared (expectations/delivery.yaml); a failure rolls the pending delivery back;
      6. publish: rename the staged folder into the outbox (or upload + rename on SFTP);
      7. mark it published.

A SIGKILL between any two steps leaves either nothing recorded and nothing visible (1-4), or a
pending delivery that step 1 of the next run finishes or rolls back (5-7).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import autoclear_version, model
from pipelines.delivery.faults import crash_point
from pipelines.delivery.files import MANIFEST, DeliveryFile, fsync_dir, read_back, write_all, write_bytes
from pipelines.delivery.layouts import DeliveryLayout, load_layout
from pipelines.delivery.publish import PublishedDelivery, Target, make_target, manifest_bytes, sha256_file
from pipelines.delivery.rows import DeliveryBuild
from pipelines.errors import AutoclearError
from pipelines.ledger.store import DeliveryPlan, Ledger, RecoveredDelivery
from pipelines.runs import county_slug

MANIFEST_FORMAT = "autoclear-delivery/1"


@dataclass
class StagedDelivery:
    """A delivery staged and recorded as pending, not yet published: what the validation gate checks."""

    county: str
    name: str
    folder: Path
    layout: DeliveryLayout
    ledger: Ledger

    def ledger_rows(self) -> pl.DataFrame:
        """The rows the ledger recorded for this delivery, read back from its database."""
        return self.ledger.delivery_rows(self.county, self.name,
                                         columns=("delivery_id", "action", "count_id", "relief"))

    def file_rows(self) -> pl.DataFrame:
        """The data rows of the staged court file and clerk checklist, read back from disk."""
        return read_back(self.folder, self.layout)


@dataclass
class DeliveryResult:
    """What `deliver` did."""

    county: str
    run_id: str
    status: str  # "published" | "nothing_new"
    plan: dict[str, int]
    delivery: PublishedDelivery | None = None
    manifest: dict[str, Any] | None = None
    recovered: list[RecoveredDelivery] = field(default_factory=list)
    cleaned_staging: list[str] = field(default_factory=list)
    undeliverable: dict[str, int] = field(default_factory=dict)
    determinations_recorded: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "county": self.county,
            "run_id": self.run_id,
            "status": self.status,
            "plan": self.plan,
            "delivery": self.delivery.name if self.delivery else None,
            "location": self.delivery.location if self.delivery else None,
            "manifest_sha256": self.delivery.manifest_sha256 if self.delivery else None,
            "files": self.manifest["files"] if self.manifest else [],
            "recovered": [{"delivery": r.name, "outcome": r.outcome} for r in self.recovered],
            "cleaned_staging": self.cleaned_staging,
            "undeliverable": self.undeliverable,
            "determinations_recorded": self.determinations_recorded,
        }


def delivery_name(county: str, sequence: int) -> str:
    """``los_angeles_00003``: the county's third delivery. Never reused, even after a roll-back."""
    return f"{county_slug(county)}_{sequence:05d}"


def build_manifest(
    *,
    name: str,
    sequence: int,
    county: str,
    run_id: str,
    layout: DeliveryLayout,
    files: list[DeliveryFile],
    plan: DeliveryPlan,
    policy: str | None,
    policy_version: str | None,
    compute_at: date | str | None,
    input_fingerprints: dict[str, str] | None,
) -> dict[str, Any]:
    """The manifest: every file with its row count and SHA-256, the policy, the inputs, the run,
    and the autoclear version that made them.

    No clock time: the same inputs give the same manifest."""
    return {
        "format": MANIFEST_FORMAT,
        "software": f"autoclear {autoclear_version()}",
        "delivery": name,
        "sequence": sequence,
        "county": county,
        "run_id": run_id,
        "policy": policy,
        "policy_version": policy_version,
        "compute_at": str(compute_at) if compute_at else None,
        "layout": layout.name,
        "inputs": [{"name": Path(n).name, "sha256": h} for n, h in sorted((input_fingerprints or {}).items())],
        "files": [
            {"name": f.path.name, "kind": f.kind, "rows": f.rows, "bytes": f.path.stat().st_size,
             "sha256": sha256_file(f.path)}
            for f in sorted(files, key=lambda f: f.path.name)
        ],
        "rows": {**{k: v for k, v in plan.summary().items() if k in ("new", "correction", "withdrawal")},
                 "total": plan.rows.height},
    }


def stage_delivery(
    plan: DeliveryPlan,
    *,
    target: Target,
    layout: DeliveryLayout,
    name: str,
    sequence: int,
    county: str,
    run_id: str,
    policy: str | None = None,
    policy_version: str | None = None,
    compute_at: date | str | None = None,
    input_fingerprints: dict[str, str] | None = None,
) -> tuple[Path, dict[str, Any], str]:
    """Write the delivery's files and then its manifest into a fresh staging folder.

    Returns (staging folder, manifest, manifest SHA-256)."""
    staging = target.staging_dir(name)
    document_date = date.fromisoformat(compute_at) if isinstance(compute_at, str) else compute_at
    files = write_all(plan.rows, layout, staging, county=county, delivery_name=name, document_date=document_date)
    manifest = build_manifest(
        name=name, sequence=sequence, county=county, run_id=run_id, layout=layout, files=files, plan=plan,
        policy=policy, policy_version=policy_version, compute_at=compute_at,
        input_fingerprints=input_fingerprints,
    )
    write_bytes(staging / MANIFEST, manifest_bytes(manifest))  # last: a manifest means complete
    fsync_dir(staging)
    return staging, manifest, sha256_file(staging / MANIFEST)


def recover_pending(ledger: Ledger, county: str, target: Target, *,
                    workdir: str | os.PathLike | None = None) -> tuple[list[RecoveredDelivery], list[str]]:
    """Finish or roll back deliveries a killed run left pending; remove the county's staging leftovers.

    Call with the county lock held."""
    recovered: list[RecoveredDelivery] = []
    for pending in ledger.pending(county):
        where = target if pending.target == target.description else make_target(pending.target, workdir=workdir)
        published_sha = where.published_manifest_sha(pending.name)
        if published_sha is not None and published_sha == pending.manifest_sha256:
            location = getattr(where, "path", None)
            ledger.mark_published(pending.id, location=str(location / pending.name) if location
                                  else f"{where.description}/{pending.name}")
            recovered.append(RecoveredDelivery(pending.name, "published"))
        elif published_sha is not None:
            raise AutoclearError(
                f"delivery {pending.name} is at {where.description} but its manifest differs from the one "
                "the ledger recorded; someone changed the folder. Resolve by hand before delivering again."
            )
        else:
            where.discard(pending.name)
            ledger.roll_back(pending.id, note="rolled back: the run stopped before the folder was published")
            recovered.append(RecoveredDelivery(pending.name, "rolled_back"))
    cleaned = target.clean_staging(f"{county_slug(county)}_", keep=set())
    return recovered, cleaned


def _policy_of(determinations: pl.DataFrame | None) -> tuple[str | None, str | None, date | None]:
    if determinations is None or determinations.height == 0:
        return None, None, None
    def one(col: str) -> Any:
        if col not in determinations.columns:
            return None
        values = determinations.get_column(col).drop_nulls().unique().sort()
        return values[0] if values.len() == 1 else (", ".join(map(str, values.to_list())) or None)
    return one("policy"), one("policy_version"), one("compute_at")


def write_report_files(build: DeliveryBuild, report_dir: str | os.PathLike) -> list[Path]:
    """Write the undeliverable counts (and the needs-case-number subset) for the DA's data team."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
    written = []
    for name, frame in (("undeliverable.csv", build.undeliverable),
                        ("needs_case_number.csv", build.needs_case_number)):
        path = report_dir / name
        tmp = path.with_suffix(".csv.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        write_bytes(tmp, frame.write_csv().encode())
        os.replace(tmp, path)
        written.append(path)
    return written


def deliver(
    delivery: DeliveryBuild | pl.DataFrame,
    *,
    county: str,
    ledger: Ledger,
    run_id: str,
    target: Any = None,
    layout: DeliveryLayout | str | None = None,
    workdir: str | os.PathLike | None = None,
    determinations: pl.DataFrame | None = None,
    policy: str | None = None,
    policy_version: str | None = None,
    compute_at: date | str | None = None,
    input_fingerprints: dict[str, str] | None = None,
    report_dir: str | os.PathLike | None = None,
    lock_timeout: float | None = None,
    withdraw_missing: bool = False,
    check: Callable[[DeliveryPlan, StagedDelivery], None] | None = None,
) -> DeliveryResult:
    """Deliver `delivery` (an `assemble_delivery` result, or DELIVERY_ROW rows) to the county's court.

    Exactly once per count, serialized per county, crash-safe (see the module docstring). With
    plain rows, nothing is withdrawn (the non-actionable counts are unknown); pass the
    DeliveryBuild to withdraw counts whose determination is no longer actionable.

    `check(plan, staged)` is the validation gate: it runs once the files are staged and the ledger
    holds the delivery as pending, so it can compare the files with what the ledger recorded; if it
    raises, the staged files are removed, the pending delivery is rolled back, nothing is published.
    """
    build = delivery if isinstance(delivery, DeliveryBuild) else DeliveryBuild(
        rows=model.conform(delivery, model.DELIVERY_ROW, extra=False),
        not_actionable=pl.DataFrame(schema={"delivery_id": pl.String}),
        undeliverable=pl.DataFrame(schema={"reason": pl.String}),
    )
    layout = load_layout(layout)
    target = make_target(target, workdir=workdir)
    p, v, c = _policy_of(determinations)
    policy, policy_version, compute_at = policy or p, policy_version or v, compute_at or c
    if report_dir is not None and isinstance(delivery, DeliveryBuild):
        write_report_files(build, report_dir)
    undeliverable = (
        dict(build.undeliverable.group_by("reason").len().sort("reason").iter_rows())
        if build.undeliverable.height else {}
    )

    with ledger.lock_county(county, timeout=lock_timeout, holder=f"run {run_id}, pid {os.getpid()}"):
        recovered, cleaned = recover_pending(ledger, county, target, workdir=workdir)
        run_pk = ledger.record_run(
            county, run_id, policy=policy, policy_version=policy_version, compute_at=compute_at,
            input_fingerprints=input_fingerprints,
        )
        recorded = 0
        if determinations is not None:
            ids = build.rows.select("count_id", "delivery_id")
            if build.not_actionable.height and "count_id" in build.not_actionable.columns:
                ids = pl.concat([ids, build.not_actionable.select("count_id", "delivery_id")])
            recorded = ledger.record_determinations(county, run_pk, determinations, ids)
        plan = ledger.plan_delivery(county, build.rows, not_actionable=build.not_actionable,
                                    withdraw_missing=withdraw_missing)
        result = DeliveryResult(county=county, run_id=run_id, status="nothing_new", plan=plan.summary(),
                                recovered=recovered, cleaned_staging=cleaned, undeliverable=undeliverable,
                                determinations_recorded=recorded)
        if plan.is_empty:
            return result

        sequence = ledger.next_sequence(county)
        name = delivery_name(county, sequence)
        staging, manifest, manifest_sha = stage_delivery(
            plan, target=target, layout=layout, name=name, sequence=sequence, county=county, run_id=run_id,
            policy=policy, policy_version=policy_version, compute_at=compute_at,
            input_fingerprints=input_fingerprints,
        )
        crash_point("staged")
        delivery_pk = ledger.record_pending(
            county, plan, sequence=sequence, name=name, run_id=run_id, run_pk=run_pk,
            target=target.description, layout=layout.name, manifest_sha256=manifest_sha,
        )
        crash_point("pending")
        if check is not None:
            try:
                check(plan, StagedDelivery(county, name, staging, layout, ledger))
            except BaseException:
                with contextlib.suppress(Exception):
                    shutil.rmtree(staging, ignore_errors=True)
                    ledger.roll_back(delivery_pk, note="rolled back: the validation gate blocked it")
                raise
        try:
            published = target.publish(staging)
        except BaseException as exc:
            # Not a kill (a kill cannot reach here): undo now rather than wait for the next run.
            with contextlib.suppress(Exception):
                if getattr(exc, "nothing_published", False):
                    shutil.rmtree(staging, ignore_errors=True)
                    ledger.roll_back(delivery_pk, note=f"rolled back: target unreachable ({exc})")
                elif target.published_manifest_sha(name) is None:
                    target.discard(name)
                    ledger.roll_back(delivery_pk, note="rolled back: publishing failed")
            raise
        crash_point("renamed")
        ledger.mark_published(delivery_pk, location=published.location)
        result.status = "published"
        result.delivery = published
        result.manifest = manifest
        return result
