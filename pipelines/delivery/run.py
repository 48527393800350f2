"""The deliver stage on a run folder: what `autoclear deliver --run-dir` and the flow's "deliver"
stage run.

The flow keeps the assembled delivery in the run folder (`save_build`):
``delivery_rows.parquet`` (DELIVERY_ROW), ``delivery_not_actionable.parquet`` and
``delivery_undeliverable.parquet``. When they are absent, the stage assembles them from the
earlier stages' frames (determinations, counts, persons, reconciliation) found in the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.delivery.deliver import DeliveryResult, deliver
from pipelines.delivery.files import CLERK_CHECKLIST
from pipelines.delivery.rows import NOT_ACTIONABLE, UNDELIVERABLE, DeliveryBuild, assemble_delivery
from pipelines.errors import AutoclearError, ConfigError
from pipelines.runs import RunFolder

ROWS, NOT_ACTIONABLE_STAGE, UNDELIVERABLE_STAGE = "delivery_rows", "delivery_not_actionable", "delivery_undeliverable"
# Where the earlier stages' frames may be, first found wins.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "determinations": ("determinations", "eligibility"),
    "counts": ("counts", "link_counts", "linked_counts", "court_counts"),
    "persons": ("persons", "link_persons", "linked_persons"),
    "reconciled": ("reconciled", "reconcile"),
}


def save_build(run_dir: str | os.PathLike, build: DeliveryBuild) -> list[Path]:
    """Keep an assembled delivery in the run folder (atomic writes)."""
    folder = _folder(run_dir)
    return [
        folder.write(ROWS, build.rows),
        folder.write(NOT_ACTIONABLE_STAGE, build.not_actionable),
        folder.write(UNDELIVERABLE_STAGE, build.undeliverable),
    ]


def _folder(run_dir: str | os.PathLike) -> RunFolder:
    path = Path(run_dir)
    return RunFolder(path.parent.parent, path.parent.name, path.name)


def _read_first(run_dir: Path, names: tuple[str, ...]) -> pl.DataFrame | None:
    for name in names:
        path = run_dir / f"{name}.parquet"
        if path.is_file():
            return pl.read_parquet(path)
    return None


def load_build(run_dir: str | os.PathLike, *, county: str, run_id: str, county_config: Any = None,
               da_challenges: pl.DataFrame | None = None) -> DeliveryBuild:
    """The run's delivery: saved by the flow, or assembled from the earlier stages' frames."""
    run_dir = Path(run_dir)
    rows_path = run_dir / f"{ROWS}.parquet"
    if rows_path.is_file() and da_challenges is None:
        def read(name: str, schema: dict) -> pl.DataFrame:
            path = run_dir / f"{name}.parquet"
            return pl.read_parquet(path) if path.is_file() else pl.DataFrame(schema=schema)
        return DeliveryBuild(rows=pl.read_parquet(rows_path), not_actionable=read(NOT_ACTIONABLE_STAGE, NOT_ACTIONABLE),
                             undeliverable=read(UNDELIVERABLE_STAGE, UNDELIVERABLE))
    frames = {key: _read_first(run_dir, names) for key, names in _CANDIDATES.items()}
    missing = [k for k in ("determinations", "counts", "persons") if frames[k] is None]
    if missing:
        wanted = "; ".join(f"{k}: one of {', '.join(n + '.parquet' for n in _CANDIDATES[k])}" for k in missing)
        raise AutoclearError(
            f"{run_dir}: nothing to deliver yet (no {ROWS}.parquet, and missing {wanted}); run the earlier stages first"
        )
    return assemble_delivery(
        frames["determinations"], frames["counts"], frames["persons"], frames["reconciled"],
        county_config=county_config, county=county, run_id=run_id, da_challenges=da_challenges,
    )


def read_da_challenges(path: str | os.PathLike) -> pl.DataFrame:
    """A DA challenge list: CSV with count_id, delivery_id, or court_case_number + count_number."""
    path = Path(path)
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        raise AutoclearError(f"{path.name}: cannot read the DA challenge list: {str(e).splitlines()[0]}") from None
    frame = frame.rename({c: c.strip().lower().replace(" ", "_") for c in frame.columns})
    if "count_number" in frame.columns:
        frame = frame.with_columns(pl.col("count_number").cast(pl.Int32, strict=False))
    return frame


def validation_check(run_dir: Path, *, county: str, run_id: str, compute_at: str | None,
                     case_number_pattern: str | None, determinations: pl.DataFrame | None):
    """The delivery checkpoint (expectations/delivery.yaml) as a `deliver(check=...)` gate.

    It runs once the files are staged and the ledger holds the delivery as pending: the files'
    rows, read back from disk, and the ledger's rows, read back from its database, are compared by
    action and by delivery id, and with the determinations.

    New rows and corrections are validated against this run's determinations. Withdrawals are
    copies of rows validated when first delivered, now withdrawn because the determination
    changed, so they cannot agree with the new determination and are left out of the row checks
    (they are counted in the files and the ledger; the ledger's constraints guard them).
    """
    from pipelines import model  # noqa: PLC0415

    def check(plan, staged) -> None:  # noqa: ANN001
        from pipelines.validation import gate, run_checkpoint  # noqa: PLC0415 (GX is heavy)

        rows = pl.concat([plan.new, plan.correction]).select(list(model.DELIVERY_ROW))
        context = {"compute_at": compute_at, "county": county, "run_id": run_id,
                   "expected_rows": {"new": plan.new.height, "correction": plan.correction.height,
                                     "withdrawal": plan.withdrawal.height}}
        if case_number_pattern:
            context["case_number_pattern"] = case_number_pattern
        context["delivery_files"] = [staged.layout.file_name, CLERK_CHECKLIST]
        frames = {"delivery": rows, "ledger": staged.ledger_rows(), "files": staged.file_rows()}
        if determinations is not None:
            frames["determinations"] = determinations
        gate(run_checkpoint("delivery", frames, context=context, out_dir=run_dir / "validation"))

    return check


def deliver_run_dir(
    run_dir: str | os.PathLike,
    *,
    ledger_url: str | None = None,
    target: Any = None,
    layout: str | None = None,
    lock_timeout: float | None = None,
    withdraw_missing: bool = False,
    da_challenges: pl.DataFrame | None = None,
    validate: bool = True,
) -> tuple[DeliveryResult, dict[str, Any]]:
    """Publish a run's delivery from its run folder. Returns the result and a stage summary.

    With `validate` (the default) the delivery checkpoint gates publishing: a critical failure
    raises ValidationFailed and nothing is published."""
    from pipelines.flow import load_spec  # noqa: PLC0415
    from pipelines.ledger.store import Ledger  # noqa: PLC0415

    run_dir = Path(run_dir).resolve()
    if not (run_dir / "spec.json").is_file():
        raise AutoclearError(f"{run_dir}: not a run folder (no spec.json); plan the run first (autoclear run)")
    spec = load_spec(run_dir)
    config = None
    try:
        from pipelines.config import load_county  # noqa: PLC0415

        config = load_county(spec.county)
    except ConfigError:
        raise
    except ImportError:  # pragma: no cover - the config module ships with the project
        config = None
    county = config.doj_county_name if config else spec.county.upper().replace("_", " ")
    run_id = spec.run_id or run_dir.name
    if ledger_url is None and spec.ledger_url:
        ledger_url = spec.ledger_url
    if ledger_url is None and config is not None and os.environ.get(config.ledger_url_env):
        ledger_url = os.environ[config.ledger_url_env]
    if target is None:
        target = spec.outbox or (config.delivery.target if config else None)
    layout = layout or (config.delivery.layout if config else None)

    build = load_build(run_dir, county=county, run_id=run_id, county_config=config, da_challenges=da_challenges)
    determinations = _read_first(run_dir, _CANDIDATES["determinations"])
    check = validation_check(
        run_dir, county=county, run_id=run_id, compute_at=spec.compute_at,
        case_number_pattern=getattr(config, "case_number_pattern", None), determinations=determinations,
    ) if validate else None
    ledger = Ledger(ledger_url, workdir=spec.workdir)
    try:
        result = deliver(
            build, county=county, ledger=ledger, run_id=run_id, target=target, layout=layout,
            workdir=spec.workdir, determinations=determinations, input_fingerprints=spec.input_fingerprints,
            compute_at=spec.compute_at, report_dir=run_dir / "delivery", lock_timeout=lock_timeout,
            withdraw_missing=withdraw_missing, check=check,
        )
    finally:
        ledger.close()
    summary = result.summary()
    plan = result.plan
    summary["headline"] = (
        f"{result.delivery.name}: {plan['new']} new, {plan['correction']} corrections, "
        f"{plan['withdrawal']} withdrawals" if result.delivery
        else f"nothing new to deliver ({plan['unchanged']} counts already delivered)"
    ) + (f"; {sum(result.undeliverable.values())} undeliverable" if result.undeliverable else "")
    summary["outbox_path"] = result.delivery.location if result.delivery else None
    summary["needs_case_number"] = result.undeliverable.get("no_case_number", 0) + result.undeliverable.get(
        "no_count_number", 0)
    return result, summary
