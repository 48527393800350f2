"""Offense levels (felony / misdemeanor / infraction) as written by courts and DOJ -> ``F``/``M``/``I``.

==========================================================  =======  ==========
written (case-insensitive, surrounding blanks/dots ignored)  level    is_wobbler
==========================================================  =======  ==========
``F``, ``FE``, ``FEL``, ``FELONY``                           ``F``    false
``M``, ``MI``, ``MS``, ``MISD``, ``MISDEMEANOR``             ``M``    false
``I``, ``IN``, ``INF``, ``INFR``, ``INFRACTION``             ``I``    false
``W``, ``WOB``, ``WOBBLER``, ``F/M``, ``M/F``, ``FM``, ``MF``  ``F``    true
anything else, blank                                         null     false
==========================================================  =======  ==========

A *wobbler* is an offense chargeable as either felony or misdemeanor. Written with no further
information it counts as a felony: under PC 17(b) a wobbler stays a felony until the court reduces
it, and treating it as a felony is the side that keeps a person eligible for relief (reduction).
DOJ's ``CONV_STAT_DESCR`` values (``FELONY``, ``MISDEMEANOR``, ``INFRACTION``) read the same way.
"""

from __future__ import annotations

import polars as pl

_FELONY = ("F", "FE", "FEL", "FELONY")
_MISDEMEANOR = ("M", "MI", "MS", "MISD", "MISDEMEANOR")
_INFRACTION = ("I", "IN", "INF", "INFR", "INFRACTION")
_WOBBLER = ("W", "WOB", "WOBBLER", "F/M", "M/F", "FM", "MF", "F-M", "M-F")

LEVEL_TABLE: dict[str, str] = {
    **dict.fromkeys(_FELONY, "F"),
    **dict.fromkeys(_MISDEMEANOR, "M"),
    **dict.fromkeys(_INFRACTION, "I"),
    **dict.fromkeys(_WOBBLER, "F"),
}


def _clean(raw: pl.Expr) -> pl.Expr:
    return raw.str.to_uppercase().str.strip_chars(" .\t")


def normalize_level(raw: pl.Expr) -> pl.Expr:
    """``F`` / ``M`` / ``I`` from a level as written; null when blank or unknown."""
    return _clean(raw).replace_strict(LEVEL_TABLE, default=None, return_dtype=pl.String)


def is_wobbler(raw: pl.Expr) -> pl.Expr:
    """True where the level was written as a wobbler (chargeable either way); false otherwise."""
    return _clean(raw).is_in(list(_WOBBLER)).fill_null(False)
