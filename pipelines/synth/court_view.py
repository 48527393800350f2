"""The court's view: every charge of every case the county's court still has, one row per
charge, as keyed into a case-management system (with the noise of CourtNoise), in canonical
court field names. layouts.py turns this frame into a file of a given layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.synth.coverage import Coverage
from pipelines.synth.noise import CourtNoise, accent, dob_noise, pick_nickname, typo
from pipelines.synth.numbering import CaseNumbers, PersonKeys
from pipelines.synth.population import (
    ACQUITTED,
    CONVICTED,
    DAYS,
    FINE,
    FIRST_DAY,
    LAST_DAY,
    MONTHS,
    NO_DAY,
    RACES,
    SUFFIXES,
    YEARS,
    Population,
    ragged,
)
from pipelines.synth.tables import County, charge_table, name_tables

LEVEL_LETTERS = ("F", "M", "I")
LEVEL_WORDS = ("FEL", "MISD", "INF")

# Court dispositions (code, description): convictions, dismissals, plea-bargain dismissals,
# acquittals.
CONVICTION_DISPOSITIONS = (
    ("GP", "GUILTY PLEA"), ("NC", "NOLO CONTENDERE PLEA"), ("CV", "CONVICTED"), ("GJ", "GUILTY - JURY TRIAL"),
    ("GC", "GUILTY - COURT TRIAL"),
)
DISMISSAL_DISPOSITIONS = (
    ("DM", "DISMISSED"), ("DF", "DISMISSED - FURTHERANCE OF JUSTICE PC 1385"), ("DV", "DISMISSED - DIVERSION COMPLETED"),
)
PLEA_DISPOSITIONS = (("DP", "DISMISSED - PLEA BARGAIN"), ("DM", "DISMISSED"), ("DO", "DISMISSED - OTHER COUNT PLED"))
ACQUITTAL_DISPOSITIONS = (("NG", "NOT GUILTY"),)
REMARKS = ("BENCH WARRANT ISSUED", "PROB VIOL", "REFERRED TO PROBATION", "DEF FAILED TO APPEAR", "FINE PAID")



@dataclass
class CourtView:
    """The court extract in canonical court fields (one row per charge per extract) plus, in
    `truth`, the true identity of each row (aligned by row)."""

    rows: pl.DataFrame
    truth: pl.DataFrame
    windows: list[tuple[str, str]]  # per extract: (first, last) filed date covered, ISO


def _strings(table: np.ndarray | pl.Series, idx: np.ndarray) -> pl.Series:
    """Gather strings of `table` at `idx`; null where idx < 0."""
    table = table if isinstance(table, pl.Series) else pl.Series(list(table), dtype=pl.String)
    s = table.gather(np.maximum(idx, 0))
    return pl.select(pl.when(pl.lit(pl.Series(idx >= 0))).then(s)).to_series()


def _dates(days: np.ndarray) -> pl.Series:
    """int32 days (or NO_DAY for none) as a Date series."""
    return pl.select(
        pl.when(pl.lit(pl.Series(days != NO_DAY))).then(pl.lit(pl.Series(days.astype(np.int32))).cast(pl.Date))
    ).to_series()


def build(
    pop: Population, cov: Coverage, cn: CaseNumbers, keys: PersonKeys, county: County, rng: np.random.Generator,
    *, noise: CourtNoise, refreshes: int = 1,
) -> CourtView:
    """The court extract rows of the county's cases (all charges), with noise, per refresh."""
    nt = name_tables()
    ct = charge_table()
    cases = np.flatnonzero(cov.county_case & ~cov.purged)
    n_cases = len(cases)
    person = pop.cyc_person[cases]

    # ---- the defendant as keyed on each case -------------------------------------------------
    u = {name: rng.random(n_cases) for name in (
        "compound", "typo_last", "typo_first", "nick", "swap", "middle", "suffix", "accent", "key2", "ssn", "dl",
        "fbi", "ssn_dash", "dl_ca", "cii_letter",
    )}
    last1 = pop.last[person]
    last2 = pop.last2[person]
    compound_form = np.where(
        last2 < 0, 0, np.select(
            [u["compound"] < noise.compound_full, u["compound"] < noise.compound_full + (1 - noise.compound_full) / 3,
             u["compound"] < noise.compound_full + 2 * (1 - noise.compound_full) / 3], [0, 1, 2], 3,
        ),
    )
    first_idx = pop.first[person]
    nick, nick_applied = pick_nickname(first_idx, u["nick"] < noise.nickname, rng)
    middle = pop.middle[person]
    middle_form = np.where(middle < 0, 2, np.select(
        [u["middle"] < noise.middle_full, u["middle"] < noise.middle_full + noise.middle_initial], [0, 1], 2))
    df = pl.DataFrame({
        "l1": _strings(nt.surname_series, last1), "l2": _strings(nt.surname_series, last2),
        "first": nt.first_name_series.gather(first_idx), "nick": pl.Series(nick),
        "mid": _strings(nt.first_name_series, middle), "suf": _strings(np.array(SUFFIXES, dtype=object), pop.suffix[person]),
        "cform": pl.Series(compound_form), "mform": pl.Series(middle_form),
    })
    df = df.with_columns(
        last=pl.when(pl.col("cform") == 0).then(pl.concat_str("l1", "l2", separator=" ", ignore_nulls=True))
        .when(pl.col("cform") == 1).then(pl.concat_str("l1", pl.lit("-"), "l2"))
        .when(pl.col("cform") == 2).then(pl.col("l1")).otherwise(pl.col("l2")),
        first=pl.when(pl.lit(pl.Series(nick_applied))).then(pl.col("nick")).otherwise(pl.col("first")),
        middle=pl.when(pl.col("mform") == 0).then(pl.col("mid")).when(pl.col("mform") == 1).then(pl.col("mid").str.slice(0, 1)),
        suffix=pl.when(pl.lit(pl.Series(u["suffix"] < 0.7))).then(pl.col("suf")),
    )
    accented = u["accent"] < noise.accent
    df = df.with_columns(last=accent("last", accented), first=accent("first", accented))
    df = df.with_columns(
        last=typo("last", u["typo_last"] < noise.name_typo * 0.6, rng),
        first=typo("first", u["typo_first"] < noise.name_typo * 0.4, rng),
    )
    swap = pl.lit(pl.Series(u["swap"] < noise.swapped_names))
    df = df.with_columns(
        last_name=pl.when(swap).then(pl.col("first")).otherwise(pl.col("last")),
        first_name=pl.when(swap).then(pl.col("last")).otherwise(pl.col("first")),
    )
    dob_written, dob_kind = dob_noise(pop.dob[person], noise, rng)

    cii_digits = pl.Series(pop.cii[person]).cast(pl.String)
    has_letter = pop.cii_letter[person] & (u["cii_letter"] >= noise.cii_letter_dropped)
    ssn = pop.ssn[person]
    ssn_ok = (ssn >= 0) & (u["ssn"] < noise.ssn_present)
    ssn_s = pl.Series(np.maximum(ssn, 0)).cast(pl.String).str.zfill(9)
    dl = pop.dl[person]
    dl_ok = (dl >= 0) & (u["dl"] < noise.dl_present)
    fbi = pop.fbi[person]
    fbi_ok = (fbi >= 0) & (u["fbi"] < 0.3)
    use_key2 = keys.court_key2.gather(person).is_not_null() & pl.Series(u["key2"] < 0.5)
    race_codes = np.array([r[0] for r in RACES], dtype=object)
    case_df = pl.DataFrame({
        "case_number": cn.case_number.gather(cases),
        "courthouse": cn.courthouse.gather(cases),
        "person_key": pl.select(pl.when(use_key2).then(keys.court_key2.gather(person))
                                .otherwise(keys.court_key.gather(person))).to_series(),
        "last_name": df["last_name"], "first_name": df["first_name"], "middle_name": df["middle"],
        "name_suffix": df["suffix"],
        "dob": _dates(dob_written),
        "gender": pl.Series(np.where(pop.gender[person] == 0, "M", "F")),
        "race": pl.Series(race_codes[pop.race[person]].astype(str)),
        "cii_full": pl.select(pl.when(pl.lit(pl.Series(has_letter))).then(pl.lit("A") + cii_digits).otherwise(cii_digits)).to_series(),
        "ssn": pl.select(pl.when(pl.lit(pl.Series(ssn_ok))).then(
            pl.when(pl.lit(pl.Series(u["ssn_dash"] < 0.3)))
            .then(pl.concat_str(ssn_s.str.slice(0, 3), pl.lit("-"), ssn_s.str.slice(3, 2), pl.lit("-"), ssn_s.str.slice(5)))
            .otherwise(pl.lit(ssn_s)))).to_series(),
        "dl_number": pl.select(pl.when(pl.lit(pl.Series(dl_ok))).then(
            pl.concat_str(pl.lit("A"), pl.lit(pl.Series(np.maximum(dl, 0))).cast(pl.String).str.zfill(7),
                          pl.when(pl.lit(pl.Series(u["dl_ca"] < 0.3))).then(pl.lit(" CA")).otherwise(pl.lit(""))))).to_series(),
        "fbi": pl.select(pl.when(pl.lit(pl.Series(fbi_ok))).then(
            pl.lit(pl.Series(np.maximum(fbi, 0))).cast(pl.String).str.zfill(9))).to_series(),
        "filed_date": _dates(cn.filed_date[cases]),
        "_case": pl.Series(np.arange(n_cases)),
        "_dob_kind": pl.Series(dob_kind),
        "_nickname": pl.Series(nick_applied),
        "_swapped": pl.Series(u["swap"] < noise.swapped_names),
        "_compound_form": pl.Series(compound_form.astype(np.int8)),
    })

    # ---- one row per charge ------------------------------------------------------------------
    case_of_row, within, _ = ragged(pop.n_counts[cases])
    k = pop.first_count[cases][case_of_row] + within
    R = len(k)
    ru = {name: rng.random(R) for name in ("cii", "cnv", "cnk", "com", "comk", "mis", "misk", "form", "formk", "disp", "rem")}
    charge = pop.charge[k]
    disp = pop.disposition[k]
    code = ct.code[charge]
    section = ct.section[charge]
    sub = ct.subsection[charge]
    # Sections a hurried clerk mistypes: two adjacent digits swapped in an all-digit section.
    miskey = (ru["mis"] < noise.miskeyed_section) & np.char.isdigit(section.astype(str)) & (np.char.str_len(section.astype(str)) >= 4)
    rows = pl.DataFrame({
        "_case": pl.Series(case_of_row),
        "count_number": pl.Series((within + 1).astype(np.int32)),
        "code": pl.Series(code.astype(str)), "section": pl.Series(section.astype(str)), "sub": pl.Series(sub.astype(str)),
        "charge_description": pl.Series(ct.description[charge].astype(str)),
        "level": pl.Series(pop.level[k]),
        "offense_date": _dates(pop.arrest_date[pop.cnt_cycle[k]]),
        "disposition_date": _dates(np.where(disp >= 0, pop.court_date[pop.cnt_cycle[k]], NO_DAY)),
        "_miskey": pl.Series(miskey), "_misk": pl.Series(ru["misk"]),
    })
    rows = rows.with_columns(
        _k=pl.col("section").str.len_chars().cast(pl.Int64) - 3 + (pl.col("_misk") * 2).floor().cast(pl.Int64),
    )
    sec, kk = pl.col("section"), pl.col("_k")
    section_written = pl.when(pl.col("_miskey")).then(
        pl.concat_str(sec.str.slice(0, kk), sec.str.slice(kk + 1, 1), sec.str.slice(kk, 1), sec.str.slice(kk + 2))
    ).otherwise(sec)
    amp = pl.col("code").replace({"HS": "H&S", "BP": "B&P"})
    usual = sum(map(ord, county.name)) % 5  # each court has its usual way of writing a statute
    form = np.where(ru["form"] < noise.charge_form_other, (usual + 1 + (ru["formk"] * 4).astype(np.int64)) % 5, usual)
    rows = rows.with_columns(sw=section_written, form=pl.Series(form))
    statute = (
        pl.when(pl.col("form") == 0).then(pl.concat_str("sw", "sub", "code"))
        .when(pl.col("form") == 1).then(pl.concat_str("code", pl.lit(" "), "sw", pl.col("sub").str.to_lowercase()))
        .when(pl.col("form") == 2).then(pl.concat_str("sw", "sub", pl.lit(" "), amp))
        .when(pl.col("form") == 3).then(pl.concat_str(amp, "sw", "sub"))
        .otherwise(pl.concat_str("sw", "sub", pl.lit(" "), "code"))
    )
    in_comment = ru["com"] < noise.charge_in_comment
    comment_forms = (
        pl.when(pl.lit(pl.Series(ru["comk"] < 0.5))).then(pl.concat_str(pl.lit(":CHRG "), "sw", "sub", pl.lit(" "), "code"))
        .otherwise(pl.concat_str(pl.lit("CHARGE "), "sw", "sub", pl.lit(" "), "code", pl.lit("-"), "charge_description"))
    )
    remark = _strings(np.array(REMARKS, dtype=object),
                      np.where(ru["rem"] < 0.02, (ru["rem"] * 1000).astype(np.int64) % len(REMARKS), -1))
    level_words = sum(map(ord, county.name)) % 2 == 1
    rows = rows.with_columns(
        statute=statute,
        in_comment=pl.Series(in_comment),
        charge_level=pl.col("level").replace_strict([0, 1, 2], list(LEVEL_WORDS if level_words else LEVEL_LETTERS),
                                                    return_dtype=pl.String),
    ).with_columns(
        charge=pl.when(pl.col("in_comment")).then(
            pl.when(pl.lit(pl.Series(ru["comk"] < 0.25))).then(pl.lit("SEE COMMENT")).otherwise(pl.lit(None, pl.String))
        ).otherwise(pl.col("statute")),
        comment=pl.when(pl.col("in_comment")).then(comment_forms).otherwise(pl.lit(remark)),
    )

    # Dispositions as the court writes them.
    table = CONVICTION_DISPOSITIONS + DISMISSAL_DISPOSITIONS + PLEA_DISPOSITIONS + ACQUITTAL_DISPOSITIONS
    which = np.full(R, -1, dtype=np.int64)
    plea = pop.plea_dismissal[k]
    start = 0
    for sel, group in (
        (disp == CONVICTED, CONVICTION_DISPOSITIONS),
        ((disp != CONVICTED) & (disp != ACQUITTED) & (disp >= 0) & ~plea, DISMISSAL_DISPOSITIONS),
        (plea, PLEA_DISPOSITIONS), (disp == ACQUITTED, ACQUITTAL_DISPOSITIONS),
    ):
        which[sel] = start + np.minimum((ru["disp"][sel] * len(group)).astype(np.int64), len(group) - 1)
        start += len(group)
    codes = _strings(np.array([t[0] for t in table], dtype=object), which)
    texts = _strings(np.array([t[1] for t in table], dtype=object), which)
    place = pop.sent_place[k]
    length = pop.sent_length[k]
    unit = pop.sent_unit[k]
    # The court's row carries the first sentence part (custody where there is one); a fine has no length.
    main_len = np.where((place[:, 0] >= 0) & (place[:, 0] != FINE), length[:, 0], -1)
    main_unit = unit[:, 0]
    rows = rows.with_columns(
        disposition_code=codes, disposition=texts,
        sentence_length=pl.select(pl.when(pl.lit(pl.Series(main_len >= 0))).then(pl.lit(pl.Series(main_len)).cast(pl.String))).to_series(),
        sentence_unit=pl.select(pl.when(pl.lit(pl.Series(main_len >= 0))).then(
            pl.lit(pl.Series(main_unit)).replace_strict([DAYS, MONTHS, YEARS, -1], ["D", "M", "Y", None], return_dtype=pl.String))).to_series(),
    )

    # Join the defendant columns; CII only on some rows; the case number now and then in another form.
    out = rows.join(case_df, on="_case", how="left", maintain_order="left")
    cnv = pl.Series(ru["cnv"] < noise.case_number_variant)
    letters = pl.col("case_number").str.extract(r"^([A-Z]+)", 1)
    out = out.with_columns(
        court_case_number=pl.when(pl.lit(cnv)).then(
            pl.when(pl.lit(pl.Series(ru["cnk"] < 0.5)) & letters.is_not_null())
            .then(pl.concat_str(letters, pl.lit(" "), pl.col("case_number").str.slice(letters.str.len_chars())))
            .otherwise(pl.col("case_number").str.to_lowercase())
        ).otherwise(pl.col("case_number")),
        cii=pl.when(pl.lit(pl.Series(ru["cii"] >= noise.cii_missing))).then(pl.col("cii_full")),
        county=pl.lit(county.name),
    )

    # Refreshes: K extracts whose filed-date windows overlap (each later one re-reads the end of
    # the previous window).
    span = (LAST_DAY + 1 - FIRST_DAY) / max(refreshes, 1)
    overlap = max(365.0, span * 0.25)
    filed = cn.filed_date[cases][case_of_row]
    parts, windows = [], []
    for r in range(max(refreshes, 1)):
        lo = FIRST_DAY if r == 0 else int(FIRST_DAY + r * span - overlap)
        hi = LAST_DAY if r == refreshes - 1 else int(FIRST_DAY + (r + 1) * span) - 1
        if r == 0:
            lo = min(lo, int(filed.min(initial=FIRST_DAY)))
        sel = (filed >= lo) & (filed <= hi)
        parts.append(np.flatnonzero(sel))
        windows.append((str(np.datetime64(lo, "D")), str(np.datetime64(hi, "D"))))
    extract = np.concatenate([np.full(len(p), i, dtype=np.int16) for i, p in enumerate(parts)])
    take = np.concatenate(parts)

    columns = [
        "court_case_number", "courthouse", "count_number", "person_key", "last_name", "first_name", "middle_name",
        "name_suffix", "dob", "gender", "race", "cii", "ssn", "dl_number", "fbi", "charge", "charge_level",
        "charge_description", "offense_date", "filed_date", "disposition_code", "disposition", "disposition_date",
        "sentence_length", "sentence_unit", "comment", "county",
    ]
    truth = pl.DataFrame({
        "extract": pl.Series(extract),
        "true_person_uid": pl.Series(pop.person_uid[person][case_of_row][take]),
        "cycle": pl.Series(cases[case_of_row][take]),
        "count": pl.Series(k[take]),
        "true_case_number": cn.case_number.gather(cases[case_of_row][take]),
        "count_number": pl.Series((within + 1).astype(np.int32)[take]),
        "charge_index": pl.Series(charge[take]),
        "charge_miskeyed": pl.Series(miskey[take]),
        "charge_in_comment": pl.Series(in_comment[take]),
    })
    body = out.select([*columns, "_dob_kind", "_nickname", "_swapped", "_compound_form"])[take]
    return CourtView(rows=body.select(columns), truth=pl.concat([truth, body.select(pl.exclude(columns))], how="horizontal"),
                     windows=windows)
