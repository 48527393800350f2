"""Impact figures: what a policy does for the people of a county (DOMAIN.md sections 6 and 8).

`impact_figures` returns raw figures (small cells included) as a nested dict of numbers; the
published report is `suppression.suppress(figures)`. Raw figures stay in the run folder (next to
the personal data they summarise) so the statewide report can add counties up before suppressing.

The incumbent tool's summary is computed by pipelines.compat.gogen.summary, the same function
`autoclear doj` writes gogen.json with, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import polars as pl

from pipelines.compat import gogen
from pipelines.eligibility.facts import ENGINE, conviction_facts_lazy
from pipelines.eligibility.policy import Policy
from pipelines.model import DETERMINATIONS
from pipelines.reports.groups import AGE_BANDS, GENDER_GROUPS, RACE_GROUPS, age_band, gender_group, race_group

FORMAT = "autoclear.impact/1"
DISMISSAL, REDUCTION = "Eligible for Dismissal", "Eligible for Reduction"
RELIEVED = (DISMISSAL, REDUCTION)
CANNABIS_SECTIONS = ("11357", "11358", "11359", "11360")
LEVEL_NAMES = {"F": "felony", "M": "misdemeanor", "I": "infraction"}
# A person's relief, best first: the one they are counted under in people.by_relief.
PERSON_RELIEF = ("dismissal", "reduction", "review", "not eligible")
_RELIEF_OF = {
    DISMISSAL: "dismissal", REDUCTION: "reduction", "Not eligible": "not eligible",
    "Maybe Eligible - Flag for Review": "review", "Hand Review": "review",
    "To be reviewed by City Attorneys": "review",
}
# gogen.summary keys that are not figures about the data (timing) and are left out.
_NOT_FIGURES = ("processingTimeInSeconds",)


def county_facts(counts: pl.DataFrame | pl.LazyFrame, persons: pl.DataFrame | pl.LazyFrame, *,
                 county: str, compute_at: date) -> pl.DataFrame:
    """Every conviction with its eligibility facts (pipelines.eligibility.facts), collected once.

    The impact figures and every policy of the what-if read the same facts.
    """
    return conviction_facts_lazy(counts, persons, county=county, compute_at=compute_at).collect(engine=ENGINE)


def _ordered(counts: Mapping[str, int], order: Iterable[str]) -> dict[str, int]:
    """Every category of `order` (zero when absent), then any other category found, sorted."""
    order = list(order)
    extra = sorted(k for k in counts if k not in order)
    return {k: int(counts.get(k, 0)) for k in [*order, *extra]}


def _tally(frame: pl.DataFrame, key: str, order: Iterable[str] = ()) -> dict[str, int]:
    found = {k: int(n) for k, n in frame.group_by(key).len().iter_rows() if k is not None}
    return _ordered(found, order)


def _table(frame: pl.DataFrame, row: str, column: str, rows: Iterable[str], columns: Iterable[str]) -> dict:
    """{row value: {column value: n}} with every listed row and column present."""
    found: dict[str, dict[str, int]] = {}
    for r, c, n in frame.group_by(row, column).len().iter_rows():
        if r is not None and c is not None:
            found.setdefault(r, {})[c] = int(n)
    return {r: _ordered(found.get(r, {}), columns) for r in _ordered(dict.fromkeys(found, 0), rows)}


def _level_name(level: pl.Expr) -> pl.Expr:
    return level.replace_strict(LEVEL_NAMES, default="level unknown", return_dtype=pl.String)


def incumbent_determinations(determinations: pl.DataFrame) -> pl.DataFrame:
    """Determinations as the incumbent's summary should count them.

    A conviction the court-only caution moved to Hand Review (policy_determination differs) is not
    tallied under the rule that would have granted it: the summary counts relief actually given.
    """
    if "policy_determination" not in determinations.columns:
        return determinations
    changed = pl.col("policy_determination").is_not_null() & (pl.col("policy_determination") != pl.col("determination"))
    return determinations.with_columns(
        pl.when(changed).then(pl.lit("court_only_review")).otherwise(pl.col("rule_id")).alias("rule_id")
    )


def _people_frame(determinations: pl.DataFrame, persons: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per person with a decided conviction: relief (best), groups for demographics."""
    persons = persons.lazy() if isinstance(persons, pl.DataFrame) else persons
    attrs = (
        persons.select("person_id", "race", "gender")
        .group_by("person_id")
        .agg(pl.col("race").drop_nulls().first(), pl.col("gender").drop_nulls().first())
        .collect()
    )
    rank = {r: i for i, r in enumerate(PERSON_RELIEF)}
    per_person = (
        determinations.select(
            "person_id",
            pl.col("determination").replace_strict(_RELIEF_OF, default="review").alias("_relief"),
            pl.col("age_at_compute_at") if "age_at_compute_at" in determinations.columns
            else pl.lit(None, dtype=pl.Float64).alias("age_at_compute_at"),
        )
        .with_columns(pl.col("_relief").replace_strict(rank, return_dtype=pl.Int8).alias("_rank"))
        .group_by("person_id")
        .agg(pl.col("_rank").min(), pl.col("age_at_compute_at").drop_nulls().first())
        .with_columns(
            pl.col("_rank").replace_strict(dict(enumerate(PERSON_RELIEF)), return_dtype=pl.String).alias("relief")
        )
    )
    return (
        per_person.join(attrs, on="person_id", how="left")
        .with_columns(
            race_group(pl.col("race")).alias("race_group"),
            gender_group(pl.col("gender")).alias("gender_group"),
            age_band(pl.col("age_at_compute_at")).alias("age_band"),
            pl.col("relief").is_in(["dismissal", "reduction"]).alias("helped"),
        )
        .sort("person_id")
    )


