"""The data-quality dashboard: a static site in ``<workdir>/dashboard/``, opened from the file system
(no server, no network) or served on localhost by `autoclear serve`.

    dashboard/index.html                       every county: latest run, statewide report
    dashboard/<county>/index.html              across runs: rows, quarantine, match rates, outcomes, deliveries
    dashboard/<county>/<run>/index.html        one run: inputs, validation, linkage, outcomes, changes, deliveries
    dashboard/<county>/<run>/impact.html|.pdf|.json, what_if.html    (written by write_reports)
    dashboard/<county>/<run>/review_CONFIDENTIAL.html                (the only page with personal data)
    dashboard/<county>/<run>/data_docs/, linkage/                    GX Data Docs and Splink charts (linked)
    dashboard/statewide/impact.html|.pdf|.json
    dashboard/assets/vega-embed-bundle-*.js    Vega + Vega-Lite + vega-embed, shipped locally

Charts are Altair specs drawn in the browser by the local vega-embed bundle. Pages are rebuilt
whole under a lock, so runs of several counties finishing together leave a complete site.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.model import DETERMINATIONS
from pipelines.reports import charts
from pipelines.reports.html import (
    cards,
    dict_table,
    embedded_chart,
    esc,
    fmt,
    page,
    pct,
    status,
    suppression_note,
    table,
)
from pipelines.reports.impact_report import write_atomic
from pipelines.reports.quality import published_quality, review_queue_file, run_quality, table_pages
from pipelines.reports.rundir import RunInfo, county_runs, previous_run
from pipelines.reports.suppression import SUPPRESSED, THRESHOLD, is_suppressed, rate
from pipelines.reports.whatif import compared_rows

DASHBOARD = "dashboard"
QUALITY_FILE = "quality.json"
WHAT_IF_FILE = "what_if.json"
REVIEW_PAGE = "review_CONFIDENTIAL.html"
REVIEW_ROWS_SHOWN = 2000
GOOD, BAD, WARNING, WAITING = "#3a9a5b", "#b23a48", "#c9a227", "#9aa5b1"


def dashboard_dir(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / DASHBOARD


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o770)
    with open(folder / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_assets(site: Path) -> str:
    """The local Vega bundle (written once per Vega-Lite version); returns its file name."""
    name = charts.bundle_name()
    path = site / "assets" / name
    if not path.is_file():
        write_atomic(path, charts.javascript_bundle())
    return name


def mirror_file(file: Path, target: Path) -> None:
    """Make `target` the same file as `file` (a hard link where possible, else a copy)."""
    if target.exists():
        with contextlib.suppress(OSError):
            if os.path.samefile(file, target):
                return
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        os.link(file, tmp)
    except OSError:
        shutil.copyfile(file, tmp)
    os.replace(tmp, target)


def mirror(src: Path, dst: Path) -> None:
    """Make `dst` hold the files of `src` (so links work when only the dashboard folder is served)."""
    if src.is_dir():
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            mirror_file(file, dst / file.relative_to(src))


def _script(bundle: str, depth: int) -> str:
    return f'<script src="{"../" * depth}assets/{esc(bundle)}"></script>\n'


def _nav(depth: int, county: str | None = None, run: str | None = None) -> list[tuple[str, str]]:
    up = "../" * depth
    items = [("All counties", f"{up}index.html")]
    if county:
        items.append(("County history", f"{up}{county}/index.html"))
    if county and run:
        base = f"{up}{county}/{run}/"
        items += [("Run data quality", f"{base}index.html"), ("Impact report", f"{base}impact.html"),
                  ("Policy what-if", f"{base}what_if.html")]
    return items


def run_nav(county: str, run: str) -> list[tuple[str, str]]:
    """Navigation of a run's pages (they sit in dashboard/<county>/<run>/)."""
    return _nav(2, county, run)


