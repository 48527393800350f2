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


def name_agrees(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    """The two records' names agree (see module docstring)."""
    def c(name: str, side: str) -> pl.Expr:
        return pl.col(f"{name}{side}")

    last = (c("last_name_flat", sfx_l) == c("last_name_flat", sfx_r)) | (
        c("last_name_tokens", sfx_l).list.set_intersection(c("last_name_tokens", sfx_r)).list.len() > 0
    )
    first = (
        (c("first_token", sfx_l) == c("first_token", sfx_r))
        | c("first_name_groups", sfx_l).list.contains(c("first_token", sfx_r))
        | c("first_name_groups", sfx_r).list.contains(c("first_token", sfx_l))
        | (
            ((c("first_name", sfx_l).str.len_chars() == 1) | (c("first_name", sfx_r).str.len_chars() == 1))
            & (c("first_name", sfx_l).str.slice(0, 1) == c("first_name", sfx_r).str.slice(0, 1))
        )
    )
    swapped = c("last_name_tokens", sfx_r).list.contains(c("first_token", sfx_l)) & c(
        "last_name_tokens", sfx_l
    ).list.contains(c("first_token", sfx_r))
    # JR and SR (father and son, often co-defendants) are different people.
    suffix_conflict = (c("name_suffix", sfx_l) != c("name_suffix", sfx_r)).fill_null(False)
    return ((last & first) | swapped).fill_null(False) & ~suffix_conflict


def name_not_contradicted(sfx_l: str = "_l", sfx_r: str = "_r") -> pl.Expr:
    """Some part of the name agrees: the surname (any form), the first name or its nickname, or
    the two swapped. Weaker than `name_agrees`; enough next to an equal identifier."""
    def c(name: str, side: str) -> pl.Expr:
        return pl.col(f"{name}{side}")

    last = (c("last_name_flat", sfx_l) == c("last_name_flat", sfx_r)) | (
        c("last_name_tokens", sfx_l).list.set_intersection(c("last_name_tokens", sfx_r)).list.len() > 0
    )
    first = (
        (c("first_token", sfx_l) == c("first_token", sfx_r))
        | c("first_name_groups", sfx_l).list.contains(c("first_token", sfx_r))
        | c("first_name_groups", sfx_r).list.contains(c("first_token", sfx_l))
    )
    return (last | first | name_agrees(sfx_l, sfx_r)).fill_null(False)


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


def _narrow(frame: pl.DataFrame, key: str, id_name: str, *, explode: bool) -> pl.DataFrame:
    out = frame.select(pl.col("unique_id").alias(id_name), pl.col(key).alias("key"))
    if explode:
        out = out.explode("key")
    return out.drop_nulls("key").unique()


def _without_placeholders(lk: pl.DataFrame, rk: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop values carried by too many records on either side (placeholders, mass cases)."""
    common = pl.concat([
        side.group_by("key").len().filter(pl.col("len") > MAX_RECORDS_PER_ID).select("key") for side in (lk, rk)
    ]).unique()
    return lk.join(common, on="key", how="anti"), rk.join(common, on="key", how="anti")


def _key_pairs(left: pl.DataFrame, right: pl.DataFrame, key: str, *, dedupe: bool, explode: bool) -> pl.DataFrame:
    """(left_id, right_id, key) for records sharing a value of `key` (only ids and the key: cheap)."""
    lk, rk = _without_placeholders(_narrow(left, key, "left_id", explode=explode),
                                   _narrow(right, key, "right_id", explode=explode))
    pairs = lk.join(rk, on="key", how="inner")
    if dedupe:
        pairs = pairs.filter(pl.col("left_id") < pl.col("right_id"))
    return pairs


def _attach(pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """The records' name and date-of-birth columns next to each pair."""
    cols = [c for c in _SIDE_COLUMNS if c != "unique_id"]
    return (
        pairs.join(left.select(pl.col("unique_id").alias("left_id"), *[pl.col(c).alias(f"{c}_l") for c in cols]),
                   on="left_id", how="left")
        .join(right.select(pl.col("unique_id").alias("right_id"), *[pl.col(c).alias(f"{c}_r") for c in cols]),
              on="right_id", how="left")
        .with_columns(name_agrees().alias("name_agrees"), dob_agrees().alias("dob_agrees"))
    )


def _case_pairs(left: pl.DataFrame, right: pl.DataFrame, *, dedupe: bool) -> pl.DataFrame:
    """Pairs sharing a case as the same defendant: the same full number, or the same base number
    written without a suffix on one side. Two different suffixes on one base are co-defendants."""
    on_base = _key_pairs(left, right, "case_keys", dedupe=dedupe, explode=True)
    on_full = _key_pairs(left, right, "case_keys_full", dedupe=dedupe, explode=True).select("left_id", "right_id")
    l_plain = _narrow(left, "case_keys_unsuffixed", "left_id", explode=True)
    r_plain = _narrow(right, "case_keys_unsuffixed", "right_id", explode=True)
    plain = pl.concat([
        on_base.join(l_plain, on=["left_id", "key"], how="semi"),
        on_base.join(r_plain, on=["right_id", "key"], how="semi"),
    ]).select("left_id", "right_id")
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
    """
    dedupe = right is None
    right = left if right is None else right
    found: list[pl.DataFrame] = []
    for key in ids:
        pairs = _key_pairs(left, right, key, dedupe=dedupe, explode=False).select("left_id", "right_id").unique()
        pairs = _attach(pairs, left, right)
        found.append(
            pairs.filter(name_not_contradicted() | pl.col("dob_agrees"))
            .select("left_id", "right_id", pl.lit(key).alias("rule"), "name_agrees", "dob_agrees")
        )
    pairs = _attach(_case_pairs(left, right, dedupe=dedupe), left, right)
    found.append(
        pairs.filter(pl.col("name_agrees") & (pl.col("dob_agrees") | dob_missing()))
        .select("left_id", "right_id", pl.lit("case_number").alias("rule"), "name_agrees", "dob_agrees")
    )
    order = {k: i for i, k in enumerate([*ids, "case_number"])}
    return (
        pl.concat(found)
        .with_columns(pl.col("rule").replace_strict(order, return_dtype=pl.Int32).alias("_order"))
        .group_by("left_id", "right_id")
        .agg(
            pl.col("rule").sort_by("_order").str.join(",").alias("rules"),
            pl.col("name_agrees").any(),
            pl.col("dob_agrees").any(),
        )
        .sort("left_id", "right_id")
        .select(list(DETERMINISTIC_MATCHES))
    )
