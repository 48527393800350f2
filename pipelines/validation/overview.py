"""A run's validation overview, ``<run_dir>/validation/index.html``, readable offline.

GX's own Data Docs index lists its results with JavaScript loaded from public CDNs, so on a
county machine without internet access it shows an empty page (the validation pages themselves
are static HTML and read fine). This page needs nothing from outside: it is built from the
checkpoint summaries (``<checkpoint>.json``), links to the GX page of every table, and lists the
county's other runs (sibling run folders) so a county can follow its history.

It holds what the summaries hold: expectation ids, counts, failing values (codes, flags, field
names) and our row ids, never names or dates of birth.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from pipelines.validation.suites import CHECKPOINTS

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b;max-width:75rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f2f2}.ok{color:#176b2c;font-weight:600}.blocked{color:#a4161a;font-weight:600}
.warn{color:#8a5a00;font-weight:600}code{font-size:.85rem}.muted{color:#666}details{margin:.5rem 0}
"""


def summaries(validation_dir: Path) -> dict[str, dict[str, Any]]:
    """The checkpoint summaries in a run's validation directory, in flow order."""
    found = {}
    for name in CHECKPOINTS:
        path = validation_dir / f"{name}.json"
        if path.exists():
            try:
                found[name] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
    return found


def history(county_dir: Path) -> list[dict[str, Any]]:
    """Every run of a county (``<workdir>/<county>/<run_id>/validation``) with its checkpoints'
    outcomes, newest compute-at first: what the dashboard and the overview page list."""
    runs = []
    for run_dir in sorted(p for p in Path(county_dir).iterdir() if (p / "validation").is_dir()):
        found = summaries(run_dir / "validation")
        if not found:
            continue
        first = next(iter(found.values()))
        runs.append({
            "run_id": first.get("run_id") or run_dir.name,
            "run_dir": run_dir,
            "compute_at": first.get("compute_at"),
            "checkpoints": {name: {"success": s["success"], **s["expectations"]} for name, s in found.items()},
            "success": all(s["success"] for s in found.values()),
        })
    runs.sort(key=lambda r: (r["compute_at"] or "", r["run_dir"].name), reverse=True)
    return runs


def _page(validation_dir: Path, checkpoint: str, table: str) -> str | None:
    """Relative link to the newest GX validation page of a table, if built."""
    base = validation_dir / "data_docs" / "validations" / checkpoint / table
    pages = sorted(base.glob("*/*/*.html"), key=lambda p: p.parent.name) if base.is_dir() else []
    return os.path.relpath(pages[-1], validation_dir) if pages else None


def _status(success: bool) -> str:
    return '<span class="ok">passed</span>' if success else '<span class="blocked">BLOCKED</span>'


def _result_row(r: dict[str, Any]) -> str:
    e = html.escape
    if r["success"]:
        outcome = '<span class="ok">ok</span>'
    elif r["severity"] == "critical":
        outcome = '<span class="blocked">failed</span>'
    else:
        outcome = '<span class="warn">warning</span>'
    detail = ""
    if not r["success"]:
        if r.get("error"):
            detail = f"could not be evaluated: {e(str(r['error']))}"
        elif r.get("unexpected_count") is not None:
            detail = f"{r['unexpected_count']:,} of {r['rows']:,} rows"
        values = ", ".join(e(json.dumps(v["value"])) for v in r.get("unexpected_values") or [])
        if values:
            detail += f"<br>failing values: <code>{values}</code>"
        if r.get("row_ids"):
            more = " ..." if (r.get("unexpected_count") or 0) > len(r["row_ids"]) else ""
            detail += f"<br>{e(r['row_id'])}: <code>{e(', '.join(r['row_ids']))}</code>{more}"
    return (f"<tr><td><code>{e(r['id'])}</code></td><td>{e(r['severity'])}</td><td>{outcome}</td>"
            f"<td>{detail}</td><td class=muted>{e(r['why'])}</td></tr>")


def write_overview(validation_dir: Path) -> Path:
    """Write ``<validation_dir>/index.html`` from the checkpoint summaries there; returns its path."""
    validation_dir = Path(validation_dir)
    found = summaries(validation_dir)
    e = html.escape
    first = next(iter(found.values()), {})
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Validation: " + e(str(first.get("county") or "")) + " run " + e(str(first.get("run_id") or "")),
        f"</title><style>{_CSS}</style></head><body>",
        f"<h1>Validation of run <code>{e(str(first.get('run_id') or validation_dir.parent.name))}</code></h1>",
        f"<p>County {e(str(first.get('county') or '-'))}, compute-at {e(str(first.get('compute_at') or '-'))}. "
        "Critical expectations block delivery; warnings are reported only. "
        + ('<a href="data_docs/index.html">Great Expectations Data Docs</a> '
           "(its index needs internet access; the pages linked below do not).</p>"
           if (validation_dir / "data_docs" / "index.html").exists() else "</p>"),
        "<table><tr><th>checkpoint</th><th>status</th><th>expectations</th><th>critical failed</th>"
        "<th>warnings</th></tr>",
    ]
    for name, s in found.items():
        x = s["expectations"]
        parts.append(f'<tr><td><a href="#{e(name)}">{e(name)}</a></td><td>{_status(s["success"])}</td>'
                     f"<td>{x['total']}</td><td>{x['failed_critical']}</td><td>{x['failed_warning']}</td></tr>")
    parts.append("</table>")
    for name, s in found.items():
        parts.append(f'<h2 id="{e(name)}">{e(name)} {_status(s["success"])}</h2>')
        tables = []
        for table, info in s["tables"].items():
            link = _page(validation_dir, name, table)
            label = f'<a href="{e(link)}">{e(table)}</a>' if link else e(table)
            tables.append(f"{label} ({info['rows']:,} rows)")
        parts.append(f"<p>Suite <code>{e(str(s.get('suite_file')))}</code>; tables: {', '.join(tables)}.</p>")
        failed = [r for r in s["results"] if not r["success"]]
        header = ("<table><tr><th>expectation</th><th>severity</th><th>result</th><th>failing rows</th>"
                  "<th>why</th></tr>")
        if failed:
            parts += [header, *(_result_row(r) for r in failed), "</table>"]
        parts += [f"<details><summary>all {len(s['results'])} expectations</summary>", header,
                  *(_result_row(r) for r in s["results"]), "</table></details>"]
    runs = history(validation_dir.parent.parent) if validation_dir.parent.parent.is_dir() else []
    if len(runs) > 1:
        parts.append("<h2>Runs of this county</h2><table><tr><th>run</th><th>compute-at</th><th>status</th>"
                     + "".join(f"<th>{e(c)}</th>" for c in CHECKPOINTS) + "</tr>")
        for run in runs:
            link = os.path.relpath(run["run_dir"] / "validation" / "index.html", validation_dir)
            cells = "".join(
                f"<td>{_status(run['checkpoints'][c]['success']) if c in run['checkpoints'] else '-'}</td>"
                for c in CHECKPOINTS
            )
            parts.append(f'<tr><td><a href="{e(link)}"><code>{e(str(run["run_id"]))}</code></a></td>'
                         f"<td>{e(str(run['compute_at']))}</td><td>{_status(run['success'])}</td>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    path = validation_dir / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text("".join(parts))
    os.replace(tmp, path)
    return path