def _demographics(people: pl.DataFrame) -> dict[str, Any]:
    def by(column: str, order: tuple[str, ...]) -> dict[str, dict[str, int]]:
        everyone = _tally(people, column, order)
        helped = _tally(people.filter(pl.col("helped")), column, order)
        return {g: {"people_with_conviction": everyone[g], "people_helped": helped.get(g, 0)} for g in everyone}

    return {
        "by_race": by("race_group", RACE_GROUPS),
        "by_gender": by("gender_group", GENDER_GROUPS),
        "by_age_band": by("age_band", AGE_BANDS),
    }


def _court_only(determinations: pl.DataFrame) -> dict[str, Any]:
    """Convictions only the court's records show (DOJ missed them), and how many are eligible."""
    available = "is_court_only" in determinations.columns
    frame = determinations.filter(pl.col("is_court_only").fill_null(False)) if available else determinations.clear()
    policy_outcome = "policy_determination" if "policy_determination" in frame.columns else "determination"
    frame = frame.with_columns(
        pl.col("determination").is_in(RELIEVED).alias("_eligible"),
        (pl.col(policy_outcome).is_in(RELIEVED) & ~pl.col("determination").is_in(RELIEVED)).alias("_pending"),
        pl.concat_str([pl.lit("HS "), pl.col("cannabis_section").fill_null("other"), pl.lit(" "),
                       _level_name(pl.col("level"))]).alias("_group"),
    )
    groups = [f"HS {s} {lvl}" for s in CANNABIS_SECTIONS for lvl in LEVEL_NAMES.values()]
    agg = {
        g: (int(n), int(e), int(p))
        for g, n, e, p in frame.group_by("_group").agg(
            pl.len(), pl.col("_eligible").sum(), pl.col("_pending").sum()
        ).iter_rows()
    }
    by_group = {
        g: {"convictions": agg.get(g, (0, 0, 0))[0], "eligible": agg.get(g, (0, 0, 0))[1],
            "eligible_pending_state_record_check": agg.get(g, (0, 0, 0))[2]}
        for g in [*groups, *sorted(k for k in agg if k not in groups)]
    }
    return {
        "available": available,
        "convictions": frame.height,
        "eligible": int(frame["_eligible"].sum()),
        "eligible_pending_state_record_check": int(frame["_pending"].sum()),
        "people": frame["person_id"].n_unique(),
        "people_eligible": frame.filter(pl.col("_eligible"))["person_id"].n_unique(),
        "by_section_and_level": by_group,
    }


