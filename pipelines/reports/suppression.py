"""Small-cell suppression: a published figure about fewer than 11 people is shown as "<11".

Applied to every figure that counts people, or convictions, counts or cases of people (impact,
determinations, reconciliation, court-only, demographics, changes between refreshes). A zero is
shown: it says no one is in the group, which identifies no one. Operational figures about files,
rows, expectations, linkage pairs, the review-queue size and delivery files are not suppressed
(the data team reconciles them to the row), and they are never broken down by anything about a
person.

Secondary suppression: in a breakdown (a dict whose key starts with ``by_`` or contains ``By``)
a single suppressed cell could be recovered from the total, so when exactly one cell of a column
is suppressed the next smallest non-zero cell is suppressed too (and of a row, in tables whose
rows are split into parts). Figures repeated across different tables are not cross-checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

THRESHOLD = 11
SUPPRESSED = f"<{THRESHOLD}"
# Figures in the impact report that are not counts of people (kept as they are).
NOT_PEOPLE = frozenset({"lineCount", "earliestConviction", "processingTimeInSeconds", "threshold", "compute_at",
                        "doj_rows", "runs", "counties"})
# Tables whose rows are split into parts by their columns (a row total is published elsewhere).
PARTITION_TABLES = frozenset({"by_section"})


def cell(value: Any) -> Any:
    """One figure as published: an int from 1 to 10 becomes "<11"; anything else is unchanged."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return SUPPRESSED if 0 < value < THRESHOLD else value


def is_suppressed(value: Any) -> bool:
    return value == SUPPRESSED


def _is_breakdown(key: str) -> bool:
    return key.startswith("by_") or "By" in key


def _secondary(cells: dict[str, Any]) -> dict[str, Any]:
    """When exactly one cell is suppressed, also suppress the smallest other non-zero cell."""
    hidden = [k for k, v in cells.items() if is_suppressed(v)]
    if len(hidden) != 1:
        return cells
    shown = [(v, k) for k, v in cells.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    if not shown:
        return cells
    _, smallest = min(shown)
    return {k: (SUPPRESSED if k == smallest else v) for k, v in cells.items()}


def _breakdown(table: dict[str, Any], *, rows_partition: bool) -> dict[str, Any]:
    """Secondary suppression over a flat breakdown, or over a table of rows: column by column, and
    row by row too when each row's cells split a published row total (`rows_partition`)."""
    if all(not isinstance(v, dict) for v in table.values()):
        return _secondary(table)
    rows = {k: dict(v) if isinstance(v, dict) else v for k, v in table.items()}
    columns: list[str] = []
    for row in rows.values():
        if isinstance(row, dict):
            columns += [c for c in row if c not in columns and not isinstance(row[c], dict)]
    while True:
        before = repr(rows)
        for column in columns:
            have = {k: r[column] for k, r in rows.items() if isinstance(r, dict) and column in r}
            for k, v in _secondary(have).items():
                rows[k][column] = v
        if rows_partition:
            for k, r in rows.items():
                if isinstance(r, dict):
                    rows[k] = _secondary(r)
        if repr(rows) == before:  # suppression only grows, so this ends
            return rows


def suppress(figures: Any, *, keep: Iterable[str] = NOT_PEOPLE, _key: str = "") -> Any:
    """A copy of a nested dict / list of figures with small cells suppressed (see module docstring).

    Keys in `keep` are left as they are (with everything under them).
    """
    keep = frozenset(keep)
    if isinstance(figures, dict):
        out = {k: (v if k in keep else suppress(v, keep=keep, _key=k)) for k, v in figures.items()}
        return _breakdown(out, rows_partition=_key in PARTITION_TABLES) if _is_breakdown(_key) else out
    if isinstance(figures, list):
        return [suppress(v, keep=keep, _key=_key) for v in figures]
    return cell(figures)


def rate(part: Any, whole: Any, *others: Any) -> float | None:
    """part / whole as a percentage (one decimal), or None when any figure involved is suppressed.

    A rate computed from a suppressed cell would let a reader recover it, so rates are published
    only when the part, the rest of the whole and any `others` are all publishable.
    """
    figures = (part, whole, *others)
    if any(not isinstance(v, int) or isinstance(v, bool) for v in figures) or not whole:
        return None
    if any(0 < v < THRESHOLD for v in (part, whole - part, *others)):
        return None
    return round(100.0 * part / whole, 1)
