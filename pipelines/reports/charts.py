"""Charts for the reports and the dashboard, drawn with Altair (Vega-Lite specs as dicts).

Every chart reads rows of published figures: a suppressed cell ("<11") has no bar, only its
label, so a chart never shows more than the table next to it. `to_svg` / `to_png` render a spec
without a browser (vl-convert, offline) for the impact report and its PDF.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import altair as alt

from pipelines.reports.suppression import is_suppressed

WIDTH = 460
PALETTE = ["#1f5f8b", "#e07b39", "#3a9a5b", "#b23a48", "#7a5195", "#8c8c8c", "#c9a227"]


def _value(v: Any) -> int | float | None:
    if isinstance(v, bool) or is_suppressed(v) or not isinstance(v, int | float):
        return None
    return v


def _label(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "" if v is None else str(v)


def rows_from(cells: Mapping[str, Any], *, series: str | None = None) -> list[dict[str, Any]]:
    """{category: figure} -> chart rows (category, series, value or None when suppressed, label)."""
    return [
        {"category": k, "series": series or "", "value": _value(v), "label": _label(v), "pos": _value(v) or 0}
        for k, v in cells.items()
    ]


def rows_from_table(table: Mapping[str, Mapping[str, Any]], columns: Sequence[str],
                    names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """{category: {column: figure}} -> rows with one series per column (named by `names`)."""
    names = names or {}
    out: list[dict[str, Any]] = []
    for column in columns:
        out += rows_from({k: row.get(column) for k, row in table.items()}, series=names.get(column, column))
    return out


def _order(rows: Iterable[dict[str, Any]], key: str) -> list[str]:
    seen: list[str] = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen


def bars(rows: list[dict[str, Any]], *, title: str, value_title: str = "", height_per_bar: int = 22,
         width: int = WIDTH) -> dict[str, Any]:
    """Horizontal bars, one per category, grouped by series when there are several; value labels."""
    categories = _order(rows, "category")
    series = _order(rows, "series")
    grouped = len(series) > 1
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("category:N", sort=categories, title=None, axis=alt.Axis(labelLimit=220)),
    )
    if grouped:
        base = base.encode(yOffset=alt.YOffset("series:N", sort=series))
    bar = base.mark_bar().encode(
        x=alt.X("value:Q", title=value_title or None),
        color=alt.Color("series:N", sort=series, scale=alt.Scale(range=PALETTE),
                        legend=alt.Legend(title=None, orient="bottom") if grouped else None),
        tooltip=[alt.Tooltip("category:N", title="group"), *([alt.Tooltip("series:N")] if grouped else []),
                 alt.Tooltip("label:N", title="figure")],
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(x="pos:Q", text="label:N")
    height = max(60, height_per_bar * len(categories) * (len(series) if grouped else 1))
    return alt.layer(bar, text).properties(title=title, width=width, height=height).to_dict()


def stacked(rows: list[dict[str, Any]], *, x: str, y: str, color: str, title: str, x_title: str = "",
            y_title: str = "", x_sort: Sequence[str] | None = None, width: int = WIDTH,
            height: int = 220, colors: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Vertical stacked bars (e.g. rows per file split by accepted / quarantined).

    `colors` fixes a colour per series ({"accepted": "#3a9a5b", ...}) where colour carries meaning.
    """
    order = list(colors) if colors else _order(rows, color)
    scale = alt.Scale(domain=order, range=list(colors.values())) if colors else alt.Scale(range=PALETTE)
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X(f"{x}:N", sort=list(x_sort) if x_sort else None, title=x_title or None,
                axis=alt.Axis(labelAngle=0, labelLimit=160)),
        y=alt.Y(f"{y}:Q", title=y_title or None),
        color=alt.Color(f"{color}:N", sort=order, scale=scale,
                        legend=alt.Legend(title=None, orient="bottom")),
        tooltip=[f"{x}:N", f"{color}:N", f"{y}:Q"],
    ).properties(title=title, width=width, height=height).to_dict()


def lines(rows: list[dict[str, Any]], *, x: str, y: str, color: str, title: str, x_sort: Sequence[str],
          y_title: str = "", width: int = WIDTH, height: int = 200) -> dict[str, Any]:
    """A line per series over runs (x is the run label, in run order)."""
    return alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(
        x=alt.X(f"{x}:N", sort=list(x_sort), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{y}:Q", title=y_title or None),
        color=alt.Color(f"{color}:N", scale=alt.Scale(range=PALETTE), legend=alt.Legend(title=None, orient="bottom")),
        tooltip=[f"{x}:N", f"{color}:N", f"{y}:Q"],
    ).properties(title=title, width=width, height=height).to_dict()


def to_svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document (rendered offline by vl-convert; the same spec is drawn once)."""
    return _svg(json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _svg(spec_json: str) -> str:
    import vl_convert as vlc  # noqa: PLC0415 (starts a JS runtime: only when drawing)

    return vlc.vegalite_to_svg(json.loads(spec_json), vl_version=_vl_version())


def to_png(spec: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (for the PDF report)."""
    import vl_convert as vlc  # noqa: PLC0415

    return vlc.vegalite_to_png(spec, vl_version=_vl_version(), scale=scale)


def _vl_version() -> str:
    from altair.utils._importers import vl_version_for_vl_convert  # noqa: PLC0415

    return vl_version_for_vl_convert()


def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (defines `vegaEmbed`), for pages opened offline."""
    import vl_convert as vlc  # noqa: PLC0415

    return vlc.javascript_bundle(vl_version=_vl_version())


def bundle_name() -> str:
    """File name of the script bundle for the Vega-Lite version Altair writes (cached per version)."""
    return f"vega-embed-bundle-vl{_vl_version().lstrip('v')}.js"