# ---------------------------------------------------------------------------------------------
# Reading what the pages show.
def load_quality(info: RunInfo, runs: list[RunInfo]) -> dict[str, Any]:
    """The run's published data-quality figures: report/quality.json, or computed now."""
    path = info.report_dir / QUALITY_FILE
    if path.is_file():
        with contextlib.suppress(json.JSONDecodeError, OSError):
            return json.loads(path.read_text())
    return published_quality(run_quality(info, previous=previous_run(info, runs)))


def _ledger_url(workdir: Path, runs: dict[str, list[RunInfo]], url: str | None) -> str:
    from pipelines.ledger.store import resolve_ledger_url  # noqa: PLC0415

    if url is None:
        url = next((r.spec.get("ledger_url") for rs in runs.values() for r in rs if r.spec.get("ledger_url")), None)
    return resolve_ledger_url(url, workdir=workdir)


def deliveries(workdir: Path, runs: dict[str, list[RunInfo]], *, ledger_url: str | None = None
               ) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Every county's deliveries and the court's answers, from the ledger; (by county, problem or None).

    A SQLite ledger that does not exist yet means nothing was delivered (it is not created here).
    """
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from pipelines.errors import AutoclearError  # noqa: PLC0415
    from pipelines.ledger.store import Ledger, safe_url  # noqa: PLC0415

    url = _ledger_url(workdir, runs, ledger_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        return {}, None
    counties = sorted({r.county for rs in runs.values() for r in rs})
    try:
        ledger = Ledger(url)
    except AutoclearError as exc:
        return {}, f"ledger {safe_url(url)} could not be read: {str(exc).splitlines()[0]}"
    except Exception as exc:  # noqa: BLE001 - a driver error (server down); its text may hold the URL
        return {}, f"ledger {safe_url(url)} could not be opened ({type(exc).__name__})"
    try:
        return {c: ledger.history(c) for c in counties}, None
    except Exception as exc:  # noqa: BLE001 - the dashboard says so instead of failing the run
        return {}, f"ledger {safe_url(url)} could not be read ({type(exc).__name__})"
    finally:
        ledger.close()


# ---------------------------------------------------------------------------------------------
# Pages.
def _value(v: Any) -> int | float | None:
    return None if is_suppressed(v) or isinstance(v, bool) or not isinstance(v, int | float) else v


def _change(before: Any, after: Any, *, people: bool) -> Any:
    """The change between two published figures; a change of 1-10 people is shown as "<11" too."""
    b, a = _value(before), _value(after)
    if b is None or a is None:
        return None
    if people and 0 < abs(a - b) < THRESHOLD:
        return f"\u00b1{SUPPRESSED}"
    return f"{a - b:+,}"


def _run_label(i: int, info: RunInfo) -> str:
    return f"#{i + 1} {info.run_id[:6]}"


def _delta_rows(prev: dict[str, Any], cur: dict[str, Any]) -> list[list[Any]]:
    def pick(q: dict[str, Any]) -> dict[str, Any]:
        dets = q.get("determinations", {})
        rec = q.get("reconciliation", {}).get("by_classification", {})
        people = q.get("linkage", {}).get("people", {})
        out = {
            "Rows read": q["inputs"]["rows_read"], "Rows quarantined": q["inputs"]["rows_quarantined"],
            "DOJ person records": people.get("doj_person_records"),
            "Court person records": people.get("court_person_records"),
            "Cannabis counts matched (DOJ and court)": rec.get("matched"),
            "Cannabis counts court only (DOJ missed)": rec.get("court_only"),
            "Cannabis counts DOJ only": rec.get("doj_only"),
            "Review queue (pairs)": q.get("linkage", {}).get("review_queue"),
            "Convictions decided": dets.get("convictions"),
        }
        out.update({f"Convictions: {d}": dets.get("by_determination", {}).get(d) for d in DETERMINATIONS})
        return out

    operational = {"Rows read", "Rows quarantined", "Review queue (pairs)"}
    before, after = pick(prev), pick(cur)
    return [[k, before[k], after[k], _change(before[k], after[k], people=k not in operational)] for k in after]


def _delivery_rows(history: list[dict[str, Any]]) -> list[list[Any]]:
    return [[d["delivery"], d["run_id"], d["status"], d.get("published_at") or d.get("created_at"),
             d["rows"]["new"], d["rows"]["correction"], d["rows"]["withdrawal"], d["court"]["accepted"],
             d["court"]["rejected"], d["court"]["awaiting"]] for d in history]


DELIVERY_HEADERS = ["Delivery", "Run", "Status", "Published", "New", "Corrections", "Withdrawals",
                    "Court accepted", "Court rejected", "Awaiting the court"]


def _ack_chart(history: list[dict[str, Any]], chart_id: str) -> str:
    rows = [{"delivery": d["delivery"], "answer": answer, "rows": d["court"][key]}
            for d in history for key, answer in (("accepted", "accepted"), ("rejected", "rejected"),
                                                 ("awaiting", "awaiting the court"))]
    spec = charts.stacked(rows, x="delivery", y="rows", color="answer", title="Delivered rows and the court's answers",
                          x_sort=[d["delivery"] for d in history], y_title="rows",
                          colors={"accepted": GOOD, "rejected": BAD, "awaiting the court": WAITING})
    return embedded_chart(chart_id, spec)


def run_page(info: RunInfo, quality: dict[str, Any], previous: dict[str, Any] | None,
             history: list[dict[str, Any]], *, bundle: str, has_review: bool) -> str:
    """One run's data-quality page."""
    inputs, val, link = quality["inputs"], quality["validation"], quality["linkage"]
    rec, dets, changes = quality.get("reconciliation", {}), quality.get("determinations", {}), \
        quality.get("changes_from_previous", {})
    parts: list[str] = []
    stages = quality["run"].get("stages_done", [])
    parts.append(cards([
        ("Rows read", inputs["rows_read"]), ("Rows quarantined", inputs["rows_quarantined"]),
        ("Convictions decided", dets.get("convictions")), ("Review queue (pairs)", link.get("review_queue")),
        ("Validation", "passed" if val and all(v["success"] for v in val.values()) else
         ("BLOCKED" if val else "not run")),
    ]))
    parts.append(f'<p class="note">Stages done: {esc(", ".join(stages) or "none")}. Policy '
                 f'{esc(quality["run"].get("policy"))} {esc(quality["run"].get("policy_version") or "")}. '
                 f'Inputs: {esc(", ".join(f"{k} ({v})" for k, v in quality["run"]["inputs"].items()))}.</p>')
    parts.append(suppression_note())

    # Inputs.
    parts.append("<h2>Rows read and quarantined</h2>")
    parts.append(table(["Source", "File", "Layout", "Rows read", "Accepted", "Quarantined", "Blank lines",
                        "Rows add up"],
                       [[f["source"], f["file"], f.get("layout") or "DOJ research file", f["rows_read"],
                         f["rows_accepted"], f["rows_quarantined"], f.get("blank_lines"),
                         status(f["rows_add_up"], good="yes", bad="NO")] for f in inputs["files"]],
                       numeric=[3, 4, 5, 6], raw=[7]))
    file_rows = [{"file": f["file"], "rows": f[k], "kind": name} for f in inputs["files"]
                 for k, name in (("rows_accepted", "accepted"), ("rows_quarantined", "quarantined"))]
    chart_html = [embedded_chart("chart-rows", charts.stacked(
        file_rows, x="file", y="rows", color="kind", title="Rows per input file", y_title="rows",
        colors={"accepted": "#1f5f8b", "quarantined": BAD}))]
    if inputs["quarantine"]:
        parts.append("<h3>Quarantine by file and reason</h3>")
        parts.append(table(["Source", "File", "Reason", "Rows"],
                           [[q["source"], q["file"], q["reason"], q["rows"]] for q in inputs["quarantine"]],
                           numeric=[3]))
        chart_html.append(embedded_chart("chart-quarantine", charts.bars(
            charts.rows_from(inputs["quarantine_by_reason"]), title="Quarantined rows by reason", value_title="rows")))
    else:
        parts.append('<p class="note">No row was quarantined.</p>')
    parts.append('<div class="charts">' + "".join(chart_html) + "</div>")

    # Validation.
    parts.append("<h2>Validation (Great Expectations)</h2>")
    if val:
        rows = []
        for name, v in val.items():
            docs = f'<a href="data_docs/{esc(Path(v["data_docs"]).relative_to("validation/data_docs"))}">Data Docs</a>' \
                if v.get("data_docs") else "\u2014"
            pages = " ".join(
                f'<a href="data_docs/{esc(Path(p).relative_to("validation/data_docs"))}">{esc(t)}</a>'
                for t, p in table_pages(info, name, v.get("table_rows", {})).items())
            e = v.get("expectations", {})
            rows.append([name, status(v["success"], bad="BLOCKED"), e.get("total"), e.get("passed"),
                         e.get("failed_critical"), e.get("failed_warning"), f"{docs} {pages}"])
        parts.append(table(["Checkpoint", "Result", "Expectations", "Passed", "Critical failed", "Warnings",
                            "Data Docs (index, tables)"], rows, numeric=[2, 3, 4, 5], raw=[1, 6]))
        failed = [[name, f["severity"], f["id"], f.get("table"), f.get("unexpected_count"), f.get("rows"), f.get("why")]
                  for name, v in val.items() for f in v.get("failed", [])]
        if failed:
            parts.append("<h3>Expectations not met</h3>")
            parts.append(table(["Checkpoint", "Severity", "Expectation", "Table", "Rows failing", "Rows checked", "Why it matters"],
                               failed, numeric=[4, 5]))
        vrows = [{"checkpoint": n, "result": r, "expectations": v.get("expectations", {}).get(k) or 0}
                 for n, v in val.items() for k, r in (("passed", "passed"), ("failed_critical", "critical failed"),
                                                        ("failed_warning", "warning"))]
        parts.append('<div class="charts">' + embedded_chart("chart-validation", charts.stacked(
            vrows, x="checkpoint", y="expectations", color="result", title="Expectations per checkpoint",
            x_sort=list(val), colors={"passed": GOOD, "critical failed": BAD, "warning": WARNING})) + "</div>")
        parts.append('<p class="note">Data Docs are Great Expectations\' own pages; they load their styles from '
                     "the internet and look plain offline.</p>")
    else:
        parts.append('<p class="note">No validation checkpoint has run for this run.</p>')

    # Linkage.
    parts.append("<h2>Linkage: DOJ and court records of the same people</h2>")
    people = link.get("people", {})
    by_pass = link.get("links_by_pass", {})
    found = rate(people.get("doj_found_in_court"), people.get("doj_person_records"))
    known = rate(people.get("court_known_to_doj"), people.get("court_person_records"))
    parts.append(table(["Figure", "Value"], [
        ["DOJ person records", people.get("doj_person_records")],
        ["... found in the court's records", people.get("doj_found_in_court")],
        ["... match rate", pct(found)],
        ["Court person records", people.get("court_person_records")],
        ["... known to DOJ", people.get("court_known_to_doj")],
        ["... match rate", pct(known)],
        ["People after linkage", people.get("unified_people")],
        *[[f"Links decided by the {k} pass", v] for k, v in by_pass.items()],
        ["Pairs for a person to review", link.get("review_queue")],
    ], numeric=[1]))
    if has_review:
        parts.append(f'<p><a href="{REVIEW_PAGE}">Review queue (CONFIDENTIAL: names and dates of birth)</a>: '
                     f'{esc(fmt(link.get("review_queue")))} pair(s).</p>')
    if rec:
        parts.append("<h3>Cannabis counts: matched, court only, DOJ only</h3>")
        parts.append(dict_table(rec.get("by_reason", {}), key="Why not matched", value="Counts"))
        parts.append('<div class="charts">' + embedded_chart("chart-reconciled", charts.bars(
            charts.rows_from({k.replace("_", " "): v for k, v in rec.get("by_classification", {}).items()}),
            title="Cannabis counts by reconciliation", value_title="counts")) + "</div>")
    model_charts = []
    for name in link.get("chart_specs", []):
        spec_path = info.run_dir / "linkage" / f"{name}.vl.json"
        with contextlib.suppress(OSError, json.JSONDecodeError):
            spec = json.loads(spec_path.read_text())
            spec.pop("$schema", None)  # Splink writes Vega-Lite 5 specs; the local bundle draws them as they are
            model_charts.append(embedded_chart(f"chart-splink-{name}", spec))
    if model_charts:
        parts.append("<h3>The linkage model (Splink)</h3>")
        links = " ".join(f'<a href="{esc(p)}">{esc(n.replace("_", " "))}</a>' for n, p in link.get("artifacts", {}).items())
        parts.append(f'<p class="note">Splink\'s own chart pages: {links}. The waterfall shows match weights only, '
                     "never the compared values.</p>")
        parts.append('<div class="charts">' + "".join(model_charts) + "</div>")

    # Determinations.
    parts.append("<h2>Determinations</h2>")
    if dets:
        parts.append(dict_table(dets.get("by_determination", {}), key="Determination", value="Convictions"))
        if dets.get("by_history_basis"):
            basis = dets["by_history_basis"]
            parts.append(table(["Record the decision rests on", *DETERMINATIONS],
                               [[b, *[row.get(d) for d in DETERMINATIONS]] for b, row in basis.items()],
                               numeric=range(1, len(DETERMINATIONS) + 1)))
        parts.append('<div class="charts">' + embedded_chart("chart-determinations", charts.bars(
            charts.rows_from(dets.get("by_determination", {})), title="Convictions by determination",
            value_title="convictions")) + "</div>")
        parts.append('<p><a href="impact.html">Impact report</a> (<a href="impact.pdf">PDF</a>, '
                     '<a href="impact.json">JSON</a>) \u00b7 <a href="what_if.html">Policy what-if</a></p>')
    else:
        parts.append('<p class="note">The eligibility stage has not run.</p>')

    # Changes.
    parts.append("<h2>Changes since the previous refresh</h2>")
    if previous is not None:
        parts.append(f'<p class="note">Previous run: {esc(previous["run"]["run_id"])} '
                     f'(as of {esc(previous["run"]["compute_at"])}).</p>')
        parts.append(table(["Figure", "Previous", "This run", "Change"], _delta_rows(previous, quality),
                           numeric=[1, 2, 3]))
        if changes:
            parts.append(table(["Convictions", "Count"], [
                ["New since the previous run", changes.get("new_convictions")],
                ["No longer present", changes.get("convictions_no_longer_present")],
                ["Determination changed", changes.get("determination_changed")],
                ["Unchanged", changes.get("unchanged")],
                *[[f"Changed: {k}", v] for k, v in changes.get("by_change", {}).items()],
            ], numeric=[1]))
    else:
        parts.append('<p class="note">This is the county\'s first run.</p>')

    # Deliveries.
    parts.append("<h2>Deliveries to the court and the court's answers</h2>")
    mine = [d for d in history if d["run_id"] == info.run_id]
    if mine:
        parts.append(table(DELIVERY_HEADERS, _delivery_rows(mine), numeric=range(4, 10)))
        parts.append('<div class="charts">' + _ack_chart(mine, "chart-acks") + "</div>")
    else:
        parts.append('<p class="note">Nothing was delivered from this run (yet).</p>')
    title = f"Data quality: {info.display_name}"
    subtitle = f"run {info.run_id} \u00b7 as of {info.compute_at.isoformat()}"
    return page(title, "\n".join(parts), subtitle=subtitle, nav=_nav(2, info.county_slug, info.run_id),
                head=_script(bundle, 2))


