"""The court's view: every charge of every case the county's court still has, one row per
charge, as keyed into a case-management system (with the noise of CourtNoise), in canonical
court field names. court_files.py writes it as a file of a given layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from pipelines.synth.coverage import Coverage
from pipelines.synth.noise import CourtNoise, accent, dob_noise, pick_nickname, typo
from pipelines.synth.numbering import CaseNumbers, PersonKeys
from pipelines.synth.population import (
    ACQUITTED,
    CONVICTED,
    FINE,
    FIRST_DAY,
    LAST_DAY,
    NO_DAY,
    RACES,
    SUFFIXES,
    Population,
    ragged,
)
from pipelines.synth.tables import County, charge_table, labels, name_tables

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

COLUMNS = (
    "court_case_number", "courthouse", "count_number", "person_key", "last_name", "first_name", "middle_name",
    "name_suffix", "dob", "gender", "race", "cii", "ssn", "dl_number", "fbi", "charge", "charge_level",
    "charge_description", "offense_date", "filed_date", "disposition_code", "disposition", "disposition_date",
    "sentence_length", "sentence_unit", "comment", "county",
)


def _text(table: pl.Series, idx: str) -> pl.Expr:
    """`table[idx]` per row, null where the index is negative."""
    i = pl.col(idx)
    return pl.when(i >= 0).then(pl.lit(table).gather(i.clip(lower_bound=0)))


def _day(col: str) -> pl.Expr:
    return pl.when(pl.col(col) != NO_DAY).then(pl.col(col).cast(pl.Date))


@dataclass
class CourtView:
    """The court extract: one row per charge per extract file. The text of a slice of rows is
    made on demand by `rows()` (a large extract is written in chunks)."""

    frame: pl.DataFrame  # per file row: indices into `texts`, days, flags, and `_case`
    case_columns: pl.DataFrame  # per case in the extract: the defendant and case-number columns
    texts: dict[str, pl.Series]
    county: str
    truth: pl.DataFrame  # per charge of the extract: count index, charge_miskeyed, charge_in_comment
    cases: pl.DataFrame  # per case of the extract: cycle, court_person_key and how the name/DOB were keyed
    windows: list[tuple[str, str]]  # per extract: (first, last) filed date covered, ISO
    bounds: list[tuple[int, int]]  # per extract: (offset, length) of its rows

    @property
    def height(self) -> int:
        return self.frame.height

    def extract(self, i: int) -> ExtractRows:
        offset, length = self.bounds[i]
        return ExtractRows(self, offset, length)

    def rows(self, offset: int = 0, length: int | None = None) -> pl.DataFrame:
        """The canonical court columns (COLUMNS) of rows offset .. offset+length."""
        part = self.frame.slice(offset, length)
        tx = self.texts
        body = pl.concat([part, self.case_columns[part["_case"].to_numpy()]], how="horizontal")
        letters = pl.col("case_number").str.extract(r"^([A-Z]+)", 1)
        return body.select(
            court_case_number=pl.when(pl.col("_cnv")).then(
                pl.when(pl.col("_cnk") & letters.is_not_null())
                .then(pl.concat_str(letters, pl.lit(" "), pl.col("case_number").str.slice(letters.str.len_chars())))
                .otherwise(pl.col("case_number").str.to_lowercase())
            ).otherwise(pl.col("case_number")),
            courthouse="courthouse", count_number="count_number", person_key="person_key", last_name="last_name",
            first_name="first_name", middle_name="middle_name", name_suffix="name_suffix", dob="dob", gender="gender",
            race="race", cii=pl.when(pl.col("_cii")).then(pl.col("cii_full")), ssn="ssn", dl_number="dl_number", fbi="fbi",
            charge=_text(tx["charge"], "_charge_text"), charge_level=_text(tx["level"], "_level"),
            charge_description=_text(tx["description"], "_charge"), offense_date=_day("_offense_day"),
            filed_date="filed_date", disposition_code=_text(tx["disposition_code"], "_disposition"),
            disposition=_text(tx["disposition"], "_disposition"), disposition_date=_day("_disposition_day"),
            sentence_length=pl.when(pl.col("_sentence_length") >= 0).then(pl.col("_sentence_length").cast(pl.String)),
            sentence_unit=_text(tx["unit"], "_sentence_unit"), comment=_text(tx["comment"], "_comment_text"),
            county=pl.lit(self.county),
        )


@dataclass
class ExtractRows:
    """One extract file's rows of a CourtView, sliceable like a DataFrame (height, slice)."""

    view: CourtView
    offset: int
    length: int

    @property
    def height(self) -> int:
        return self.length

    @property
    def columns(self) -> list[str]:
        return list(COLUMNS)

    def slice(self, offset: int, length: int | None = None) -> pl.DataFrame:
        length = self.length - offset if length is None else min(length, self.length - offset)
        return self.view.rows(self.offset + offset, max(length, 0))


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


