"""What the autoclear tasks do, as plain functions of plain values (paths, dicts, dates).

The DAG factories wrap these in TaskFlow tasks. The pipeline is imported inside each function, so
a DAG file that imports this module stays cheap to parse. Tasks hand each other the run folder's
path, never data: every stage reads its inputs from the run folder and overwrites its own outputs,
so a retried or re-run task is idempotent.

Errors: an AutoclearError (bad input file, bad configuration, a failed validation gate) is a fact
about the data, so the task fails at once without retrying (AirflowFailException); anything else
(a share that went away, a database restart) is left to Airflow's retries.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from autoclear_dags.settings import STAGES, default_workdir

log = logging.getLogger(__name__)

IGNORED_PREFIXES = (".", "~")
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", ".crdownload", "~")


# ---------------------------------------------------------------------------------------------
# Inputs


def drop_folder_files(folder: str | os.PathLike) -> list[Path]:
    """Input files in a drop folder, newest first (hidden files and partial uploads left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir()
             if p.is_file() and not p.name.startswith(IGNORED_PREFIXES) and not p.name.endswith(IGNORED_SUFFIXES)]
    # Newest first; equal times broken by name so the choice is stable.
    return sorted(files, key=lambda p: (-p.stat().st_mtime_ns, p.name))


def select_drop_files(folder: str | os.PathLike, selection: str) -> list[str]:
    """The files a run takes from a drop folder: the newest one, or all of them (sorted by name)."""
    files = drop_folder_files(folder)
    if selection == "all":
        return sorted(str(p) for p in files)
    if selection == "newest":
        return [str(files[0])] if files else []
    raise AirflowFailException(f"drop_selection must be 'newest' or 'all', not {selection!r}")


def resolve_folder(folder: str) -> Path:
    """A drop folder from a county config: absolute, or relative to the deployment's work folder
    (AUTOCLEAR_WORKDIR), the same for the triggerer that watches it and the task that reads it."""
    p = Path(os.path.expandvars(os.path.expanduser(folder)))
    return p if p.is_absolute() else Path(default_workdir()) / p


def resolve_inputs(config: Any, doj: list[str] | None, court: list[str] | None,
                   selection: str = "newest") -> tuple[list[str], list[str]]:
    """Explicit input paths win; otherwise the county's drop folders supply them."""
    found: dict[str, list[str]] = {}
    for kind, given in (("doj", doj), ("court", court)):
        if given:
            found[kind] = [str(Path(p)) for p in given]
            continue
        folder = getattr(config.drop_folders, kind)
        if not folder:
            raise AirflowFailException(
                f"county {config.name}: no {kind} input given and no drop_folders.{kind} in its config "
                f"({config.source_path}); pass `{kind}` in the DAG run's params")
        path = resolve_folder(folder)
        files = select_drop_files(path, selection)
        if not files:
            raise AirflowFailException(f"county {config.name}: no {kind} file in the drop folder {path}")
        found[kind] = files
    return found["doj"], found["court"]


# ---------------------------------------------------------------------------------------------
# Planning and stages


def check_stage_contract() -> None:
    """The DAG's stage list must be the pipeline's; a registered implementation must exist for each."""
    from pipelines import flow  # noqa: PLC0415

    if tuple(flow.STAGES) != STAGES:
        raise AirflowFailException(
            f"the DAG's stages {STAGES} differ from pipelines.flow.STAGES {tuple(flow.STAGES)}: "
            "update dags/autoclear_dags/settings.py")
    missing = [name for name in STAGES if name not in registered_stages()]
    if missing:
        raise AirflowFailException(f"no implementation registered in pipelines.flow for stage(s): {', '.join(missing)}")


def registered_stages() -> set[str]:
    """Names of the stages pipelines.flow has an implementation for."""
    from pipelines import flow  # noqa: PLC0415

    public = getattr(flow, "registered_stages", None)
    if callable(public):
        return set(public())
    # What flow.run_stage does before looking a stage up: importing the glue registers them all.
    import pipelines.stages  # noqa: F401, PLC0415

    return set(getattr(flow, "_STAGE_IMPL", {}))


def build_spec(county: str, params: dict, run_date: date) -> Any:
    """The RunSpec for one county from a DAG run's params (their meaning: county.run_params)."""
    from pipelines.config import load_county  # noqa: PLC0415
    from pipelines.errors import AutoclearError  # noqa: PLC0415
    from pipelines.flow import RunSpec  # noqa: PLC0415

    workdir = params.get("workdir") or default_workdir()
    try:
        config = load_county(county)
    except AutoclearError as exc:
        raise AirflowFailException(error_text(exc)) from None
    doj, court = resolve_inputs(config, params.get("doj"), params.get("court"),
                                params.get("drop_selection") or "newest")
    compute_at = params.get("compute_at") or run_date.isoformat()
    try:
        date.fromisoformat(compute_at)
    except ValueError:
        raise AirflowFailException(f"compute_at {compute_at!r} is not a date (YYYY-MM-DD)") from None
    ledger_url = params.get("ledger_url") or os.environ.get(config.ledger_url_env) or None
    return RunSpec(
        county=county, doj=doj, court=court, compute_at=compute_at, workdir=str(workdir),
        policy=params.get("policy") or None, outbox=params.get("outbox") or None, ledger_url=ledger_url,
        review_decisions=params.get("review_decisions") or None,
    )