def county_page(slug: str, runs: list[RunInfo], qualities: list[dict[str, Any]], history: list[dict[str, Any]],
                *, bundle: str) -> str:
    """Across runs of one county: the refresh history."""
    labels = [_run_label(i, r) for i, r in enumerate(runs)]
    parts = [suppression_note(), "<h2>Runs, oldest first</h2>"]
    rows = []
    for label, info, q in zip(labels, runs, qualities, strict=True):
        val = q["validation"]
        ok = all(v["success"] for v in val.values()) if val else None
        dets = q.get("determinations", {})
        rows.append([f'<a href="{esc(info.run_id)}/index.html">{esc(label)}</a>', info.compute_at.isoformat(),
                     q["run"].get("policy"), q["inputs"]["rows_read"], q["inputs"]["rows_quarantined"],
                     q["linkage"].get("review_queue"), dets.get("convictions"),
                     dets.get("by_determination", {}).get("Eligible for Dismissal"), status(ok, bad="BLOCKED")])
    parts.append(table(["Run", "As of", "Policy", "Rows read", "Quarantined", "Review queue", "Convictions",
                        "Eligible for dismissal", "Validation"], rows, numeric=[3, 4, 5, 6, 7], raw=[0, 8]))
    row_points = [{"run": label, "figure": name, "rows": q["inputs"][key]}
                  for label, q in zip(labels, qualities, strict=True)
                  for key, name in (("rows_read", "rows read"), ("rows_quarantined", "rows quarantined"))]
    rate_points = []
    for label, q in zip(labels, qualities, strict=True):
        people = q["linkage"].get("people", {})
        for name, value in (("DOJ records found in court", rate(people.get("doj_found_in_court"),
                                                                 people.get("doj_person_records"))),
                            ("court records known to DOJ", rate(people.get("court_known_to_doj"),
                                                                people.get("court_person_records")))):
            if value is not None:
                rate_points.append({"run": label, "figure": name, "percent": value})
    outcome_points = [{"run": label, "determination": d, "convictions": _value(v)}
                      for label, q in zip(labels, qualities, strict=True)
                      for d, v in q.get("determinations", {}).get("by_determination", {}).items() if _value(v)]
    queue_points = [{"run": label, "figure": "review queue", "pairs": q["linkage"].get("review_queue") or 0}
                    for label, q in zip(labels, qualities, strict=True)]
    chart_html = [embedded_chart("chart-history-rows", charts.lines(
        row_points, x="run", y="rows", color="figure", title="Rows read and quarantined", x_sort=labels))]
    if rate_points:
        chart_html.append(embedded_chart("chart-history-match", charts.lines(
            rate_points, x="run", y="percent", color="figure", title="Match rates (%)", x_sort=labels)))
    if outcome_points:
        chart_html.append(embedded_chart("chart-history-outcomes", charts.stacked(
            outcome_points, x="run", y="convictions", color="determination", x_sort=labels,
            title="Convictions by determination (suppressed cells left out)")))
    chart_html.append(embedded_chart("chart-history-queue", charts.lines(
        queue_points, x="run", y="pairs", color="figure", title="Review queue (pairs)", x_sort=labels)))
    parts.append('<div class="charts">' + "".join(chart_html) + "</div>")
    parts.append("<h2>Deliveries and the court's answers</h2>")
    if history:
        parts.append(table(DELIVERY_HEADERS, _delivery_rows(history), numeric=range(4, 10)))
        parts.append('<div class="charts">' + _ack_chart(history, "chart-history-acks") + "</div>")
    else:
        parts.append('<p class="note">Nothing delivered yet.</p>')
    name = runs[-1].display_name if runs else slug
    return page(f"Refresh history: {name}", "\n".join(parts), subtitle=f"{len(runs)} run(s)",
                nav=_nav(1, slug), head=_script(bundle, 1))


