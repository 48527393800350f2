"""Identifiers as each source writes them: court case numbers (and the surface forms DOJ's OFN
field gives them), courthouses, court person keys and DOJ SUBJECT_IDs.

Case-number styles (pipelines/synth/data/counties.csv):

- ``la``: felonies ``BA336486`` (courthouse prefix + 6 digits), misdemeanors ``97CJ04567``
  (two-digit year + courthouse code + 5 digits); co-defendants share a number with suffixes
  ``-01``, ``-02`` (``GA039399-01``).
- ``yy``: ``13F07014`` (two-digit year + level prefix + 5 digits).
- ``prefix``: ``SCD123456`` (branch prefix + 6 digits); co-defendants ``SS102036A``/``SS102036B``.

Numbers are distinct within (county, prefix[, year]), so the true case number identifies a case
within a county; the same number can occur in two counties (the case key is always county +
number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.synth.population import Population, affine_ids
from pipelines.synth.tables import counties

LA_COURTHOUSES = (
    "CENTRAL", "PASADENA", "POMONA", "VAN NUYS", "LANCASTER", "LONG BEACH", "SAN FERNANDO",
    "SANTA MONICA", "COMPTON", "NORWALK", "AIRPORT",
)
LA_PREFIX_WEIGHTS = (0.25, 0.07, 0.08, 0.1, 0.05, 0.1, 0.07, 0.05, 0.1, 0.08, 0.05)
CO_DEFENDANT_RATE = 0.10


@dataclass
class CaseNumbers:
    """Per cycle with a court step (aligned with the Population's cycles; null elsewhere)."""

    case_number: pl.Series  # the true number, as the court writes it
    doj_form: pl.Series  # as DOJ's OFN writes it (sometimes another surface form)
    courthouse: pl.Series
    filed_date: np.ndarray  # int32 days


def case_numbers(pop: Population, rng: np.random.Generator, *, doj_variant_rate: float = 0.3) -> CaseNumbers:
    """Assign every court case (cycle with a court step) a number in its county's style."""
    all_counties = counties()
    C = len(pop.cyc_person)
    filed = np.minimum(pop.arrest_date + rng.integers(0, 15, C), pop.court_date).astype(np.int32)
    u_prefix, u_codef, u_var, u_kind = (rng.random(C) for _ in range(4))

    most_serious = np.full(C, 9, dtype=np.int8)
    np.minimum.at(most_serious, pop.cnt_cycle, pop.level)
    misd = most_serious > 0

    idx = np.flatnonzero(pop.has_court)
    county = pop.cyc_county[idx]
    style = np.array([all_counties[i].case_style for i in range(len(all_counties))], dtype=object)[county]
    # Prefix per case: weighted for LA, uniform over a county's branch prefixes otherwise.
    fel = [all_counties[i].felony_prefixes for i in range(len(all_counties))]
    mis = [all_counties[i].misdemeanor_prefixes for i in range(len(all_counties))]
    n_pref = np.array([len(f) for f in fel])[county]
    la_cdf = np.cumsum(LA_PREFIX_WEIGHTS)
    pick = np.where(
        style == "la", np.minimum(np.searchsorted(la_cdf / la_cdf[-1], u_prefix[idx]), len(LA_PREFIX_WEIGHTS) - 1),
        (u_prefix[idx] * n_pref).astype(np.int64),
    )
    m = misd[idx]
    prefix_table = {(ci, 0, j): p for ci, ps in enumerate(fel) for j, p in enumerate(ps)}
    prefix_table |= {(ci, 1, j): p for ci, ps in enumerate(mis) for j, p in enumerate(ps)}
    keys = pl.DataFrame({"county": county.astype(np.int32), "misd": m.astype(np.int32), "pick": pick.astype(np.int32)})
    lut = pl.DataFrame(
        {"county": [k[0] for k in prefix_table], "misd": [k[1] for k in prefix_table], "pick": [k[2] for k in prefix_table],
         "prefix": list(prefix_table.values())},
        schema={"county": pl.Int32, "misd": pl.Int32, "pick": pl.Int32, "prefix": pl.String},
    )
    yy = pl.Series((filed[idx].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970) % 100)
    df = (
        keys.with_columns(
            cycle=pl.Series(idx), style=pl.Series(style.astype(str)), yy=yy.cast(pl.Int32),
            codef=pl.Series(u_codef[idx] < CO_DEFENDANT_RATE),
        )
        .join(lut, on=["county", "misd", "pick"], how="left")
        .with_columns(
            # LA misdemeanors and yy-style numbers restart every year.
            year_key=pl.when((pl.col("style") == "yy") | ((pl.col("style") == "la") & (pl.col("misd") == 1)))
            .then(pl.col("yy")).otherwise(-1),
            digits=pl.when(pl.col("style") == "prefix").then(6).when(pl.col("misd") == 1).then(5)
            .when(pl.col("style") == "yy").then(5).otherwise(6),
        )
        .with_columns(codef=pl.col("codef") & (pl.col("style") != "yy"))
        .sort("cycle")
    )
    group = ["county", "prefix", "year_key"]
    # Co-defendants: consecutive flagged cases of a group share one number (suffix 1, 2).
    df = df.with_columns(flag_no=pl.col("codef").cast(pl.Int64).cum_sum().over(group))
    df = df.with_columns(second=pl.col("codef") & (pl.col("flag_no") % 2 == 0))
    df = df.with_columns(slot=(~pl.col("second")).cast(pl.Int64).cum_sum().over(group) - 1)
    df = df.with_columns(
        group_id=pl.struct(group).rank("dense").cast(pl.Int64),
        size=pl.col("slot").max().over(group) + 1,
    ).with_columns(
        digits=pl.max_horizontal(pl.col("digits"), pl.col("size").cast(pl.Float64).log10().ceil().cast(pl.Int64)),
    )
    # A permutation of the slots modulo 10**digits: 3791 is coprime to 10.
    df = df.with_columns(
        number=((pl.col("slot") * 3791 + pl.col("group_id") * 104_729) % (pl.lit(10, pl.Int64).pow(pl.col("digits")))),
        suffix_no=pl.when(pl.col("codef")).then(pl.when(pl.col("second")).then(2).otherwise(1)),
    )
    digits_str = pl.col("number").cast(pl.String).str.zfill(pl.col("digits"))
    yy2 = pl.col("yy").cast(pl.String).str.zfill(2)
    base = (
        pl.when(pl.col("style") == "yy").then(pl.concat_str(yy2, pl.col("prefix"), digits_str))
        .when((pl.col("style") == "la") & (pl.col("misd") == 1)).then(pl.concat_str(yy2, pl.col("prefix"), digits_str))
        .otherwise(pl.concat_str(pl.col("prefix"), digits_str))
    )
    suffix = (
        pl.when(pl.col("suffix_no").is_null()).then(pl.lit(""))
        .when(pl.col("style") == "la").then(pl.concat_str(pl.lit("-0"), pl.col("suffix_no").cast(pl.String)))
        .otherwise(pl.when(pl.col("suffix_no") == 1).then(pl.lit("A")).otherwise(pl.lit("B")))
    )
    df = df.with_columns(base=base, suffix=suffix).with_columns(case_number=pl.concat_str("base", "suffix"))

    # DOJ sometimes writes another surface form: without the defendant suffix, with a space or a
    # dash after a letter prefix.
    kind = pl.Series(u_kind[idx])
    variant = pl.Series(u_var[idx] < doj_variant_rate)
    letters = pl.col("base").str.extract(r"^([A-Z]+)", 1)
    rest = pl.col("base").str.slice(letters.str.len_chars())
    df = df.with_columns(kind=kind, variant=variant).with_columns(
        doj_form=pl.when(~pl.col("variant")).then(pl.col("case_number"))
        .when((pl.col("suffix") != "") & (pl.col("kind") < 0.6)).then(pl.col("base"))
        .when(letters.is_not_null() & (pl.col("kind") < 0.8)).then(pl.concat_str(letters, pl.lit(" "), rest, pl.col("suffix")))
        .when(letters.is_not_null()).then(pl.concat_str(letters, pl.lit("-"), rest, pl.col("suffix")))
        .otherwise(pl.col("case_number"))
    )
    names = [c.name for c in all_counties]
    df = df.with_columns(
        courthouse=pl.when(pl.col("style") == "la")
        .then(pl.col("pick").replace_strict(list(range(len(LA_COURTHOUSES))), list(LA_COURTHOUSES), default=None,
                                            return_dtype=pl.String))
        .otherwise(pl.col("county").replace_strict(list(range(len(names))), names, return_dtype=pl.String))
    )

    full = pl.DataFrame({"cycle": np.arange(C, dtype=np.int64)}).join(
        df.select("cycle", "case_number", "doj_form", "courthouse"), on="cycle", how="left",
    )
    return CaseNumbers(
        case_number=full["case_number"], doj_form=full["doj_form"], courthouse=full["courthouse"], filed_date=filed,
    )


@dataclass
class PersonKeys:
    court_key: pl.Series  # per person: the court's primary person key
    court_key2: pl.Series  # per person: a second key for some people (null otherwise)
    subject_id: pl.Series  # per person: DOJ SUBJECT_ID
    subject_id2: pl.Series  # per person: a second SUBJECT_ID (for people DOJ split), else null


def person_keys(pop: Population, county_name: str, split: np.ndarray, rng: np.random.Generator, *,
                duplicate_key_rate: float = 0.08) -> PersonKeys:
    """Court person keys (some people get a second key, as court CMSs create duplicate person
    records) and DOJ SUBJECT_IDs (a second one for the people DOJ filed twice)."""
    P = pop.n_persons
    keys = affine_ids(2 * P, 89_999_999, rng) + 10_000_000
    sids = affine_ids(2 * P, 89_999_999, rng) + 10_000_000
    dup = rng.random(P) < duplicate_key_rate
    prefix = "S" if county_name == "SAN FRANCISCO" else ""
    k1 = pl.Series(keys[:P]).cast(pl.String)
    k2 = pl.Series(keys[P:]).cast(pl.String)
    return PersonKeys(
        court_key=(prefix + k1) if prefix else k1,
        court_key2=pl.select(pl.when(pl.Series(dup)).then(pl.lit(prefix) + k2)).to_series(),
        subject_id=pl.Series(sids[:P]).cast(pl.String),
        subject_id2=pl.select(pl.when(pl.Series(split)).then(pl.Series(sids[P:]).cast(pl.String))).to_series(),
    )
