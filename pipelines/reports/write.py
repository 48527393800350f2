"""The report stage: everything a finished run folder reports, written in one call.

    summary = write_reports(run_dir, workdir=workdir)      # the flow's "report" stage
    summary = write_statewide_report(workdir)               # after every county (statewide DAG)

Files written (no personal data, except the confidential review page):

    <run_dir>/report/impact.json|.html|.pdf    impact report (published figures)
    <run_dir>/report/what_if.json              impact under each shipped policy (published)
    <run_dir>/report/quality.json              data-quality figures (published)
    <run_dir>/report/impact_figures_raw.json   unsuppressed figures, for the statewide sum; stays
                                               in the (confidential) run folder
    <workdir>/statewide/impact.*               statewide report
    <workdir>/dashboard/...                    the dashboard (pipelines.reports.dashboard)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipelines.errors import AutoclearError
from pipelines.reports import dashboard as dash
from pipelines.reports.impact import county_facts, impact_figures, total_figures
from pipelines.reports.impact_report import FILES, render_html, write_atomic, write_impact_report
from pipelines.reports.quality import published_quality, run_quality
from pipelines.reports.rundir import RunInfo, county_runs, load_run, previous_run
from pipelines.reports.suppression import SUPPRESSED, THRESHOLD, cell, suppress
from pipelines.reports.whatif import what_if

RAW_FIGURES = "impact_figures_raw.json"
STATEWIDE = "statewide"


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def published_report(meta: dict[str, Any], raw: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The impact report as published: metadata, the suppression rule, suppressed figures."""
    return {"meta": meta, "suppression": {"threshold": THRESHOLD, "shown_as": SUPPRESSED,
                                          "secondary": "one more cell per breakdown column when one is hidden"},
            "figures": suppress(raw), **extra}


def _run_meta(info: RunInfo, raw: dict[str, Any], policy: Any) -> dict[str, Any]:
    return {
        "format": "autoclear.impact_report/1", "scope": "county",
        "title": f"Impact report: {info.display_name}", "county": info.county, "county_slug": info.county_slug,
        "display_name": info.display_name, "run_id": info.run_id, "compute_at": info.compute_at.isoformat(),
        "policy": policy.name, "policy_version": policy.version,
        "policy_parameters": {k: str(v) for k, v in sorted(policy.parameters.items())},
    }


def _history(info: RunInfo):
    missing = [n for n in ("counts", "persons", "determinations") if not info.has(n)]
    if missing:
        raise AutoclearError(f"{info.run_dir}: nothing to report yet (missing {', '.join(n + '.parquet' for n in missing)}); "
                             "run the flow up to the eligibility stage first")
    # Lazy: the facts read only the columns they need from a history of millions of counts.
    return info.scan("counts"), info.scan("persons"), info.read("determinations")


def _facts(info: RunInfo, counts, persons):
    """The eligibility stage's facts when it kept them (same history, county and compute-at), else computed."""
    if info.has("facts"):
        return info.read("facts")
    return county_facts(counts, persons, county=info.county, compute_at=info.compute_at)


def _doj_rows(info: RunInfo) -> int:
    return int(info.read("doj_stats")["rows_read"].sum()) if info.has("doj_stats") else 0


def _site_copy(site_dir: Path, report: dict[str, Any], files: dict[str, Path], nav: list[tuple[str, str]]) -> None:
    """The report inside the dashboard (with the dashboard's navigation); PDF and JSON linked."""
    write_atomic(site_dir / FILES["html"], render_html(report, nav=nav))
    for kind in ("json", "pdf"):
        dash.mirror_file(files[kind], site_dir / FILES[kind])


def run_what_if(run_dir: str | os.PathLike, *, policies: list[str] | None = None) -> dict[str, Any]:
    """The run's published what-if figures (every shipped policy, or `policies`), without writing."""
    info = load_run(run_dir)
    counts, persons, dets = _history(info)
    facts = _facts(info, counts, persons)
    result = what_if(counts, persons, county=info.county, compute_at=info.compute_at, current=info.policy(),
                     current_determinations=dets, policies=policies, facts=facts, doj_rows=_doj_rows(info))
    return suppress(result)