def index_page(runs: dict[str, list[RunInfo]], latest: dict[str, dict[str, Any]], histories: dict[str, list],
               *, bundle: str, statewide: bool, problem: str | None) -> str:
    """Every county's latest run, and the statewide report."""
    parts = [suppression_note()]
    if problem:
        parts.append(f'<p class="bad">{esc(problem)}</p>')
    if statewide:
        parts.append('<p><a href="statewide/impact.html">Statewide impact report</a> '
                     '(<a href="statewide/impact.pdf">PDF</a>, <a href="statewide/impact.json">JSON</a>)</p>')
    rows, helped = [], {}
    for slug, county_run_list in runs.items():
        info = county_run_list[-1]
        q = latest[slug]
        val = q["validation"]
        ok = all(v["success"] for v in val.values()) if val else None
        dets = q.get("determinations", {})
        sent = histories.get(info.county, [])
        dismissals = dets.get("by_determination", {}).get("Eligible for Dismissal")
        helped[info.display_name] = dismissals
        rows.append([f'<a href="{esc(slug)}/index.html">{esc(info.display_name)}</a>', len(county_run_list),
                     f'<a href="{esc(slug)}/{esc(info.run_id)}/index.html">{esc(info.run_id)}</a>',
                     info.compute_at.isoformat(), q["inputs"]["rows_read"], q["inputs"]["rows_quarantined"],
                     dets.get("convictions"), dismissals, q["linkage"].get("review_queue"), status(ok, bad="BLOCKED"),
                     len(sent), sum(d["court"]["awaiting"] for d in sent)])
    if rows:
        parts.append("<h2>Counties (latest run)</h2>")
        parts.append(table(["County", "Runs", "Latest run", "As of", "Rows read", "Quarantined", "Convictions",
                            "Eligible for dismissal", "Review queue", "Validation", "Deliveries",
                            "Rows awaiting the court"], rows, numeric=[1, 4, 5, 6, 7, 8, 10, 11], raw=[0, 2, 9]))
        parts.append('<div class="charts">' + embedded_chart("chart-counties", charts.bars(
            charts.rows_from(helped), title="Convictions eligible for dismissal (latest run)",
            value_title="convictions")) + "</div>")
    else:
        parts.append('<p class="note">No runs yet. Run a county with <code>autoclear run</code>.</p>')
    return page("autoclear: data quality and impact", "\n".join(parts),
                subtitle=f"{len(runs)} county(ies)", nav=_nav(0), head=_script(bundle, 0))


