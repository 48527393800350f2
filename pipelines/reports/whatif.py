"""Policy what-if: the impact figures of one county's history under every shipped policy, side by
side, so a DA can choose with numbers in front of them.

The facts are computed once; each policy is applied to them (pipelines.eligibility.engine) and,
on a unified history, the court-only caution is applied as the flow does, so the column for the
county's own policy equals its impact report.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from pipelines.eligibility import available_policies, load_policy
from pipelines.eligibility.engine import apply_policy
from pipelines.eligibility.facts import ENGINE
from pipelines.eligibility.policy import Policy
from pipelines.model import DETERMINATIONS
from pipelines.reports.impact import county_facts, impact_figures

FORMAT = "autoclear.what_if/1"

# The rows of the side-by-side table: (label, path into the figures).
COMPARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("People with a cannabis conviction", ("people", "with_cannabis_conviction")),
    ("People with some relief", ("people", "with_some_relief")),
    ("People left with no felony", ("people", "left_with_current_policy", "no_felony")),
    ("People left with no conviction", ("people", "left_with_current_policy", "no_conviction")),
    ("People left with no conviction in the last 7 years",
     ("people", "left_with_current_policy", "no_conviction_last_7_years")),
    *((f"Convictions: {d}", ("convictions", "by_determination", d)) for d in DETERMINATIONS),
    ("Court-only convictions eligible (DOJ missed them)", ("court_only", "eligible")),
    ("Court-only convictions eligible once the state record is checked",
     ("court_only", "eligible_pending_state_record_check")),
)


def _history_info(counts: pl.DataFrame | pl.LazyFrame, facts: pl.DataFrame) -> pl.DataFrame | None:
    """What the court-only caution reads of the history (None for a DOJ-only history), for the
    decided convictions only: read once, not once per policy, from a history of millions of counts."""
    names = counts.collect_schema().names() if isinstance(counts, pl.LazyFrame) else counts.columns
    if "history_basis" not in names:
        return None
    return (
        counts.lazy().select("count_id", "history_basis", "is_court_only")
        .join(facts.lazy().select("count_id"), on="count_id", how="semi", maintain_order="left")
        .collect()
    )


def _decide(facts: pl.DataFrame, history_info: pl.DataFrame | None, policy: Policy, compute_at: date) -> pl.DataFrame:
    decided = apply_policy(facts.lazy(), policy, compute_at=compute_at).collect(engine=ENGINE)
    if history_info is not None:
        from pipelines.reconcile import caution_court_only  # noqa: PLC0415

        decided = caution_court_only(decided, history_info)
    return decided


def what_if(
    counts: pl.DataFrame | pl.LazyFrame,
    persons: pl.DataFrame | pl.LazyFrame,
    *,
    county: str,
    compute_at: date,
    current: Policy | None = None,
    current_determinations: pl.DataFrame | None = None,
    policies: list[str] | None = None,
    facts: pl.DataFrame | None = None,
    doj_rows: int = 0,
) -> dict[str, Any]:
    """Raw impact figures per policy: the county's own (`current`, with the run's determinations when
    given) first, then each shipped policy (or `policies`, names or paths) at its defaults.

    A shipped policy identical to the current one (same name and parameters) is not repeated.
    """
    if facts is None:
        facts = county_facts(counts, persons, county=county, compute_at=compute_at)
    columns: list[dict[str, Any]] = []
    chosen: list[tuple[Policy, bool]] = []
    if current is not None:
        chosen.append((current, True))
    for name in policies if policies is not None else available_policies():
        policy = load_policy(name)
        if current is not None and policy.name == current.name and policy.parameters == current.parameters:
            continue
        chosen.append((policy, False))
    history_info = _history_info(counts, facts)
    for policy, is_current in chosen:
        decided = current_determinations if (is_current and current_determinations is not None) else \
            _decide(facts, history_info, policy, compute_at)
        figures = impact_figures(counts, persons, decided, county=county, compute_at=compute_at, policy=policy,
                                 facts=facts, doj_rows=doj_rows)
        columns.append({
            "policy": policy.name, "version": policy.version, "title": policy.title, "current": is_current,
            "parameters": {k: str(v) for k, v in sorted(policy.parameters.items())},
            "figures": figures,
        })
    return {"format": FORMAT, "county": county, "compute_at": compute_at.isoformat(), "policies": columns}


def compared_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The side-by-side table: one row per compared figure, one cell per policy (as in `result`)."""
    rows = []
    for label, path in COMPARED:
        cells = []
        for column in result["policies"]:
            value: Any = column["figures"]
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            cells.append(value)
        rows.append({"figure": label, "cells": cells})
    return rows
