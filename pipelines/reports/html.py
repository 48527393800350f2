"""Small HTML building blocks shared by the impact report and the dashboard.

Pages are plain, self-contained HTML (styles inline, no web fonts, no network): they open from
the file system on a county's own machine. Every value goes through `esc`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipelines.reports.suppression import SUPPRESSED, THRESHOLD, is_suppressed

STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2630;background:#f6f7f9}
header{background:#1f3b57;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:1.35rem}
header .meta{opacity:.85;font-size:.85rem;margin-top:4px}
nav{background:#e6ebf0;padding:6px 28px;font-size:.9rem}
nav a{margin-right:14px}
main{padding:8px 28px 40px;max-width:1180px}
h2{font-size:1.1rem;margin:26px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:.98rem;margin:16px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff;font-size:.86rem}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef2f6}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:170px}
.card .v{font-size:1.45rem;font-weight:600}
.card .l{font-size:.8rem;color:#4b5865}
.charts{display:flex;flex-wrap:wrap;gap:14px}
.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px;min-height:60px}
.note{font-size:.82rem;color:#4b5865;max-width:900px}
.ok{color:#1e7a3c;font-weight:600}.bad{color:#b3261e;font-weight:600}.warn{color:#9a6700;font-weight:600}
.confidential{background:#b3261e;color:#fff;padding:10px 28px;font-weight:700;letter-spacing:.02em}
code{font-size:.85em}
@media print{nav{display:none}body{background:#fff}.chart{border:none}}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any) -> str:
    """A figure for display: thousands separators, "<11" kept, None as an em dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def pct(value: float | None) -> str:
    return "\u2014" if value is None else f"{value:.1f}%"


def page(title: str, body: str, *, subtitle: str = "", nav: Sequence[tuple[str, str]] = (), head: str = "",
         banner: str = "") -> str:
    """A whole HTML page."""
    links = "".join(f'<a href="{esc(href)}">{esc(text)}</a>' for text, href in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"robots\" content=\"noindex\">\n"
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n{head}</head>\n<body>\n"
        f"{banner}<header><h1>{esc(title)}</h1>"
        + (f'<div class="meta">{esc(subtitle)}</div>' if subtitle else "")
        + "</header>\n"
        + (f"<nav>{links}</nav>\n" if links else "")
        + f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (),
          raw: Iterable[int] = ()) -> str:
    """A table; cells in `numeric` columns are right-aligned figures, cells in `raw` are HTML already."""
    numeric, raw = set(numeric), set(raw)
    head = "".join(f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            text = v if i in raw else esc(fmt(v) if i in numeric else v)
            cells.append(f'<td class="num">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def dict_table(cells: Mapping[str, Any], *, key: str, value: str) -> str:
    return table([key, value], cells.items(), numeric=[1])


def grid_table(grid: Mapping[str, Mapping[str, Any]], *, key: str, columns: Sequence[str],
               names: Mapping[str, str] | None = None) -> str:
    """{row: {column: figure}} as a table with the given columns."""
    names = names or {}
    return table([key, *[names.get(c, c) for c in columns]],
                 ([r, *[row.get(c) for c in columns]] for r, row in grid.items()),
                 numeric=range(1, len(columns) + 1))


def cards(items: Iterable[tuple[str, Any]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v">{esc(fmt(v))}</div><div class="l">{esc(label)}</div></div>'
        for label, v in items) + "</div>"


def suppression_note() -> str:
    return (f'<p class="note">Figures about fewer than {THRESHOLD} people are shown as "{esc(SUPPRESSED)}" '
            "(and, where one hidden figure could be worked out from a total, one more figure is hidden). "
            "Zero is shown. No names, dates of birth or identifiers appear on this page.</p>")


def status(ok: bool | None, *, good: str = "passed", bad: str = "failed") -> str:
    if ok is None:
        return '<span class="warn">not run</span>'
    return f'<span class="ok">{esc(good)}</span>' if ok else f'<span class="bad">{esc(bad)}</span>'


def embedded_chart(chart_id: str, spec: Mapping[str, Any]) -> str:
    """A chart container and the script that draws it in the browser with vega-embed (SVG)."""
    data = json.dumps(spec, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="chart" id="{esc(chart_id)}" data-chart="vega-lite"></div>\n'
        f'<script>vegaEmbed("#{esc(chart_id)}", {data}, {{"actions": false, "renderer": "svg", '
        '"mode": "vega-lite"}).catch(function (e) { console.error("chart ' + esc(chart_id) + ': " + e); });</script>'
    )


def static_chart(svg: str) -> str:
    """A chart already drawn (SVG text), for pages that must open without any script."""
    return f'<div class="chart" data-chart="svg">{svg}</div>'


def suppressed_any(values: Iterable[Any]) -> bool:
    return any(is_suppressed(v) for v in values)