def what_if_page(info: RunInfo, result: dict[str, Any], *, bundle: str) -> str:
    """The county's figures under each policy, side by side (published figures)."""
    names = [f'{c["policy"]} {c["version"]}' + (" (current)" if c["current"] else "") for c in result["policies"]]
    rows = compared_rows(result)
    parts = [
        '<p class="note">The same history (DOJ and court records of this run) decided under each shipped policy at '
        "its default settings; the county's own policy first, with its settings. A DA can see what each choice "
        "means for people before choosing. Court-only people's eligible outcomes wait for a check of the state "
        "record under every policy, as in the run.</p>",
        suppression_note(),
        table(["Figure", *names], [[r["figure"], *r["cells"]] for r in rows], numeric=range(1, len(names) + 1)),
    ]
    chart_rows = []
    for label, key in (("People with some relief", ("people", "with_some_relief")),
                       ("People left with no felony", ("people", "left_with_current_policy", "no_felony")),
                       ("People left with no conviction", ("people", "left_with_current_policy", "no_conviction"))):
        for name, column in zip(names, result["policies"], strict=True):
            v: Any = column["figures"]
            for k in key:
                v = v[k]
            chart_rows.append({"category": name, "series": label, "value": _value(v), "label": fmt(v),
                               "pos": _value(v) or 0})
    parts.append('<div class="charts">' + embedded_chart("chart-what-if", charts.bars(
        chart_rows, title="People helped under each policy", value_title="people", height_per_bar=16)) + "</div>")
    parts.append("<h2>Policy settings</h2>")
    parts.append(table(["Policy", "Title", "Settings"],
                       [[n, c["title"], ", ".join(f"{k}={v}" for k, v in c["parameters"].items()) or "\u2014"]
                        for n, c in zip(names, result["policies"], strict=True)]))
    return page(f"Policy what-if: {info.display_name}", "\n".join(parts),
                subtitle=f"run {info.run_id} \u00b7 as of {result['compute_at']}",
                nav=_nav(2, info.county_slug, info.run_id), head=_script(bundle, 2))


