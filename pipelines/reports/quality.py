"""Data-quality figures of one run, read from its run folder (no personal data, raw counts).

What the dashboard shows per run: rows read / accepted / quarantined by file and reason, the
validation checkpoints, linkage and match rates, the review queue, reconciliation, determinations
by outcome, and what changed since the previous refresh. Deliveries and the court's answers are
read from the ledger when the dashboard is built (they change after the run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.model import CLASSIFICATIONS, DETERMINATIONS
from pipelines.reports.rundir import RunInfo

FORMAT = "autoclear.quality/1"
CHECKPOINTS = ("doj_input", "court_input", "reconciled", "determinations", "delivery")
LINKAGE_CHARTS = ("match_weights", "m_u_parameters", "waterfall")
STAGE_ORDER = ("read_doj", "read_court", "validate_inputs", "link", "reconcile", "eligibility",
               "validate_outputs", "deliver", "report")


def _tally(frame: pl.DataFrame, key: str, order: tuple[str, ...] = ()) -> dict[str, int]:
    found = {k: int(n) for k, n in frame.group_by(key).len().iter_rows() if k is not None}
    keys = [*[k for k in order], *sorted(k for k in found if k not in order)]
    return {k: found.get(k, 0) for k in keys}


def input_files(info: RunInfo) -> dict[str, Any]:
    """Rows read, accepted and quarantined per input file, and the quarantine by reason."""
    files: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for source in ("doj", "court"):
        if info.has(f"{source}_stats"):
            for row in info.read(f"{source}_stats").sort("source_file").iter_rows(named=True):
                files.append({
                    "source": source, "file": row["source_file"], "layout": row.get("layout"),
                    "rows_read": int(row["rows_read"]), "rows_accepted": int(row["rows_accepted"]),
                    "rows_quarantined": int(row["rows_quarantined"]), "blank_lines": row.get("blank_lines"),
                    "encoding": row.get("encoding"),
                    "rows_add_up": int(row["rows_read"]) == int(row["rows_accepted"]) + int(row["rows_quarantined"]),
                })
        if info.has(f"{source}_quarantine"):
            q = info.scan(f"{source}_quarantine").group_by("source_file", "reason").len().sort("source_file", "reason")
            quarantine += [{"source": source, "file": f, "reason": r, "rows": int(n)} for f, r, n in q.collect().iter_rows()]
    by_reason: dict[str, int] = {}
    for q in quarantine:
        by_reason[q["reason"]] = by_reason.get(q["reason"], 0) + q["rows"]
    return {
        "files": files,
        "quarantine": quarantine,
        "quarantine_by_reason": dict(sorted(by_reason.items())),
        "rows_read": sum(f["rows_read"] for f in files),
        "rows_accepted": sum(f["rows_accepted"] for f in files),
        "rows_quarantined": sum(f["rows_quarantined"] for f in files),
    }


def validation(info: RunInfo) -> dict[str, Any]:
    """Each checkpoint's result (validation/<checkpoint>.json): status, counts, failures, Data Docs.

    Failing expectations are listed by id, table, severity and count; the row ids and values GX
    reported are left to the Data Docs (row ids carry DOJ subject ids).
    """
    out: dict[str, Any] = {}
    folder = info.run_dir / "validation"
    names = [c for c in CHECKPOINTS if (folder / f"{c}.json").is_file()]
    names += sorted(p.stem for p in folder.glob("*.json") if p.stem not in CHECKPOINTS) if folder.is_dir() else []
    for name in names:
        try:
            data = json.loads((folder / f"{name}.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("format", "").split("/")[0] != "autoclear.validation":
            continue
        failed = [
            {"id": r["id"], "table": r.get("table"), "severity": r.get("severity"), "why": r.get("why"),
             "type": r.get("type"), "unexpected_count": r.get("unexpected_count"), "rows": r.get("rows"),
             "error": bool(r.get("error"))}
            for r in data.get("results", []) if not r.get("success")
        ]
        out[name] = {
            "success": bool(data.get("success")),
            "blocked": bool(data.get("blocked")),
            "expectations": data.get("expectations", {}),
            "failed": failed,
            "data_docs": _under(folder, data.get("data_docs")),
            "table_rows": {t: v.get("rows") for t, v in sorted(data.get("tables", {}).items())},
        }
    return out


def table_pages(info: RunInfo, checkpoint: str, tables: Iterable[str]) -> dict[str, str]:
    """The GX page of each validated table (static HTML, readable offline), relative to the run folder.

    The newest page under validation/data_docs/validations/<checkpoint>/<table>/ (its path carries
    GX's run time, so it is looked up when a page is built, never stored in the figures).
    """
    pages: dict[str, str] = {}
    for table in sorted(tables):
        found = sorted((info.run_dir / "validation" / "data_docs" / "validations" / checkpoint / table).glob("*/*/*.html"))
        if found:
            pages[table] = str(found[-1].relative_to(info.run_dir))
    return pages


def _under(folder: Path, relative: str | None) -> str | None:
    """A Data Docs path relative to the run folder (None when GX did not build it)."""
    if not relative:
        return None
    path = folder / relative
    return str(path.relative_to(folder.parent)) if path.is_file() else None


def linkage(info: RunInfo) -> dict[str, Any]:
    """Links between DOJ and court person records, match rates, the review queue, the model files."""
    folder = info.run_dir / "linkage"
    summary = json.loads((folder / "linkage_summary.json").read_text()) if (folder / "linkage_summary.json").is_file() else {}
    out: dict[str, Any] = {"model": {k: v for k, v in sorted(summary.items()) if isinstance(v, int | float)}}
    if info.has("person_matches"):
        matches = info.read("person_matches")
        out["links_by_pass"] = _tally(matches.filter(pl.col("is_match")), "pass", ("deterministic", "probabilistic"))
        out["pairs_scored"] = matches.height
    if info.has("person_links"):
        links = info.read("person_links")
        doj = links.filter(pl.col("source") == "doj")
        court = links.filter(pl.col("source") == "court")
        out["people"] = {
            "doj_person_records": doj.height,
            "doj_found_in_court": int(doj["in_court"].fill_null(False).sum()),
            "court_person_records": court.height,
            "court_known_to_doj": int(court["known_to_doj"].fill_null(False).sum()),
            "unified_people": links["person_key"].n_unique(),
        }
    out["review_queue"] = review_queue_size(info)
    out["artifacts"] = {
        name: f"linkage/{name}.html" for name in LINKAGE_CHARTS if (folder / f"{name}.html").is_file()
    }
    out["chart_specs"] = [name for name in LINKAGE_CHARTS if (folder / f"{name}.vl.json").is_file()]
    return out


def review_queue_size(info: RunInfo) -> int | None:
    """Pairs waiting for a person's decision (None when the link stage has not run)."""
    link = info.summary("link")
    if "review_queue" in link:
        return int(link["review_queue"])
    files = sorted((info.run_dir / "review").glob("*CONFIDENTIAL*.csv")) if (info.run_dir / "review").is_dir() else []
    if not files:
        return None
    return pl.read_csv(files[0], skip_rows=1, infer_schema=False).height


def review_queue_file(info: RunInfo) -> Path | None:
    folder = info.run_dir / "review"
    files = sorted(folder.glob("*CONFIDENTIAL*.csv")) if folder.is_dir() else []
    return files[0] if files else None


def reconciliation(info: RunInfo) -> dict[str, Any]:
    if not info.has("reconciled"):
        return {}
    rec = info.read("reconciled")
    reasons = rec.filter(pl.col("classification") != "matched").with_columns(
        pl.concat_str([pl.col("classification").replace({"court_only": "court only", "doj_only": "DOJ only"}),
                       pl.lit(": "), pl.col("reason").fill_null("no reason given")]).alias("_why")
    )
    return {
        "cannabis_counts": rec.height,
        "by_classification": _tally(rec, "classification", CLASSIFICATIONS),
        "by_reason": _tally(reasons, "_why"),
        "by_cannabis_basis": _tally(rec, "cannabis_basis") if "cannabis_basis" in rec.columns else {},
    }


def determinations(info: RunInfo) -> dict[str, Any]:
    if not info.has("determinations"):
        return {}
    d = info.read("determinations")
    basis = "history_basis" if "history_basis" in d.columns else None
    by_basis: dict[str, dict[str, int]] = {}
    if basis:
        for b in sorted(x for x in d[basis].unique().to_list() if x is not None):
            by_basis[b] = _tally(d.filter(pl.col(basis) == b), "determination", DETERMINATIONS)
    policy = d.select(pl.col("policy").first(), pl.col("policy_version").first()).row(0) if d.height else (None, None)
    return {
        "convictions": d.height,
        "by_determination": _tally(d, "determination", DETERMINATIONS),
        "by_history_basis": by_basis,
        "policy": policy[0], "policy_version": policy[1],
    }


def determination_changes(previous: pl.DataFrame | None, current: pl.DataFrame) -> dict[str, Any]:
    """Convictions new, gone and with a changed determination since the previous refresh."""
    if previous is None:
        return {}
    prev = previous.select("count_id", pl.col("determination").alias("before")).unique("count_id", keep="first")
    cur = current.select("count_id", pl.col("determination").alias("after")).unique("count_id", keep="first")
    both = prev.join(cur, on="count_id", how="full", coalesce=True)
    changed = both.filter(pl.col("before").is_not_null() & pl.col("after").is_not_null()
                          & (pl.col("before") != pl.col("after")))
    moves = changed.group_by("before", "after").len().sort("before", "after")
    return {
        "new_convictions": both.filter(pl.col("before").is_null()).height,
        "convictions_no_longer_present": both.filter(pl.col("after").is_null()).height,
        "determination_changed": changed.height,
        "unchanged": both.filter(pl.col("before") == pl.col("after")).height,
        "by_change": {f"{b} -> {a}": int(n) for b, a, n in moves.iter_rows()},
    }


def run_quality(info: RunInfo, *, previous: RunInfo | None = None) -> dict[str, Any]:
    """Every data-quality figure of a run (raw: suppress before publishing)."""
    stages = [s for s in STAGE_ORDER if (info.run_dir / "summary" / f"{s}.json").is_file()]
    dets = determinations(info)
    changes: dict[str, Any] = {}
    if previous is not None and previous.has("determinations") and info.has("determinations"):
        changes = {"previous_run": previous.run_id,
                   **determination_changes(previous.read("determinations"), info.read("determinations"))}
    return {
        "format": FORMAT,
        "run": {
            "county": info.county, "county_slug": info.county_slug, "display_name": info.display_name,
            "run_id": info.run_id, "compute_at": info.compute_at.isoformat(),
            "policy": dets.get("policy") or info.policy_name, "policy_version": dets.get("policy_version"),
            "inputs": {name: fingerprint[:12] for name, fingerprint in sorted(info.spec.get("input_fingerprints", {}).items())},
            "stages_done": stages,
        },
        "inputs": input_files(info),
        "validation": validation(info),
        "linkage": linkage(info),
        "reconciliation": reconciliation(info),
        "determinations": dets,
        "changes_from_previous": changes,
    }


def published_quality(quality: dict[str, Any]) -> dict[str, Any]:
    """The figures as the dashboard publishes them: people and conviction figures suppressed,
    operational figures (files, rows, expectations, linkage pairs, review queue) as they are."""
    from pipelines.reports.suppression import suppress  # noqa: PLC0415

    out = dict(quality)
    for key in ("reconciliation", "determinations", "changes_from_previous"):
        out[key] = suppress(quality.get(key, {}), keep={"policy", "policy_version", "previous_run"})
    linkage_figures = dict(quality.get("linkage", {}))
    if "people" in linkage_figures:
        linkage_figures["people"] = suppress(linkage_figures["people"])
    out["linkage"] = linkage_figures
    return out
