"""Apply a policy to conviction facts: determination, reason, relief, statutory basis, explanation.

Each rule's condition is one Polars expression; the first rule that applies is found with one
when/then chain over all convictions at once. Relief and statutory basis follow from the
determination (or the rule's own `then`), and from whether the sentence is still being served.
"""

from __future__ import annotations

import string
from datetime import date

import polars as pl

from pipelines.eligibility.facts import ENGINE, FACTS, conviction_facts_lazy
from pipelines.eligibility.policy import Policy
from pipelines.eligibility.predicates import Context
from pipelines.eligibility.statutes import with_match_columns
from pipelines.model import DETERMINATION

# What the court must do for each determination, unless the rule says otherwise.
DEFAULT_RELIEF = {
    "Eligible for Dismissal": "dismiss_and_seal",
    "Eligible for Reduction": "redesignate_misdemeanor",
    "Not eligible": "none",
    "Maybe Eligible - Flag for Review": "review",
    "Hand Review": "review",
    "To be reviewed by City Attorneys": "review",
}
# HS 11361.8(e)-(f): a completed sentence is dismissed and sealed or redesignated; (a)-(b): a
# sentence still being served is recalled and the person resentenced; 11361.9: DOJ's automatic
# review and the prosecutor's challenge period that this whole process runs under.
STATUTORY_BASIS = {
    "dismiss_and_seal": "HS 11361.8(e)-(f); HS 11361.9",
    "redesignate_misdemeanor": "HS 11361.8(e)-(f); HS 11361.9",
    "redesignate_infraction": "HS 11361.8(e)-(f); HS 11361.9",
    "recall_and_resentence": "HS 11361.8(a)-(b); HS 11361.9",
    "review": "HS 11361.9",
    "none": None,
}
RESULTING_LEVEL = {"redesignate_misdemeanor": "M", "redesignate_infraction": "I"}


def determine(
    counts: pl.DataFrame | pl.LazyFrame,
    persons: pl.DataFrame | pl.LazyFrame,
    *,
    policy: Policy,
    county: str,
    compute_at: date,
) -> pl.DataFrame:
    """One row per conviction the policy applies to (by default: cannabis convictions in `county`).

    Columns: pipelines.model.DETERMINATION first (determination, reason, rule_id, explanation,
    relief, statutory basis, ...), then every fact the rules used and the rest of FACTS.
    Sorted by person and record order, so the same inputs give the same bytes.
    """
    facts = conviction_facts_lazy(counts, persons, county=county, compute_at=compute_at)
    return apply_policy(facts, policy, compute_at=compute_at).collect(engine=ENGINE)