def review_page(info: RunInfo, queue_file: Path) -> str:
    """The review queue, side by side: the one page with personal data, marked confidential."""
    queue = pl.read_csv(queue_file, skip_rows=1, infer_schema=False)
    shown = queue.head(REVIEW_ROWS_SHOWN)
    banner = ('<div class="confidential">CONFIDENTIAL: criminal history with names, dates of birth and identifiers. '
              "Do not print, e-mail or share this page.</div>\n")
    parts = [
        f'<p class="note">{queue.height:,} pair(s) of records the linkage model could not decide. Record decisions in '
        f"the queue file (<code>{esc(queue_file.name)}</code> in the run folder's review/ folder), column "
        "<code>decision</code>: same or different; the next run applies them.</p>",
    ]
    if queue.height > shown.height:
        parts.append(f'<p class="note">The first {shown.height:,} pairs are shown.</p>')
    parts.append(table(shown.columns, shown.rows()) if shown.height else "<p>The queue is empty.</p>")
    return page(f"CONFIDENTIAL review queue: {info.display_name}", "\n".join(parts),
                subtitle=f"run {info.run_id}", nav=_nav(2, info.county_slug, info.run_id), banner=banner)


# ---------------------------------------------------------------------------------------------
def build_dashboard(workdir: str | os.PathLike, *, ledger_url: str | None = None,
                    counties: Iterable[str] | None = None) -> Path:
    """(Re)build the site from the run folders under `workdir` and the ledger; returns index.html.

    With `counties` (slugs), only those counties' pages are rewritten, plus the index and any
    county whose pages are missing: a county's pages depend on its own runs and deliveries only,
    so after one county's run the others' pages stand (a statewide refresh would otherwise
    re-render every county's charts once per county). Without it, the whole site is rebuilt."""
    workdir = Path(workdir)
    site = dashboard_dir(workdir)
    with _locked(site):
        bundle = ensure_assets(site)
        runs = county_runs(workdir)
        histories, problem = deliveries(workdir, runs, ledger_url=ledger_url)
        latest: dict[str, dict[str, Any]] = {}
        only = None if counties is None else set(counties)
        for slug, county_run_list in runs.items():
            qualities = [load_quality(info, county_run_list) for info in county_run_list]
            latest[slug] = qualities[-1]
            if only is not None and slug not in only and (site / slug / "index.html").is_file():
                continue
            history = histories.get(county_run_list[-1].county, [])
            for i, (info, q) in enumerate(zip(county_run_list, qualities, strict=True)):
                out = site / slug / info.run_id
                mirror(info.run_dir / "validation" / "data_docs", out / "data_docs")
                mirror(info.run_dir / "linkage", out / "linkage")
                queue = review_queue_file(info)
                if queue is not None:
                    write_atomic(out / REVIEW_PAGE, review_page(info, queue))
                write_atomic(out / "index.html", run_page(info, q, qualities[i - 1] if i else None, history,
                                                          bundle=bundle, has_review=queue is not None))
                what_if_json = info.report_dir / WHAT_IF_FILE
                if what_if_json.is_file():
                    write_atomic(out / "what_if.html", what_if_page(info, json.loads(what_if_json.read_text()),
                                                                    bundle=bundle))
            write_atomic(site / slug / "index.html", county_page(slug, county_run_list, qualities, history,
                                                                 bundle=bundle))
        statewide = (site / "statewide" / "impact.html").is_file()
        return write_atomic(site / "index.html", index_page(runs, latest, histories, bundle=bundle,
                                                            statewide=statewide, problem=problem))