def impact_figures(
    counts: pl.DataFrame | pl.LazyFrame,
    persons: pl.DataFrame | pl.LazyFrame,
    determinations: pl.DataFrame,
    *,
    county: str,
    compute_at: date,
    policy: Policy,
    facts: pl.DataFrame | None = None,
    doj_rows: int = 0,
) -> dict[str, Any]:
    """The impact of `determinations` (one policy's decisions) on the county's people. Raw figures.

    `counts`/`persons` are the history the determinations were made on (DOJ-only, or the unified
    DOJ + court history of a run); `facts` may be given when already computed (`county_facts`).
    `doj_rows` is the incumbent's lineCount. Keys (all counts, see docs/reports.md):

    - incumbent_summary: the incumbent tool's summary JSON, key for key (no timing);
    - people: with a cannabis conviction, with some relief, by relief; left with no felony / no
      conviction / no conviction in the last 7 years as of compute-at, under the policy and under
      "dismiss everything";
    - convictions: by determination, by section and determination, by level;
    - court_only: convictions DOJ missed, eligible, by section and level;
    - demographics: people with a conviction and people helped, by race, gender, age band.
    """
    if facts is None:
        facts = county_facts(counts, persons, county=county, compute_at=compute_at)
    summary = gogen.summary(county=county, facts=facts, determinations=incumbent_determinations(determinations),
                            policy=policy, compute_at=compute_at, line_count=doj_rows)
    incumbent = {k: v for k, v in summary.items() if k not in _NOT_FIGURES}
    current, everything = summary["reliefWithCurrentEligibilityChoices"], summary["reliefWithDismissAllProp64"]

    def left_with(block: dict[str, int]) -> dict[str, int]:
        return {
            "no_felony": block["CountSubjectsNoFelony"],
            "no_conviction": block["CountSubjectsNoConviction"],
            "no_conviction_last_7_years": block["CountSubjectsNoConvictionLast7Years"],
        }

    people = _people_frame(determinations, persons)
    decided = determinations.with_columns(pl.col("cannabis_section").fill_null("other"))
    return {
        "format": FORMAT,
        "incumbent_summary": incumbent,
        "people": {
            "with_cannabis_conviction": people.height,
            "with_some_relief": int(people["helped"].sum()),
            "by_relief": _tally(people, "relief", PERSON_RELIEF),
            "left_with_current_policy": left_with(current),
            "left_with_dismiss_everything": left_with(everything),
        },
        "convictions": {
            "decided": determinations.height,
            "by_determination": _tally(determinations, "determination", DETERMINATIONS),
            "by_section": _table(decided, "cannabis_section", "determination", CANNABIS_SECTIONS, DETERMINATIONS),
            "by_level": _tally(determinations.with_columns(_level_name(pl.col("level")).alias("_level")), "_level",
                               LEVEL_NAMES.values()),
        },
        "court_only": _court_only(determinations),
        "demographics": _demographics(people),
    }


# ---------------------------------------------------------------------------------------------
# Adding reports up (statewide).
def add_figures(a: Any, b: Any) -> Any:
    """Two raw figure trees added cell by cell (missing cells count as zero).

    Numbers add; the incumbent's earliestConviction takes the earlier date; other text must agree
    (else the first is kept); flags are true when either is.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            if k == "earliestConviction" and k in a:
                out[k] = min(a[k], v)
            else:
                out[k] = add_figures(a[k], v) if k in a else v
        return out
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) or bool(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    return a


def total_figures(figure_trees: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of several counties' raw figures (statewide)."""
    total: dict[str, Any] = {}
    for tree in figure_trees:
        total = add_figures(total, tree) if total else dict(tree)
    return total
