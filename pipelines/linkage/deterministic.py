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
    "dob", "dob_key", "name_suffix", "case_keys_full", "case_keys_unsuffixed",
)

DETERMINISTIC_MATCHES: dict[str, pl.DataType] = {
    "left_id": pl.String,
    "right_id": pl.String,
    "rules": pl.String,  # which rules linked the pair, comma-joined: "cii,case_number"
    "name_agrees": pl.Boolean,
    "dob_agrees": pl.Boolean,
}


def _side(frame: pl.DataFrame, key: str, suffix: str) -> pl.DataFrame:
    cols = [c for c in _SIDE_COLUMNS if c != key]
    return frame.select(key, *[pl.col(c).alias(f"{c}{suffix}") for c in cols])


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


def _pairs_on(left: pl.DataFrame, right: pl.DataFrame, key: str, *, dedupe: bool, explode: bool) -> pl.DataFrame:
    lk = left.filter(pl.col(key).is_not_null())
    rk = right.filter(pl.col(key).is_not_null())
    if explode:
        lk = lk.explode(key)
        rk = rk.explode(key)
    # Placeholders: values carried by too many records on either side.
    for side in (lk, rk):
        common = side.group_by(key).len().filter(pl.col("len") > MAX_RECORDS_PER_ID).select(key)
        lk = lk.join(common, on=key, how="anti")
        rk = rk.join(common, on=key, how="anti")
    pairs = _side(lk, key, "_l").join(_side(rk, key, "_r"), on=key, how="inner")
    pairs = pairs.rename({"unique_id_l": "left_id", "unique_id_r": "right_id"})
    if dedupe:
        pairs = pairs.filter(pl.col("left_id") < pl.col("right_id"))
    return pairs.unique(["left_id", "right_id"], keep="first")


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
        pairs = _pairs_on(left, right, key, dedupe=dedupe, explode=False)
        pairs = pairs.with_columns(name_agrees().alias("name_agrees"), dob_agrees().alias("dob_agrees"))
        found.append(
            pairs.filter(name_not_contradicted() | pl.col("dob_agrees"))
            .select("left_id", "right_id", pl.lit(key).alias("rule"), "name_agrees", "dob_agrees")
        )
    pairs = _pairs_on(left, right, "case_keys", dedupe=dedupe, explode=True)
    # The joined base number must not carry two different defendant suffixes (co-defendants).
    same_defendant = (
        pl.col("case_keys_full_l").list.set_intersection(pl.col("case_keys_full_r")).list.len() > 0
    ) | pl.col("case_keys_unsuffixed_l").list.contains(pl.col("case_keys")) | pl.col(
        "case_keys_unsuffixed_r"
    ).list.contains(pl.col("case_keys"))
    pairs = pairs.with_columns(name_agrees().alias("name_agrees"), dob_agrees().alias("dob_agrees"))
    found.append(
        pairs.filter(pl.col("name_agrees") & (pl.col("dob_agrees") | dob_missing()) & same_defendant.fill_null(False))
        .select("left_id", "right_id", pl.lit("case_number").alias("rule"), "name_agrees", "dob_agrees")
    )
    order = {k: i for i, k in enumerate([*ids, "case_number"])}
    return (
        pl.concat(found)
        .with_columns(pl.col("rule").replace_strict(order, return_dtype=pl.Int32).alias("_order"))
        .sort("left_id", "right_id", "_order")
        .group_by("left_id", "right_id", maintain_order=True)
        .agg(
            pl.col("rule").str.join(",").alias("rules"),
            pl.col("name_agrees").any(),
            pl.col("dob_agrees").any(),
        )
        .select(list(DETERMINISTIC_MATCHES))
    )