def write_reports(run_dir: str | os.PathLike, *, workdir: str | os.PathLike | None = None,
                  with_what_if: bool = True, with_dashboard: bool = True) -> dict[str, Any]:
    """Write a finished run's impact report, what-if and data-quality figures, and rebuild the dashboard.

    `workdir` holds the county's other runs (for changes since the previous refresh) and the
    dashboard; it defaults to the folder two levels above the run folder. Returns paths and headline figures (published,
    so small cells are "<11"); never personal data.
    """
    info = load_run(run_dir)
    # A run folder is <workdir>/<county>/<run id>; spec.json's workdir may be relative to another cwd.
    workdir = Path(workdir) if workdir is not None else info.run_dir.parent.parent
    counts, persons, dets = _history(info)
    policy = info.policy()
    doj_rows = _doj_rows(info)
    facts = _facts(info, counts, persons)
    raw = impact_figures(counts, persons, dets, county=info.county, compute_at=info.compute_at, policy=policy,
                         facts=facts, doj_rows=doj_rows)
    out = info.report_dir
    write_atomic(out / RAW_FIGURES, _dump({"meta": _run_meta(info, raw, policy), "figures": raw}))
    report = published_report(_run_meta(info, raw, policy), raw)
    files = write_impact_report(report, out)
    written: dict[str, Any] = {"report_html": str(files["html"]), "report_pdf": str(files["pdf"]),
                               "report_json": str(files["json"])}

    if with_what_if:
        result = what_if(counts, persons, county=info.county, compute_at=info.compute_at, current=policy,
                         current_determinations=dets, facts=facts, doj_rows=doj_rows)
        written["what_if_json"] = str(write_atomic(out / dash.WHAT_IF_FILE, _dump(suppress(result))))

    runs = county_runs(workdir).get(info.county_slug, [])
    quality = published_quality(run_quality(info, previous=previous_run(info, runs)))
    written["quality_json"] = str(write_atomic(out / dash.QUALITY_FILE, _dump(quality)))

    if with_dashboard:
        site_run = dash.dashboard_dir(workdir) / info.county_slug / info.run_id
        _site_copy(site_run, report, files, dash.run_nav(info.county_slug, info.run_id))
        index = dash.build_dashboard(workdir, ledger_url=info.spec.get("ledger_url"), counties=[info.county_slug])
        written["dashboard"] = str(index)
        written["dashboard_run_page"] = str(site_run / "index.html")

    published = report["figures"]
    people, conv, court = published["people"], published["convictions"], published["court_only"]
    headline = (f"{_show(people['with_some_relief'])} people with some relief; "
                f"{_show(conv['by_determination'].get('Eligible for Dismissal'))} convictions eligible for dismissal, "
                f"{_show(conv['by_determination'].get('Eligible for Reduction'))} for reduction")
    if court.get("available"):
        headline += f"; {_show(court['eligible'])} eligible convictions DOJ missed"
    return {
        **written,
        "report_dir": str(out),
        "people_with_some_relief": people["with_some_relief"],
        "convictions_decided": conv["decided"],
        "by_determination": conv["by_determination"],
        "court_only_eligible": court.get("eligible"),
        "headline": headline,
    }


def _show(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_statewide_report(workdir: str | os.PathLike) -> dict[str, Any]:
    """Add up the counties' latest reported runs under `workdir` into the statewide report; rebuild
    the dashboard. A county whose runs have no report yet is listed as not reported.

    People are counted per county: someone with convictions in two counties counts in both.
    """
    workdir = Path(workdir)
    runs = county_runs(workdir)
    trees, counties, missing = [], [], []
    for slug, county_run_list in runs.items():
        reported = [r for r in county_run_list if (r.report_dir / RAW_FIGURES).is_file()]
        if not reported:
            missing.append(slug)
            continue
        data = json.loads((reported[-1].report_dir / RAW_FIGURES).read_text())
        raw, meta = data["figures"], data["meta"]
        trees.append(raw)
        counties.append({
            "county": meta["county"], "county_slug": slug, "display_name": meta["display_name"],
            "run_id": meta["run_id"], "compute_at": meta["compute_at"], "policy": meta["policy"],
            "people_helped": cell(raw["people"]["with_some_relief"]),
            "dismissals": cell(raw["convictions"]["by_determination"].get("Eligible for Dismissal", 0)),
            "court_only_eligible": cell(raw["court_only"]["eligible"]),
        })
    if not trees:
        raise AutoclearError(f"{workdir}: no county has a report yet; run the flow (its report stage) for a county first")
    total = total_figures(trees)
    total["incumbent_summary"]["county"] = "STATEWIDE"
    dates = sorted({c["compute_at"] for c in counties})
    meta = {
        "format": "autoclear.impact_report/1", "scope": "statewide", "title": "Statewide impact report",
        "compute_at": dates[-1], "compute_at_dates": dates, "county_count": len(counties),
        "counties_not_reported": missing,
    }
    report = published_report(meta, total, counties=counties)
    out = workdir / STATEWIDE
    files = write_impact_report(report, out)
    site = dash.dashboard_dir(workdir)
    _site_copy(site / STATEWIDE, report, files, [("All counties", "../index.html")])
    index = dash.build_dashboard(workdir)
    figures = report["figures"]
    return {
        "report_html": str(files["html"]), "report_pdf": str(files["pdf"]), "report_json": str(files["json"]),
        "dashboard": str(index), "counties": len(counties), "counties_not_reported": missing,
        "people_with_some_relief": figures["people"]["with_some_relief"],
        "headline": (f"{len(counties)} counties: {_show(figures['people']['with_some_relief'])} people with some "
                     f"relief, {_show(figures['court_only']['eligible'])} eligible convictions DOJ missed"),
    }