def plan(county: str, params: dict, run_date: date) -> str:
    """Create (or reuse) the run folder for this county's inputs; returns its path."""
    from pipelines.errors import AutoclearError  # noqa: PLC0415
    from pipelines.flow import plan_run  # noqa: PLC0415

    spec = build_spec(county, params, run_date)
    check_stage_contract()
    try:
        run_dir = plan_run(spec)
    except AutoclearError as exc:
        raise AirflowFailException(error_text(exc)) from None
    except FileNotFoundError as exc:
        raise AirflowFailException(f"input file not found: {exc.filename}") from None
    log.info("county %s: DOJ %s; court %s; compute-at %s; policy %s", county_label(county),
             [Path(p).name for p in spec.doj], [Path(p).name for p in spec.court], spec.compute_at,
             spec.policy or "(county's)")
    log.info("autoclear run folder: %s", run_dir)
    return str(run_dir)


def error_text(exc: BaseException) -> str:
    """An error's first line: AutoclearError messages name file, line and reason there; the lines after
    it (failed expectations with example values) stay in the run folder, out of logs and summaries."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0] + (" (details in the run folder: validation/, summary/)" if len(lines) > 1 else "")


def headline(summary: dict) -> str:
    """One line from a stage summary: its 'headline', or its short scalar figures."""
    if summary.get("headline"):
        return str(summary["headline"])
    return ", ".join(f"{k}={v}" for k, v in sorted(summary.items())
                     if isinstance(v, int | float | str) and not isinstance(v, bool) and len(str(v)) < 40)


def run_stage(name: str, run_dir: str) -> str:
    """Run one stage on a planned run folder; returns the same path for the next task."""
    from pipelines import flow  # noqa: PLC0415
    from pipelines.errors import AutoclearError  # noqa: PLC0415

    if name not in registered_stages():
        raise AirflowFailException(f"stage {name!r} has no implementation registered in pipelines.flow")
    try:
        summary = flow.run_stage(name, run_dir)
    except AutoclearError as exc:
        # Not retried: the same data would fail the same way. `from None`: a chained traceback
        # would repeat the full message, which may quote values from the data.
        raise AirflowFailException(f"{name}: {error_text(exc)}") from None
    log.info("%s: %s", name, headline(summary))
    return run_dir


# ---------------------------------------------------------------------------------------------
# Statewide


def county_refs(requested: list[str] | None) -> list[str]:
    """The counties a statewide run covers: the ones asked for, or every county config file."""
    if requested:
        return list(requested)
    from autoclear_dags.configs import county_files  # noqa: PLC0415

    return [str(p) for p in county_files()]


def refresh_county(county: str, params: dict, run_date: date, *, may_retry: bool) -> dict:
    """Run one county's whole flow; return a record of how it went instead of raising.

    A transient error (not an AutoclearError) is re-raised while Airflow still has retries left
    (`may_retry`), so a county is only reported failed once retrying cannot help.
    """
    from pipelines import flow  # noqa: PLC0415
    from pipelines.errors import AutoclearError  # noqa: PLC0415

    record: dict[str, Any] = {"county": county_label(county), "config": county, "status": "failed",
                              "failed_stage": "plan", "error": None, "run_dir": None, "stages": {}}
    stage_name = "plan"
    try:
        overrides = (params.get("inputs") or {}).get(county_label(county)) or (params.get("inputs") or {}).get(county) or {}
        run_dir = plan(county, {**params, **overrides}, run_date)
        record["run_dir"] = run_dir
        for stage_name in STAGES:
            record["stages"][stage_name] = headline(flow.run_stage(stage_name, run_dir))
        record.update(status="ok", failed_stage=None)
    except (AutoclearError, AirflowFailException) as exc:
        record.update(failed_stage=stage_name, error=f"{type(exc).__name__}: {error_text(exc)}")
    except Exception as exc:
        if may_retry:
            raise
        record.update(failed_stage=stage_name, error=f"{type(exc).__name__}: {error_text(exc)}")
    if record["error"]:
        log.error("county %s failed at %s: %s", record["county"], record["failed_stage"], record["error"])
    return record


def county_label(county: str) -> str:
    """A county reference (name or YAML path) as its config name."""
    return Path(county).stem if county.endswith((".yaml", ".yml")) else county


def statewide_summary(expected: list[str], records: list[dict | None], compute_at: str, workdir: str) -> dict:
    """Write <workdir>/statewide/<compute_at>/summary.json: one entry per county, sorted; returns it.

    A county whose task died without returning a record (killed worker, out of memory) is
    reported failed too, so every county asked for appears in the summary.
    """
    by_config = {r["config"]: r for r in records if r}
    counties = []
    for ref in expected:
        counties.append(by_config.get(ref) or {
            "county": county_label(ref), "config": ref, "status": "failed", "failed_stage": None,
            "error": "the county's task ended without a result (see its log)", "run_dir": None, "stages": {}})
    counties.sort(key=lambda r: r["county"])
    summary = {
        "compute_at": compute_at,
        "counties_total": len(counties),
        "counties_ok": sum(r["status"] == "ok" for r in counties),
        "counties_failed": sorted(r["county"] for r in counties if r["status"] != "ok"),
        "counties": counties,
    }
    out = Path(workdir) / "statewide" / compute_at
    out.mkdir(parents=True, exist_ok=True, mode=0o770)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    os.chmod(tmp, 0o660)
    os.replace(tmp, out / "summary.json")
    summary["path"] = str(out / "summary.json")
    log.info("statewide: %d of %d counties ok", summary["counties_ok"], len(counties))
    log.info("autoclear statewide summary: %s", summary["path"])
    return summary
