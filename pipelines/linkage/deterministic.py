"""The deterministic pass, in Polars: links no model is needed for.

A pair is linked here when it shares

- a state id (CII), an SSN or a driver's licence, and the surname, the first name (or its
  nickname) or the date of birth agrees (an identifier alone can be mistyped into someone
  else's); or
- a (county, court case number), and the name agrees, and the dates of birth do not disagree
  (co-defendants share a case number, so the name must agree).

"Name agrees": a surname in any written form (compound surnames, flattened, one token) and the
first name, its nickname, or its initial; or first and last name swapped. "Date of birth agrees":
equal, day and month transposed, or two of year / month / day equal.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

# An identifier value shared by more records than this on one side is a placeholder (000000000,
# a clerk's default), not a person: it is ignored rather than linking strangers.
MAX_RECORDS_PER_ID = 25

_SIDE_COLUMNS = (
    "unique_id", "first_name", "first_token", "last_name_flat", "last_name_tokens", "first_name_groups",
    "dob", "dob_key", "name_suffix",
)

DETERMINISTIC_MATCHES: dict[str, pl.DataType] = {
    "left_id": pl.String,
    "right_id": pl.String,
    "rules": pl.String,  # which rules linked the pair, comma-joined: "cii,case_number"
    "name_agrees": pl.Boolean,
    "dob_agrees": pl.Boolean,
}


def _side(sfx_l: str, sfx_r: str) -> tuple[Callable[[str], pl.Expr], Callable[[str], pl.Expr]]:
    """Column getters for the left and right record of a pair."""
    return (lambda name: pl.col(f"{name}{sfx_l}")), (lambda name: pl.col(f"{name}{sfx_r}"))


def _surname_agrees(sfx_l: str, sfx_r: str) -> pl.Expr:
    """The surnames agree flattened, or share a token (compound surnames written partly)."""
    left, right = _side(sfx_l, sfx_r)
    return (left("last_name_flat") == right("last_name_flat")) | (
        left("last_name_tokens").list.set_intersection(right("last_name_tokens")).list.len() > 0
    )


def _first_name_agrees(sfx_l: str, sfx_r: str) -> pl.Expr:
    """The first names agree, or one is a nickname of the other."""
    left, right = _side(sfx_l, sfx_r)
    return (
        (left("first_token") == right("first_token"))
        | left("first_name_groups").list.contains(right("first_token"))
        | right("first_name_groups").list.contains(left("first_token"))
    )


def name_agrees(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    """The two records' names agree (see module docstring)."""
    left, right = _side(sfx_l, sfx_r)
    initial = (
        ((left("first_name").str.len_chars() == 1) | (right("first_name").str.len_chars() == 1))
        & (left("first_name").str.slice(0, 1) == right("first_name").str.slice(0, 1))
    )
    first = _first_name_agrees(sfx_l, sfx_r) | initial
    swapped = right("last_name_tokens").list.contains(left("first_token")) & left(
        "last_name_tokens"
    ).list.contains(right("first_token"))
    # JR and SR (father and son, often co-defendants) are different people.
    suffix_conflict = (left("name_suffix") != right("name_suffix")).fill_null(False)
    return ((_surname_agrees(sfx_l, sfx_r) & first) | swapped).fill_null(False) & ~suffix_conflict