def apply_policy(facts: pl.LazyFrame | pl.DataFrame, policy: Policy, *, compute_at: date) -> pl.LazyFrame:
    """Determinations for the convictions in `facts` that the policy applies to (lazy)."""
    ctx = Context(compute_at)
    # Statute predicates (convicted_of, related_charge with a list) read the normalized helpers.
    scoped = with_match_columns(facts.lazy()).filter(policy.applies_to.expr(ctx))
    rules = policy.rules

    chain = pl.when(rules[0].condition.expr(ctx)).then(pl.lit(0, dtype=pl.Int32))
    for i, rule in enumerate(rules[1:], 1):
        chain = chain.when(rule.condition.expr(ctx)).then(pl.lit(i, dtype=pl.Int32))
    decided = scoped.with_columns(chain.alias("_rule"))

    idx = pl.col("_rule")
    determination = _per_rule(idx, [r.determination for r in rules])
    reason = _reason(idx, rules)
    rule_relief = _per_rule(idx, [r.relief or DEFAULT_RELIEF[r.determination] for r in rules])
    serving = ~pl.col("sentence_completed").fill_null(True)
    granted = rule_relief.is_in(["dismiss_and_seal", "redesignate_misdemeanor", "redesignate_infraction"])
    relief = (
        pl.when(granted & serving).then(pl.lit("recall_and_resentence")).otherwise(rule_relief)
        if policy.recall_while_serving else rule_relief
    )
    basis_rule = _per_rule(idx, [r.statutory_basis for r in rules])
    basis = pl.coalesce(basis_rule, relief.replace_strict(STATUTORY_BASIS, default=None, return_dtype=pl.String))
    reduced = rule_relief.is_in(["redesignate_misdemeanor", "redesignate_infraction"])
    resulting_section = pl.coalesce(
        _per_rule(idx, [r.resulting_section for r in rules]),
        pl.when(reduced).then(pl.col("statute")),
    )
    resulting_level = pl.coalesce(
        _per_rule(idx, [r.resulting_level for r in rules]),
        rule_relief.replace_strict(RESULTING_LEVEL, default=None, return_dtype=pl.String),
    )
    out = decided.with_columns(
        determination.alias("determination"),
        reason.alias("reason"),
        _per_rule(idx, [r.id for r in rules]).alias("rule_id"),
        explanation(policy).alias("explanation"),
        relief.alias("relief"),
        resulting_section.alias("resulting_section"),
        resulting_level.alias("resulting_level"),
        basis.alias("statutory_basis"),
        pl.lit(policy.name).alias("policy"),
        pl.lit(policy.version).alias("policy_version"),
        pl.lit(compute_at, dtype=pl.Date).alias("compute_at"),
    )
    used = [f for r in rules for f in r.condition.facts()]
    first = [c for c in DETERMINATION]
    rest = [f for f in dict.fromkeys([*used, *FACTS]) if f not in first]
    return out.select([pl.col(c).cast(t) for c, t in DETERMINATION.items()] + rest)


def _per_rule(idx: pl.Expr, values: list) -> pl.Expr:
    mapping = {i: v for i, v in enumerate(values) if v is not None}
    return idx.replace_strict(mapping, default=None, return_dtype=pl.String)


def _reason(idx: pl.Expr, rules) -> pl.Expr:
    if not any(r.reason_facts for r in rules):
        return _per_rule(idx, [_static(r.reason) for r in rules])
    chain = pl.when(idx == 0).then(_template(rules[0].reason))
    for i, r in enumerate(rules[1:], 1):
        chain = chain.when(idx == i).then(_template(r.reason))
    return chain.otherwise(None)


def _static(reason: str) -> str:
    return "".join(literal for literal, *_ in string.Formatter().parse(reason))


def _template(reason: str) -> pl.Expr:
    """A reason with {fact} placeholders, filled with each conviction's own values."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(reason):
        if literal:
            parts.append(pl.lit(literal))
        if name is not None:
            parts.append(fact_text(name))
    return pl.concat_str(parts) if parts else pl.lit("")


# ---------------------------------------------------------------------------------------------
# Explanations.
def fact_text(name: str) -> pl.Expr:
    """A fact's value as a short readable string ("yes", "1981-04-11", "59.7", "[187 PC]")."""
    col = pl.col(name)
    kind = _FACT_KIND.get(name, "text")
    if kind == "bool":
        text = pl.when(col).then(pl.lit("yes")).when(~col).then(pl.lit("no"))
    elif kind == "float":
        text = col.round(1).cast(pl.String)
    elif kind == "list":
        text = pl.concat_str([pl.lit("["), col.list.join(", "), pl.lit("]")])
    else:
        text = col.cast(pl.String)
    return text.fill_null("unknown")


_FACT_KIND = {
    **{k: "bool" for k in (
        "in_county", "is_felony", "is_cannabis", "is_related_charge", "cannabis_charge_in_cycle",
        "convicted_on_or_after_prop64", "only_cannabis_convictions", "superstrike_before_conviction",
        "pc290_registration", "pc290_before_conviction", "sentence_completed", "all_sentences_completed",
        "deceased")},
    **{k: "float" for k in (
        "age_at_conviction", "age_at_compute_at", "years_since_conviction", "years_since_last_conviction")},
    **{k: "list" for k in ("superstrikes_on_record", "pc290_offenses_on_record", "other_cannabis_sections_in_comment")},
}


