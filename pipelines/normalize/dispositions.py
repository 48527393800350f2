"""Dispositions as written -> ``convicted`` / ``dismissed`` / ``acquitted`` / ``pending`` / ``unknown``.

Only ``convicted`` is a conviction. A charge dismissed as part of a plea bargain (the person
pleaded to another count) is ``dismissed``, never a conviction: San Diego's estimate of 5,000
eligible cases fell to about 500 once those were excluded (DOMAIN.md section 1).

How a row is classified, first match wins:

1. its **code** in the code table: the shipped ``DISPOSITION_CODES`` (below) updated with the
   layout's own ``disposition_codes`` (a court's code list belongs in its layout file);
2. its **description**, upper-cased, against these patterns in this order:

   ===========  ============================================================================
   result       description contains
   ===========  ============================================================================
   acquitted    ``NOT GUILTY``, ``ACQUIT``
   convicted    ``1203.4`` / ``EXPUNG`` (a conviction later set aside under PC 1203.4 was a
                conviction: relief under HS 11361.8 still applies to it)
   dismissed    ``DISMISS``, ``DISM``, ``1385``, ``NOLLE``, ``DROPPED``, ``NOT FILED``,
                ``NO COMPLAINT``, ``COMPLAINT DENIED``, ``DECLINED``, ``REJECT``, ``VACATED``,
                ``DISCHARGED`` — checked before the conviction words, so ``DISMISSED PER
                PLEA`` and ``PLEA BARGAIN - COUNT DISMISSED`` are dismissals
   pending      ``PENDING``, ``ACTIVE``, ``WARRANT``, ``DIVERSION``, ``DEJ``, ``DEFERRED``,
                ``CONTINUED``, ``HELD TO ANSWER``, ``CERTIFIED``
   convicted    ``CONVICT``, ``GUILTY``, ``PLEA``, ``PLED``, ``NOLO``, ``SENTENCED``, ``JAIL``,
                ``PRISON``, ``PROBATION``, ``FINE``, ``TIME SERVED``, ``CYA``, ``DJJ``,
                ``STATE HOSPITAL``, ``FORFEIT`` (bail forfeiture is a conviction, VC 1803)
   ===========  ============================================================================

3. otherwise ``unknown`` (blank, or words we cannot read: e.g. DOJ's ``REL/TOT OTHER
   JURIS/AUTH``). Unknown is not a conviction; the data-quality report counts them.

Code table shipped (extend it per court in the layout's ``disposition_codes``):

======  ====================================  =========
code    description (San Francisco CMS)       result
======  ====================================  =========
190     COUNTY JAIL W/ PROBATION CONDITION    convicted
======  ====================================  =========
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from pipelines.model import DISPOSITIONS

DISPOSITION_CODES: dict[str, str] = {
    "190": "convicted",  # San Francisco: COUNTY JAIL W/ PROBATION CONDITION
}

# (result, pattern) in order; the first pattern found in the upper-cased description decides.
DESCRIPTION_RULES: tuple[tuple[str, str], ...] = (
    ("acquitted", r"NOT GUILTY|ACQUIT"),
    ("convicted", r"1203\.4|EXPUNG"),
    (
        "dismissed",
        r"DISMISS|\bDISM\b|1385|NOLLE|DROPPED|NOT FILED|NO COMPLAINT|COMPLAINT DENIED|DECLINED|REJECT|VACATED|DISCHARGED",
    ),
    ("pending", r"PENDING|\bACTIVE\b|WARRANT|DIVERSION|\bDEJ\b|DEFERRED|CONTINUED|HELD TO ANSWER|CERTIFIED"),
    (
        "convicted",
        r"CONVICT|GUILTY|\bPLEA|\bPLED\b|NOLO|SENTENCED|JAIL|PRISON|PROBATION|\bFINE|TIME SERVED|\bCYA\b|\bDJJ\b|STATE HOSPITAL|FORFEIT",
    ),
)


def _code_key(code: pl.Expr) -> pl.Expr:
    # " 190" and "190" are the same code; so are "0190" and "190" only if the table says so.
    return code.cast(pl.String).str.strip_chars().str.to_uppercase()


def classify_disposition(
    code: pl.Expr | None = None, text: pl.Expr | None = None, *, codes: Mapping[str, str] | None = None
) -> pl.Expr:
    """One of ``pipelines.model.DISPOSITIONS`` from a disposition code and/or description."""
    table = {**DISPOSITION_CODES, **{str(k).strip().upper(): v for k, v in (codes or {}).items()}}
    unknown = [v for v in table.values() if v not in DISPOSITIONS]
    if unknown:
        raise ValueError(f"disposition code table maps to {unknown!r}; allowed: {', '.join(DISPOSITIONS)}")
    by_text: pl.Expr = pl.lit("unknown")
    if text is not None:
        upper = text.cast(pl.String).str.to_uppercase()
        chain = None
        for result, pattern in DESCRIPTION_RULES:
            cond = upper.str.contains(pattern)
            chain = pl.when(cond).then(pl.lit(result)) if chain is None else chain.when(cond).then(pl.lit(result))
        by_text = chain.otherwise(pl.lit("unknown"))
    if code is None or not table:
        return by_text.alias("disposition")
    by_code = _code_key(code).replace_strict(table, default=None, return_dtype=pl.String)
    return pl.coalesce(by_code, by_text).alias("disposition")


def is_conviction(disposition: pl.Expr) -> pl.Expr:
    """True only for ``convicted``."""
    return (disposition == "convicted").fill_null(False)
