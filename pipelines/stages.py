"""The stage implementations behind pipelines.flow: run-folder I/O around the pure stage functions.

Each stage reads what earlier stages wrote to the run folder, calls the pure functions of its
area, writes its own frames (atomically, overwriting: a retried task is idempotent) and returns
a summary of counts — never personal values, since summaries are logged and shown.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl

from pipelines.flow import RunSpec, stage
from pipelines.runs import RunFolder


def _folder(run_dir: Path) -> RunFolder:
    return RunFolder(run_dir.parent.parent, run_dir.parent.name, run_dir.name)


def _config(spec: RunSpec):
    from pipelines.config import load_county

    return load_county(spec.county)


def _stats_summary(stats: pl.DataFrame) -> dict:
    return {
        "files": stats.height,
        "rows_read": int(stats["rows_read"].sum()),
        "rows_accepted": int(stats["rows_accepted"].sum()),
        "rows_quarantined": int(stats["rows_quarantined"].sum()),
    }


def _doj_columns_kept() -> list[str]:
    """The DOJ columns a run keeps: those the canonical frames are made from and those the doj_input
    checkpoint checks. All 95 would cost about 3x the memory and 10x the Parquet write time."""
    from pipelines import model
    from pipelines.config import read_yaml
    from pipelines.sources.doj import CANONICAL_INPUT_COLUMNS
    from pipelines.validation.suites import expectations_dir

    # The suite's YAML as is: load_suite would import Great Expectations (seconds) to check it,
    # which validate_inputs does anyway.
    suite = read_yaml(expectations_dir() / "doj_input.yaml") or {}
    checked = ((suite.get("frames") or {}).get("rows") or {}).get("columns") or {}
    return [c for c in model.DOJ_COLUMNS if c in CANONICAL_INPUT_COLUMNS or c in checked]


@stage("read_doj")
def read_doj_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.sources.checks import check_doj_read
    from pipelines.sources.doj import doj_counts, doj_persons, read_doj

    folder = _folder(run_dir)
    read = read_doj(spec.doj, mode="quarantine", columns=_doj_columns_kept())
    persons = doj_persons(read.rows)
    counts = doj_counts(read.rows)
    folder.write("doj_quarantine", read.quarantine)
    folder.write("doj_stats", read.stats)
    check_doj_read(read.stats, counts, county=_config(spec).doj_county_name)  # whole-file mistakes stop here
    folder.write("doj_rows", read.rows)
    folder.write("doj_persons", persons)
    folder.write("doj_counts", counts)
    summary = _stats_summary(read.stats)
    summary.update(persons=persons.height, counts=counts.height,
                   convictions=int(counts["is_conviction"].sum()))
    summary["headline"] = (f"{summary['rows_read']:,} rows read, {summary['rows_accepted']:,} accepted, "
                           f"{summary['rows_quarantined']:,} quarantined; {persons.height:,} persons, "
                           f"{summary['convictions']:,} convictions")
    return summary


@stage("read_court")
def read_court_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.sources.checks import check_court_read
    from pipelines.sources.court import court_counts, court_persons, read_court

    folder = _folder(run_dir)
    config = _config(spec)
    if not config.court_layouts:
        raise ValueError(f"county {config.name}: no court layout configured (court_layouts)")
    read = read_court(spec.court, list(config.court_layouts), county=config.doj_county_name,
                      as_of=spec.compute_at_date)
    persons = court_persons(read.rows, county=config.doj_county_name)
    counts = court_counts(read.rows, county=config.doj_county_name)
    folder.write("court_quarantine", read.quarantine)
    folder.write("court_stats", read.stats)
    check_court_read(read.stats, counts, folder.read("doj_counts") if folder.has("doj_counts") else None,
                     county=config.doj_county_name)  # whole-file mistakes stop here
    folder.write("court_rows", read.rows)
    folder.write("court_persons", persons)
    folder.write("court_counts", counts)
    summary = _stats_summary(read.stats)
    summary.update(persons=persons.height, counts=counts.height,
                   convictions=int(counts["is_conviction"].sum()))
    summary["headline"] = (f"{summary['rows_read']:,} rows read, {summary['rows_accepted']:,} accepted, "
                           f"{summary['rows_quarantined']:,} quarantined; {counts.height:,} counts")
    return summary


def _validate(run_dir: Path, spec: RunSpec, checkpoint: str, frames: dict, **context) -> dict:
    """Run one GX checkpoint and gate on it: a critical failure raises ValidationFailed."""
    from pipelines.validation import gate, run_checkpoint

    config = _config(spec)
    ctx = {"compute_at": spec.compute_at, "county": config.doj_county_name, "run_id": spec.run_id, **context}
    result = run_checkpoint(checkpoint, frames, context=ctx, out_dir=run_dir / "validation")
    gate(result)
    return {
        "checkpoint": checkpoint,
        "success": result.success,
        "warnings": len(result.warnings) if hasattr(result, "warnings") else None,
        # The overview page works offline; GX's own index loads scripts from a CDN.
        "data_docs": str(result.overview or result.data_docs or "") or None,
        "gx_data_docs": str(result.data_docs) if result.data_docs else None,
    }


@stage("validate_inputs")
def validate_inputs_stage(run_dir: Path, spec: RunSpec) -> dict:
    folder = _folder(run_dir)
    # Lazy frames: each table reads only the columns it checks (pipelines.validation.tables.safe).
    doj = _validate(run_dir, spec, "doj_input", {
        "rows": folder.scan("doj_rows"), "counts": folder.scan("doj_counts"), "persons": folder.scan("doj_persons"),
        "stats": folder.read("doj_stats"), "quarantine": folder.read("doj_quarantine"),
    })
    court = _validate(run_dir, spec, "court_input", {
        "rows": folder.scan("court_rows"), "counts": folder.scan("court_counts"),
        "persons": folder.scan("court_persons"), "stats": folder.read("court_stats"),
        "quarantine": folder.read("court_quarantine"),
    })
    return {"doj_input": doj, "court_input": court, "data_docs": court["data_docs"] or doj["data_docs"],
            "headline": "DOJ and court inputs passed every critical expectation"}


@stage("link")
def link_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.linkage import (
        LinkageSettings,
        dedupe_counts,
        link_sources,
        merged_count_rows,
        review_queue_for,
        save_model_artifacts,
        write_review_queue,
    )

    folder = _folder(run_dir)
    doj_persons, court_persons = folder.read("doj_persons"), folder.read("court_persons")
    doj_counts = folder.read("doj_counts")
    # Overlapping extracts from successive refreshes repeat court counts: keep one of each.
    court_counts = dedupe_counts(folder.read("court_counts"))
    # DuckDB's own default is 80% of RAM: capped so a county's flow stays within its memory budget,
    # spilling (inside the confidential run folder, removed afterwards) instead of growing.
    spill = folder.sub("linkage") / "spill"
    limit = os.environ.get("AUTOCLEAR_LINK_MEMORY_LIMIT", "4GB")  # "none": DuckDB's default
    settings = (LinkageSettings() if limit.lower() == "none"
                else LinkageSettings(memory_limit=limit, temp_directory=str(spill)))
    try:
        outcome = link_sources(doj_persons, doj_counts, court_persons, court_counts, settings,
                               review_decisions=spec.review_decisions)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    # Built after the decisions are applied, so pairs a person already decided do not come back.
    queue = review_queue_for(outcome)
    review_path = write_review_queue(queue, folder.sub("review") / "review_queue_CONFIDENTIAL.csv")
    artifacts = save_model_artifacts(outcome.links, folder.sub("linkage"))
    matches, unified = outcome.links.matches, outcome.unified
    folder.write("court_counts_deduped", court_counts)
    folder.write("doj_clusters", outcome.doj_clusters)
    folder.write("court_clusters", outcome.court_clusters)
    folder.write("person_matches", matches)
    folder.write("person_links", unified)
    linked = int(matches["is_match"].sum())
    people = unified["person_key"].n_unique()
    return {
        **outcome.summary(),
        "court_count_copies_merged": merged_count_rows(court_counts),
        "linked_pairs": linked, "review_queue": queue.height, "review_queue_path": str(review_path),
        "review_decisions_applied": outcome.decisions_applied,
        "linkage_artifacts": {k: str(v) for k, v in artifacts.items()},
        "headline": f"{linked:,} DOJ-court person links, {queue.height:,} pairs for review, {people:,} people",
    }


@stage("reconcile")
def reconcile_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.reconcile import ReconcileInputs, reconcile, unified_history, unified_people

    folder = _folder(run_dir)
    config = _config(spec)
    doj_counts, court_counts = folder.read("doj_counts"), folder.read("court_counts_deduped")
    unified, matches = folder.read("person_links"), folder.read("person_matches")
    prepared = ReconcileInputs(doj_counts, court_counts, unified)
    reconciled = reconcile(doj_counts, court_counts, unified, person_matches=matches,
                           court_counties=[config.doj_county_name], prepared=prepared)
    history = unified_history(doj_counts, court_counts, reconciled, unified, prepared=prepared)
    del prepared
    people = unified_people(folder.read("doj_persons"), folder.read("court_persons"), unified)
    folder.write("reconciled", reconciled)
    folder.write("counts", history)
    folder.write("persons", people)
    by_class = dict(reconciled.group_by("classification").len().iter_rows())
    summary = {c: int(by_class.get(c, 0)) for c in ("matched", "court_only", "doj_only")}
    summary["headline"] = (f"{summary['matched']:,} matched, {summary['court_only']:,} court-only (DOJ missed), "
                           f"{summary['doj_only']:,} DOJ-only cannabis counts")
    return summary


@stage("eligibility")
def eligibility_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.eligibility import load_policy
    from pipelines.eligibility.engine import apply_policy
    from pipelines.eligibility.facts import ENGINE, conviction_facts_lazy
    from pipelines.reconcile import caution_court_only

    folder = _folder(run_dir)
    config = _config(spec)
    policy = load_policy(spec.policy or config.policy,
                         parameters=config.policy_parameters if not spec.policy else None)
    history, people = folder.read("counts"), folder.read("persons")
    # The facts are kept: the report stage's figures and what-if read them instead of recomputing.
    facts = conviction_facts_lazy(history, people, county=config.doj_county_name,
                                  compute_at=spec.compute_at_date).collect(engine=ENGINE)
    determinations = apply_policy(facts, policy, compute_at=spec.compute_at_date).collect(engine=ENGINE)
    determinations = caution_court_only(determinations, history)
    folder.write("facts", facts)
    folder.write("determinations", determinations)
    court_only = determinations.filter(pl.col("is_court_only").fill_null(False))
    eligible = pl.col("determination").is_in(["Eligible for Dismissal", "Eligible for Reduction"])
    by_outcome = dict(determinations.group_by("determination").len().sort("determination").iter_rows())
    summary = {
        "policy": policy.name, "policy_version": policy.version, "convictions": determinations.height,
        "by_determination": by_outcome, "court_only": court_only.height,
        "court_only_eligible": court_only.filter(eligible).height,
        "court_only_eligible_by_policy": court_only.filter(
            pl.col("policy_determination").is_in(["Eligible for Dismissal", "Eligible for Reduction"])
        ).height if "policy_determination" in court_only.columns else None,
    }
    summary["headline"] = (f"{determinations.height:,} cannabis convictions decided under {policy.name}; "
                           f"{court_only.height:,} court-only, {summary['court_only_eligible']:,} of them eligible")
    return summary


@stage("validate_outputs")
def validate_outputs_stage(run_dir: Path, spec: RunSpec) -> dict:
    folder = _folder(run_dir)
    # Lazy frames: each table reads only the columns it checks (pipelines.validation.tables.safe).
    reconciled = _validate(run_dir, spec, "reconciled", {
        "reconciled": folder.scan("reconciled"), "court_counts": folder.scan("court_counts_deduped"),
        "doj_counts": folder.scan("doj_counts"),
    })
    determinations = _validate(run_dir, spec, "determinations", {
        "determinations": folder.scan("determinations"), "counts": folder.scan("counts"),
    })
    return {"reconciled": reconciled, "determinations": determinations,
            "data_docs": determinations["data_docs"],
            "headline": "reconciliation and determinations passed every critical expectation"}


@stage("deliver")
def deliver_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.delivery.run import deliver_run_dir

    _, summary = deliver_run_dir(run_dir, ledger_url=spec.ledger_url, target=spec.outbox)
    return summary


@stage("report")
def report_stage(run_dir: Path, spec: RunSpec) -> dict:
    from pipelines.reports.write import write_reports

    written = write_reports(run_dir, workdir=Path(spec.workdir))
    written.setdefault("headline", f"impact report and dashboard written under {Path(spec.workdir)}")
    return written