def name_not_contradicted(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    """Some part of the name agrees: the surname (any form), the first name or its nickname, or
    the two swapped. Weaker than `name_agrees`; enough next to an equal identifier."""
    return (_surname_agrees(sfx_l, sfx_r) | _first_name_agrees(sfx_l, sfx_r)
            | name_agrees(sfx_l, sfx_r)).fill_null(False)


def dob_agrees(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    a, b = pl.col(f"dob{sfx_l}"), pl.col(f"dob{sfx_r}")
    parts = (
        (a.dt.year() == b.dt.year()).cast(pl.Int8)
        + (a.dt.month() == b.dt.month()).cast(pl.Int8)
        + (a.dt.day() == b.dt.day()).cast(pl.Int8)
    )
    return ((pl.col(f"dob_key{sfx_l}") == pl.col(f"dob_key{sfx_r}")) | (parts >= 2)).fill_null(False)


def dob_missing(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    return pl.col(f"dob{sfx_l}").is_null() | pl.col(f"dob{sfx_r}").is_null()


def _narrow(frame: pl.DataFrame, key: str, *, explode: bool) -> pl.DataFrame:
    """(row, key): the record's row number in `frame` and its values of `key`, once each (a
    prepared frame's lists hold distinct values)."""
    out = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), pl.col(key).alias("key"))
    if explode:
        out = out.explode("key")
    return out.drop_nulls("key")


def _without_placeholders(keys: pl.DataFrame) -> pl.DataFrame:
    """Drop values carried by too many records (placeholders, mass cases). Filtering each side on
    its own counts pairs the same records as dropping a value that is too common on either side."""
    return keys.filter(pl.len().over("key") <= MAX_RECORDS_PER_ID)


def _key_pairs(left: pl.DataFrame, right: pl.DataFrame, key: str, *, dedupe: bool, explode: bool) -> pl.DataFrame:
    """(l, r, key) for records sharing a value of `key`: row numbers and the key only (cheap)."""
    lk = _without_placeholders(_narrow(left, key, explode=explode))
    rk = lk if right is left else _without_placeholders(_narrow(right, key, explode=explode))
    pairs = lk.rename({"row": "l"}).join(rk.rename({"row": "r"}), on="key", how="inner")
    if dedupe:
        # Rows follow unique_id order (see deterministic_links): l < r is left_id < right_id.
        pairs = pairs.filter(pl.col("l") < pl.col("r"))
    return pairs


def _case_pairs(left: pl.DataFrame, right: pl.DataFrame, *, dedupe: bool) -> pl.DataFrame:
    """Pairs (l, r) sharing a case as the same defendant: the same full number, or the same base
    number written without a suffix on one side. Two different suffixes on one base are
    co-defendants."""
    on_base = _key_pairs(left, right, "case_keys", dedupe=dedupe, explode=True)
    on_full = _key_pairs(left, right, "case_keys_full", dedupe=dedupe, explode=True).select("l", "r")
    l_plain = _narrow(left, "case_keys_unsuffixed", explode=True).rename({"row": "l"})
    r_plain = _narrow(right, "case_keys_unsuffixed", explode=True).rename({"row": "r"})
    plain = pl.concat([
        on_base.join(l_plain, on=["l", "key"], how="semi"),
        on_base.join(r_plain, on=["r", "key"], how="semi"),
    ]).select("l", "r")
    return pl.concat([on_full, plain]).unique()


def deterministic_links(
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    *,
    ids: tuple[str, ...] = ("cii", "ssn", "cdl"),
) -> pl.DataFrame:
    """Pairs linked by the deterministic rules, one row per pair (schema DETERMINISTIC_MATCHES).

    `left` and `right` are prepared frames (`prepare.prepare_persons`). With `right=None` the pass
    looks for duplicates within `left` (each pair once, left_id < right_id).

    Candidate pairs are found on row numbers (each rule an equi-join on its key); every distinct
    pair's two records are then gathered once, and each rule keeps the pairs whose names and dates
    of birth its condition accepts.
    """
    dedupe = right is None
    # Row numbers stand for the records: in unique_id order, so that sorting rows sorts ids.
    left = left if left["unique_id"].is_sorted() else left.sort("unique_id")
    right = left if dedupe else (right if right["unique_id"].is_sorted() else right.sort("unique_id"))
    rules = [*ids, "case_number"]
    candidates = [
        _key_pairs(left, right, key, dedupe=dedupe, explode=False).select("l", "r").unique()
        .with_columns(pl.lit(1 << i, dtype=pl.UInt8).alias("bits"))
        for i, key in enumerate(ids)
    ]
    candidates.append(_case_pairs(left, right, dedupe=dedupe).with_columns(
        pl.lit(1 << len(ids), dtype=pl.UInt8).alias("bits")))
    # Each rule lists a pair once: summing the bits of a pair's rules is or-ing them.
    pairs = pl.concat(candidates).group_by("l", "r").agg(pl.col("bits").sum()).sort("l", "r")
    cols = [c for c in _SIDE_COLUMNS if c != "unique_id"]
    l_rows, r_rows = pairs["l"], pairs["r"]
    both = pl.concat([
        pairs,
        left.select(pl.col("unique_id").alias("left_id"), *[pl.col(c).alias(f"{c}_l") for c in cols])[l_rows],
        right.select(pl.col("unique_id").alias("right_id"), *[pl.col(c).alias(f"{c}_r") for c in cols])[r_rows],
    ], how="horizontal")
    both = both.with_columns(
        name_agrees().alias("name_agrees"), dob_agrees().alias("dob_agrees"),
        name_not_contradicted().alias("_name_some"), dob_missing().alias("_dob_missing"),
    )
    # An identifier: some part of the name, or the date of birth, agrees. A case: the name agrees
    # and the dates of birth do not disagree.
    id_ok = pl.col("_name_some") | pl.col("dob_agrees")
    case_ok = pl.col("name_agrees") & (pl.col("dob_agrees") | pl.col("_dob_missing"))
    kept = [
        pl.when(((pl.col("bits") & (1 << i)) > 0) & (case_ok if rule == "case_number" else id_ok)).then(pl.lit(rule))
        for i, rule in enumerate(rules)
    ]
    return (
        both.with_columns(pl.concat_str(kept, separator=",", ignore_nulls=True).alias("rules"))
        .filter(pl.col("rules").fill_null("") != "")
        .select(list(DETERMINISTIC_MATCHES))
    )