# How courts write a statute: 11357(C)HS, HS 11357(c), 11357(C) H&S, H&S11357(C), 11357(C) HS.
STATUTE_FORMS = ("{s}{u}{c}", "{c} {s}{l}", "{s}{u} {a}", "{a}{s}{u}", "{s}{u} {c}")
COMMENT_FORMS = (":CHRG {s}{u} {c}", "CHARGE {s}{u} {c}-{d}")


def _swap(section: str, variant: int) -> str:
    """A section as mistyped: variant 1 swaps the 3rd- and 2nd-last digits, 2 the last two."""
    if variant == 0 or len(section) < 4:
        return section
    k = len(section) - 3 + (variant - 1)
    return section[:k] + section[k + 1] + section[k] + section[k + 2:]


@cache
def _statute_texts() -> tuple[list[str], list[str], np.ndarray]:
    """Every statute text a court writes, indexed ((charge * 3 + variant) * forms + form), every
    charge-in-comment text, indexed ((charge * 3 + variant) * 2 + kind), and whether a mistyping
    variant changes the section, indexed (charge * 3 + variant)."""
    ct = charge_table()
    statutes, comments, changed = [], [], []
    for c in range(len(ct)):
        code, sub, desc = ct.code[c], ct.subsection[c], ct.description[c]
        amp = {"HS": "H&S", "BP": "B&P"}.get(code, code)
        for v in range(3):
            sec = _swap(ct.section[c], v)
            changed.append(sec != ct.section[c])
            values = {"s": sec, "u": sub, "l": sub.lower(), "c": code, "a": amp, "d": desc}
            statutes += [f.format(**values) for f in STATUTE_FORMS]
            comments += [f.format(**values) for f in COMMENT_FORMS]
    return statutes, comments, np.array(changed)


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
        "mid": _strings(nt.first_name_series, middle), "suf": labels(SUFFIXES, pop.suffix[person]),
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
    df = df.with_columns(
        last=typo(accent(df["last"], accented), u["typo_last"] < noise.name_typo * 0.6, rng),
        first=typo(accent(df["first"], accented), u["typo_first"] < noise.name_typo * 0.4, rng),
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
    case_df = pl.DataFrame({
        "case_number": cn.case_number.gather(cases),
        "courthouse": cn.courthouse.gather(cases),
        "person_key": pl.select(pl.when(use_key2).then(keys.court_key2.gather(person))
                                .otherwise(keys.court_key.gather(person))).to_series(),
        "last_name": df["last_name"], "first_name": df["first_name"], "middle_name": df["middle"],
        "name_suffix": df["suffix"],
        "dob": _dates(dob_written),
        "gender": labels(("M", "F"), pop.gender[person]),
        "race": labels([r[0] for r in RACES], pop.race[person]),
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
    })
    # How each case's defendant was keyed, for the truth (linkage diagnostics).
    case_noise = pl.DataFrame({
        "cycle": cases,
        "court_person_key": case_df["person_key"],
        "name_nickname": nick_applied,
        "name_typo": (u["typo_last"] < noise.name_typo * 0.6) | (u["typo_first"] < noise.name_typo * 0.4),
        "name_swapped": u["swap"] < noise.swapped_names,
        "name_accented": accented & (case_df["last_name"].str.contains("[ÁÉÍÓÚÑ]") | case_df["first_name"].str.contains("[ÁÉÍÓÚÑ]")).to_numpy(),
        "surname_form": labels(("full", "hyphenated", "first part", "second part"), np.where(last2 < 0, -1, compound_form)),
        "dob_written": labels(("exact", "missing", "day/month transposed", "typo"), dob_kind),
    })

    # ---- one row per charge ------------------------------------------------------------------
    case_of_row, within, _ = ragged(pop.n_counts[cases])
    k = pop.first_count[cases][case_of_row] + within
    R = len(k)
    ru = {name: rng.random(R) for name in ("cii", "cnv", "cnk", "com", "comk", "mis", "misk", "form", "formk", "disp", "rem")}
    charge = pop.charge[k]
    disp = pop.disposition[k]
    # Sections a hurried clerk mistypes: two adjacent digits swapped in an all-digit section.
    miskey = (ru["mis"] < noise.miskeyed_section) & ct.miskeyable[charge]
    usual = sum(map(ord, county.name)) % 5  # each court has its usual way of writing a statute
    form = np.where(ru["form"] < noise.charge_form_other, (usual + 1 + (ru["formk"] * 4).astype(np.int64)) % 5, usual)
    statutes, comments, changed = _statute_texts()
    variant = np.where(miskey, 1 + (ru["misk"] < 0.5), 0)
    miskey &= changed[charge * 3 + variant]
    variant = np.where(miskey, variant, 0)
    in_comment = ru["com"] < noise.charge_in_comment
    n_forms, n_kinds = len(STATUTE_FORMS), 2
    statute_idx = (charge * 3 + variant) * n_forms + form
    see_comment = len(statutes)  # the extra entry "SEE COMMENT"
    charge_idx = np.where(in_comment, np.where(ru["comk"] < 0.25, see_comment, -1), statute_idx)
    comment_idx = np.where(
        in_comment, (charge * 3 + variant) * n_kinds + (ru["comk"] >= 0.5),
        np.where(ru["rem"] < 0.02, len(comments) + (ru["rem"] * 1000).astype(np.int64) % len(REMARKS), -1),
    )
    level_words = sum(map(ord, county.name)) % 2 == 1

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
    # The court's row carries the first sentence part (custody where there is one); a fine has no length.
    place0 = pop.sent_place[k, 0]
    main_len = np.where((place0 >= 0) & (place0 != FINE), pop.sent_length[k, 0], -1)
    main_unit = np.where(main_len >= 0, pop.sent_unit[k, 0], -1)

    # Refreshes: K extracts whose filed-date windows overlap (each later one re-reads the end of
    # the previous window); a row in two windows is the same row in both files.
    span = (LAST_DAY + 1 - FIRST_DAY) / max(refreshes, 1)
    overlap = max(365.0, span * 0.25)
    filed = cn.filed_date[cases][case_of_row]
    # An extract lists cases in filing order, charges in count order.
    order = np.lexsort((within, cases[case_of_row], filed))
    parts, windows = [], []
    for r in range(max(refreshes, 1)):
        lo = FIRST_DAY if r == 0 else int(FIRST_DAY + r * span - overlap)
        hi = LAST_DAY if r == refreshes - 1 else int(FIRST_DAY + (r + 1) * span) - 1
        if r == 0:
            lo = min(lo, int(filed.min(initial=FIRST_DAY)))
        parts.append(order[(filed[order] >= lo) & (filed[order] <= hi)])
        windows.append((str(np.datetime64(lo, "D")), str(np.datetime64(hi, "D"))))
    t = np.concatenate(parts)  # unique row -> file rows

    # Per file row: indices and flags only; the text is made per slice by CourtView.rows().
    frame = pl.DataFrame({
        "count_number": pl.Series((within[t] + 1).astype(np.int32)),
        "_charge_text": charge_idx[t].astype(np.int32), "_comment_text": comment_idx[t].astype(np.int32),
        "_level": pop.level[k[t]], "_charge": charge[t].astype(np.int32),
        "_offense_day": pop.arrest_date[pop.cnt_cycle[k[t]]],
        "_disposition_day": np.where(disp[t] >= 0, pop.court_date[pop.cnt_cycle[k[t]]], NO_DAY).astype(np.int32),
        "_disposition": which[t].astype(np.int16), "_sentence_length": main_len[t].astype(np.int32),
        "_sentence_unit": main_unit[t].astype(np.int8),
        "_cnv": ru["cnv"][t] < noise.case_number_variant, "_cnk": ru["cnk"][t] < 0.5, "_cii": ru["cii"][t] >= noise.cii_missing,
        "_case": case_of_row[t],
    })
    texts = {
        "charge": pl.Series([*statutes, "SEE COMMENT"], dtype=pl.String),
        "comment": pl.Series([*comments, *REMARKS], dtype=pl.String),
        "level": pl.Series(LEVEL_WORDS if level_words else LEVEL_LETTERS, dtype=pl.String),
        "description": pl.Series(list(ct.description), dtype=pl.String),
        "disposition_code": pl.Series([d[0] for d in table], dtype=pl.String),
        "disposition": pl.Series([d[1] for d in table], dtype=pl.String),
        "unit": pl.Series(["D", "M", "Y"], dtype=pl.String),
    }
    bounds, offset = [], 0
    for p in parts:
        bounds.append((offset, len(p)))
        offset += len(p)
    # Per charge in the extract (once, however many files repeat it): how the court wrote it.
    truth = pl.DataFrame({"count": k, "charge_miskeyed": miskey, "charge_in_comment": in_comment})
    return CourtView(frame=frame, case_columns=case_df.drop("_case"), texts=texts, county=county.name, truth=truth,
                     cases=case_noise, windows=windows, bounds=bounds)