def explanation(policy: Policy) -> pl.Expr:
    """Which rules were tried, in order, with the facts each looked at, and which one decided.

    Example: ``1 misdemeanor: no [is_felony=yes] | 2 after_prop64: no [conviction_date=1981-04-11]
    | 3 older_than_age: APPLIES [age_at_compute_at=59.7] => Eligible for Dismissal``
    """
    idx = pl.col("_rule")
    parts = []
    for i, rule in enumerate(policy.rules):
        facts = rule.condition.facts()
        if facts:
            shown = pl.concat_str(
                [pl.lit(" ["), pl.concat_str([pl.concat_str([pl.lit(f + "="), fact_text(f)]) for f in facts],
                                              separator=", "), pl.lit("]")]
            )
        else:
            shown = pl.lit("")
        head = f"{i + 1} {rule.id}: "
        # Null for a rule not tried (dropped by the separator join); `shown` is built once.
        verdict = pl.when(idx > i).then(pl.lit(head + "no")).when(idx == i).then(pl.lit(head + "APPLIES"))
        outcome = pl.when(idx == i).then(pl.lit(f" => {rule.determination}")).otherwise(pl.lit(""))
        parts.append(pl.concat_str([verdict, shown, outcome]))
    return pl.concat_str(parts, separator=" | ", ignore_nulls=True)


def explanations_long(determinations: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """One row per (conviction, rule tried): the reviewer's file. Built from `determine`'s output.

    In count_id order, then rule order. The rows are laid out in that order from the start (each
    conviction's tried rules, exploded), and the facts text of each rule, computed only for the
    convictions that tried it, is picked by position: nothing wide is sorted.
    """
    order = {r.id: i for i, r in enumerate(policy.rules)}
    base = determinations.select(
        "count_id", "person_id", "determination",
        pl.col("rule_id").replace_strict(order, return_dtype=pl.Int32).alias("_rule"),
        *[c for c in determinations.columns if c in FACTS and c not in ("count_id", "person_id")],
    ).filter(pl.col("_rule").is_not_null()).sort("count_id")  # count_id is unique: a total order
    if base.is_empty():
        return pl.DataFrame(schema={"count_id": pl.String, "step": pl.Int32, "rule_id": pl.String,
                                    "condition": pl.String, "applied": pl.Boolean, "facts": pl.String,
                                    "determination": pl.String})
    texts, start = [], {}
    for i, rule in enumerate(policy.rules):
        facts = [f for f in rule.condition.facts() if f in base.columns]
        tried = base.filter(pl.col("_rule") >= i)
        start[i] = sum(t.len() for t in texts)
        texts.append(
            tried.select(pl.concat_str([pl.concat_str([pl.lit(f + "="), fact_text(f)]) for f in facts],
                                       separator=", ")).to_series()
            if facts else pl.repeat("", tried.height, dtype=pl.String, eager=True)
        )
    step = pl.col("_step")
    applied = step == pl.col("_rule")
    return (
        base.select("count_id", "determination", "_rule",
                    pl.int_ranges(0, pl.col("_rule") + 1, dtype=pl.Int32).alias("_step"))
        .explode("_step")
        .select(
            "count_id",
            (step + 1).alias("step"),
            step.replace_strict({i: r.id for i, r in enumerate(policy.rules)}, return_dtype=pl.String)
            .alias("rule_id"),
            step.replace_strict({i: r.condition.text() for i, r in enumerate(policy.rules)}, return_dtype=pl.String)
            .alias("condition"),
            applied.alias("applied"),
            # The k-th conviction that tried rule i has its text at start[i] + k.
            pl.lit(pl.concat(texts).alias("facts"))
            .gather(step.replace_strict(start, return_dtype=pl.Int64) + pl.int_range(pl.len()).over("_step"))
            .alias("facts"),
            pl.when(applied).then(pl.col("determination")).alias("determination"),
        )
    )
