"""The DOJ view: the county's research file, 95 columns (DOMAIN.md section 3), one row per count
of each step of each cycle of each subject DOJ knows, in DOJ's own spelling.

A person appears under one SUBJECT_ID, or two for the people DOJ filed twice (the second record
with its own CII and a variant of the name, and the person's later cycles). Court steps of the
cases DOJ missed are absent (their arrest step often remains). Convictions with a sentence in
two parts take two rows with the same CNT_ORDER.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from pipelines.model import DOJ_COLUMNS
from pipelines.synth.coverage import Coverage
from pipelines.synth.noise import pick_nickname, typo
from pipelines.synth.numbering import CaseNumbers, PersonKeys
from pipelines.synth.population import (
    ACQUITTED,
    CONVICTED,
    DAYS,
    DISMISSED,
    FINE,
    JAIL,
    MONTHS,
    NO_DAY,
    PRISON,
    PROBATION,
    RACES,
    SUFFIXES,
    YEARS,
    Population,
)
from pipelines.synth.tables import County, charge_table, counties, date_text, labels, name_tables

ARREST, COURT, REGISTRATION, DEATH = 0, 1, 2, 3
STEP_DESCR = ("ARREST/DETAINED/CITED", "COURT ACTION", "REGISTRATION", "DECEASED")
PLACE_CODE = {PRISON: "S", JAIL: "J", PROBATION: "P", FINE: "F"}
PLACE_DESCR = {PRISON: "PRISON", JAIL: "JAIL", PROBATION: "PROBATION", FINE: "FINE"}
UNIT_CODE = {DAYS: "D", MONTHS: "M", YEARS: "Y"}
UNIT_DESCR = {DAYS: "DAYS", MONTHS: "MONTHS", YEARS: "YEARS"}
LEVEL_DESCR = ("FELONY", "MISDEMEANOR", "INFRACTION")


@dataclass(frozen=True)
class DojNoise:
    """Rates of the quirks of the DOJ file (per court-action count unless noted)."""

    see_comment: float = 0.03  # OFFENSE_DESCR "SEE COMMENT FOR CHARGE", the charge in COMMENT_TEXT
    blank_offense: float = 0.005  # OFFENSE_DESCR blank, the charge in COMMENT_TEXT
    comment_other_section: float = 0.005  # cannabis counts: COMMENT_TEXT names another cannabis section
    missing_ofn: float = 0.04  # per case: no court case number on the COURT ACTION rows
    ofn_row_variant: float = 0.05  # per row: the court's own form of the number where DOJ's differs
    blank_conv_stat: float = 0.05  # felony convictions with CONV_STAT_DESCR blank (OFFENSE_TOC tells)
    wrong_conviction: float = 0.003  # dismissed counts DOJ records as "CONVICTED" (the court shows the dismissal)


@dataclass
class DojView:
    """The DOJ file as a narrow frame plus the expressions that make its 95 columns: `rows()`
    builds them for a slice, so a large file is written in chunks without ever holding all 95
    columns of every row."""

    frame: pl.DataFrame  # one row per file row, in file order; the inputs of the 95 columns
    columns: list[pl.Expr]  # the 95 columns, in order, as expressions over `frame`
    counts: pl.DataFrame  # one row per court-action count: cycle, count, subject_id, cnt_order (for the truth)
    subjects: pl.DataFrame  # subject_id -> person uid
    subject_columns: pl.DataFrame  # per possible subject (2 per person): CII, name, DOB as DOJ has them
    person_columns: pl.DataFrame  # per person: gender, race, ids, physical description
    blank_ofn: np.ndarray  # per cycle: DOJ wrote no case number on the case's COURT ACTION rows

    @property
    def height(self) -> int:
        return self.frame.height

    def rows(self, offset: int = 0, length: int | None = None) -> pl.DataFrame:
        """The 95 DOJ columns (strings; null for a blank field) of rows offset .. offset+length."""
        part = self.frame.slice(offset, length)
        return pl.concat([
            part, self.subject_columns[part["subject_key"].to_numpy()], self.person_columns[part["person"].to_numpy()],
        ], how="horizontal").select(self.columns)


@cache
def _offense_texts() -> tuple[list[str], list[str]]:
    """OFFENSE_DESCR texts indexed (charge * 2 + spaced): "11357(C)HS-POSSESS MARIJUANA" or
    "11357(C) HS-POSSESS MARIJUANA"; comment texts indexed (charge * 2 + kind): the offense
    text or ":CHRG 11357(C) HS"."""
    ct = charge_table()
    offenses, comments = [], []
    for c in range(len(ct)):
        sec, sub, code, desc = ct.section[c], ct.subsection[c], ct.code[c], ct.description[c]
        offenses += [f"{sec}{sub}{code}-{desc}", f"{sec}{sub} {code}-{desc}"]
        comments += [f"{sec}{sub} {code}-{desc}", f":CHRG {sec}{sub} {code}"]
    return offenses, comments


def build(
    pop: Population, cov: Coverage, cn: CaseNumbers, keys: PersonKeys, county: County, rng: np.random.Generator,
    *, noise: DojNoise = DojNoise(),
) -> DojView:
    """The DOJ research file rows for the people of `pop` in the county's file."""
    nt = name_tables()
    ct = charge_table()
    all_counties = counties()
    P = pop.n_persons
    in_doj = cov.in_doj
    cyc_person = pop.cyc_person
    # Second SUBJECT_ID from the split cycle on.
    second = (cov.split_cycle[cyc_person] >= 0) & (pop.cyc_no >= cov.split_cycle[cyc_person])

    # ---- rows: arrest counts, court counts x sentence parts, registrations, deaths ----------
    k_all = np.arange(len(pop.cnt_cycle))
    cyc_k = pop.cnt_cycle
    visible = in_doj[cyc_person[cyc_k]]
    ka = k_all[visible & cov.doj_arrest[cyc_k]]
    kc = k_all[visible & cov.doj_court[cyc_k]]
    reps = np.maximum(pop.n_parts[kc], 1).astype(np.int64)
    kc_rows = np.repeat(kc, reps)
    part = np.arange(len(kc_rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    reg = np.flatnonzero(in_doj & (pop.registered != NO_DAY))
    dead = np.flatnonzero(in_doj & (pop.deceased != NO_DAY))

    kind = np.concatenate([
        np.full(len(ka), ARREST), np.full(len(kc_rows), COURT), np.full(len(reg), REGISTRATION), np.full(len(dead), DEATH),
    ]).astype(np.int8)
    count = np.concatenate([ka, kc_rows, np.full(len(reg) + len(dead), -1)])
    cycle = np.where(count >= 0, cyc_k[np.maximum(count, 0)], -1)
    person = np.concatenate([cyc_person[cyc_k[ka]], cyc_person[cyc_k[kc_rows]], reg, dead])
    sent_part = np.concatenate([np.zeros(len(ka), np.int64), part, np.zeros(len(reg) + len(dead), np.int64)])
    subject2 = np.where(cycle >= 0, second[np.maximum(cycle, 0)], False)
    event = np.select(
        [kind == ARREST, kind == COURT, kind == REGISTRATION],
        [pop.arrest_date[np.maximum(cycle, 0)], pop.court_date[np.maximum(cycle, 0)], pop.registered[person]],
        pop.deceased[person],
    ).astype(np.int32)
    cycle_date = np.where(cycle >= 0, pop.arrest_date[np.maximum(cycle, 0)], event).astype(np.int32)
    # Registration and death are cycles of their own; give them keys after the real cycles.
    cycle_key = np.where(cycle >= 0, cycle, len(pop.cyc_person) + 2 * person + (kind == DEATH))
    subject_key = 2 * person + subject2

    order = np.lexsort((sent_part, np.where(count >= 0, pop.cnt_no[np.maximum(count, 0)], 0), kind, cycle_key, cycle_date, subject_key))
    kind, count, cycle, person, sent_part, subject2, event, cycle_date, cycle_key, subject_key = (
        a[order] for a in (kind, count, cycle, person, sent_part, subject2, event, cycle_date, cycle_key, subject_key)
    )
    n = len(kind)
    new_subject = np.ones(n, dtype=bool)
    new_subject[1:] = subject_key[1:] != subject_key[:-1]
    new_cycle = new_subject.copy()
    new_cycle[1:] |= cycle_key[1:] != cycle_key[:-1]
    cyc_cum = np.cumsum(new_cycle)
    subj_start = np.maximum.accumulate(np.where(new_subject, np.arange(n), 0))
    cycle_no = cyc_cum - cyc_cum[subj_start] + 1
    has_arrest_step = np.where(cycle >= 0, cov.doj_arrest[np.maximum(cycle, 0)], False)
    step_no = np.where((kind == COURT) & has_arrest_step, 2, 1)
    count_no = np.where(count >= 0, pop.cnt_no[np.maximum(count, 0)], 1)
    cnt_order = (
        pl.Series(cycle_no).cast(pl.String).str.zfill(3) + pl.Series(step_no).cast(pl.String).str.zfill(3)
        + pl.Series(count_no).cast(pl.String).str.zfill(3) + "000"
    )

    # ---- person columns ------------------------------------------------------------------
    u = {k: rng.random(P) for k in ("cform", "nick", "typo", "dob", "suffix", "hgt", "wgt", "eye", "hair", "pob")}
    l1 = nt.surname_series.gather(pop.last)
    l2 = nt.surname_series.gather(np.maximum(pop.last2, 0))
    has2 = pl.Series(pop.last2 >= 0)
    # DOJ writes a compound surname in full (mostly), hyphenated, or only its first part.
    cform = np.select([u["cform"] < 0.65, u["cform"] < 0.75], [0, 1], 2)
    last = pl.select(
        pl.when(~pl.lit(has2)).then(pl.lit(l1)).when(pl.lit(pl.Series(cform == 0))).then(pl.lit(l1) + " " + pl.lit(l2))
        .when(pl.lit(pl.Series(cform == 1))).then(pl.lit(l1) + "-" + pl.lit(l2)).otherwise(pl.lit(l1))
    ).to_series()
    first = nt.first_name_series.gather(pop.first)
    middle_initial = pl.select(
        pl.when(pl.lit(pl.Series(pop.middle >= 0))).then(pl.lit(nt.first_name_series.gather(np.maximum(pop.middle, 0))).str.slice(0, 1))
    ).to_series()
    suffix = pl.Series([*SUFFIXES, ""]).gather(np.where(pop.suffix >= 0, pop.suffix, len(SUFFIXES)))
    last_sfx = pl.select(pl.when(pl.lit(suffix) != "").then(pl.lit(last) + " " + pl.lit(suffix)).otherwise(pl.lit(last))).to_series()
    pri_name = pl.select(pl.concat_str(pl.lit(last_sfx), pl.lit(","), pl.lit(first),
                                       pl.when(pl.lit(middle_initial).is_not_null()).then(pl.lit(" ") + pl.lit(middle_initial))
                                       .otherwise(pl.lit("")))).to_series()
    # The second record of a person filed twice: the name as another agency wrote it.
    nick, nick_ok = pick_nickname(pop.first, u["nick"] < 0.5, rng)
    first2 = pl.select(pl.when(pl.lit(pl.Series(nick_ok))).then(pl.lit(pl.Series(nick))).otherwise(pl.lit(first))).to_series()
    last2_written = pl.select(pl.when(pl.lit(has2)).then(pl.lit(l1)).otherwise(pl.lit(last))).to_series()
    alias = pl.DataFrame({"l": typo(last2_written, (u["typo"] < 0.3) & ~nick_ok, rng), "f": first2}).select(
        pl.concat_str("l", pl.lit(","), "f")).to_series()
    dob2 = np.where(u["dob"] < 0.2, pop.dob + 1, pop.dob).astype(np.int32)  # another agency's off-by-one DOB

    inches = np.where(pop.gender == 0, 64 + u["hgt"] * 12, 59 + u["hgt"] * 11).astype(np.int64)
    cii_digits = pl.Series(pop.cii).cast(pl.String)
    cii = pl.select(pl.when(pl.lit(pl.Series(pop.cii_letter))).then("A" + pl.lit(cii_digits)).otherwise(pl.lit(cii_digits))).to_series()
    person_cols = pl.DataFrame({
        "GENDER": labels(("M", "F"), pop.gender),
        "PRI_SSN": pl.select(pl.when(pl.lit(pl.Series(pop.ssn >= 0))).then(pl.lit(pl.Series(pop.ssn)).cast(pl.String).str.zfill(9))).to_series(),
        "PRI_CDL": pl.select(pl.when(pl.lit(pl.Series(pop.dl >= 0))).then("A" + pl.lit(pl.Series(pop.dl)).cast(pl.String).str.zfill(7))).to_series(),
        "FBI_NUMBER": pl.select(pl.when(pl.lit(pl.Series(pop.fbi >= 0))).then(pl.lit(pl.Series(pop.fbi)).cast(pl.String).str.zfill(9))).to_series(),
        "RACE_CODE": labels([r[0] for r in RACES], pop.race), "RACE_DESCR": labels([r[1] for r in RACES], pop.race),
        "EYE_COLOR_CODE": labels(("BRO", "HAZ", "BLU"), np.select([u["eye"] < 0.8, u["eye"] < 0.9], [0, 1], 2)),
        "HAIR_COLOR_CODE": labels(("BLK", "BRO"), (u["hair"] >= 0.85).astype(np.int64)),
        "HEIGHT": pl.Series(inches // 12 * 100 + inches % 12).cast(pl.String),  # 510 = 5 ft 10 in
        "WEIGHT": pl.Series(120 + (u["wgt"] * 140).astype(np.int64)).cast(pl.String),
        "POB_NAME": labels(("MEXICO", "CALIFORNIA", "TEXAS"), np.where(
            pop.race == 0, np.where(u["pob"] < 0.4, 0, 1), np.where(u["pob"] < 0.85, 1, 2))),
        "dob_day": pop.dob,
    })
    # One row per possible subject: person p's first record at 2p, its second at 2p + 1.
    subject_cols = pl.DataFrame({
        "SUBJECT_ID": pl.concat([keys.subject_id, keys.subject_id2]),
        "CII_NUMBER": pl.concat([cii, pl.Series(pop.cii2).cast(pl.String)]),
        "PRI_NAME": pl.concat([pri_name, alias]),
        "PRI_DOB": pl.concat([pl.Series(pop.dob), pl.Series(dob2)]).cast(pl.Date).dt.strftime("%Y%m%d"),
    })[np.concatenate([np.arange(P), np.arange(P) + P]).reshape(2, P).T.ravel()]

    # ---- count columns -------------------------------------------------------------------
    safe_k = np.maximum(count, 0)
    charge = pop.charge[safe_k]
    level = pop.level[safe_k]
    disp = np.where(kind == COURT, pop.disposition[safe_k], -9)
    place = np.where(kind == COURT, pop.sent_place[safe_k, np.minimum(sent_part, 1)], -1)
    length = pop.sent_length[safe_k, np.minimum(sent_part, 1)]
    unit = pop.sent_unit[safe_k, np.minimum(sent_part, 1)]
    cyc_county = np.where(cycle >= 0, pop.cyc_county[np.maximum(cycle, 0)], next(i for i, c in enumerate(all_counties) if c.name == county.name))
    ru = {k: rng.random(n) for k in ("form", "see", "blank", "other", "dd", "cs", "ofn", "arr", "wrong")}
    case_blank = rng.random(len(pop.cyc_person)) < noise.missing_ofn
    wrong = (kind == COURT) & (disp == DISMISSED) & (ru["wrong"] < noise.wrong_conviction)
    disp = np.where(wrong, CONVICTED, disp)
    is_can = ct.is_cannabis[charge] & (count >= 0)

    county_names = pl.Series([c.name for c in all_counties])
    county_codes = pl.Series([c.code for c in all_counties])
    # Another cannabis section for the "comment names a different section" quirk.
    can_idx = np.flatnonzero(ct.is_cannabis & (ct.era == 2))
    pick = rng.integers(0, len(can_idx), n)
    other_can = can_idx[pick]
    other_can = np.where(other_can == charge, can_idx[(pick + 1) % len(can_idx)], other_can)

    # Offense and comment texts from a table per charge (no string building per row).
    offenses, comments = _offense_texts()
    court = kind == COURT
    see = court & (ru["see"] < noise.see_comment)
    blank = court & ~see & (ru["blank"] < noise.blank_offense)
    other = court & is_can & ~see & ~blank & (ru["other"] < noise.comment_other_section)
    registration_text, see_text = len(offenses), len(offenses) + 1
    offense_idx = np.select(
        [kind == REGISTRATION, kind == DEATH, see, blank], [registration_text, -1, see_text, -1],
        charge * 2 + (ru["form"] < 0.15),
    )
    comment_idx = np.select(
        [see | blank, other], [charge * 2 + (ru["see"] >= noise.see_comment / 2), other_can * 2], -1,
    )
    df = pl.DataFrame({
        "person": person, "kind": kind, "count": count, "cycle": cycle, "subject2": subject2,
        "CNT_ORDER": cnt_order,
        "CYC_ORDER": cycle_no.astype(np.int64), "STP_ORDER": step_no.astype(np.int64),
        "event": event, "cycle_date": cycle_date,
        "OFFENSE_DESCR": labels([*offenses, "290 PC-REGISTRATION OF SEX OFFENDER", "SEE COMMENT FOR CHARGE"], offense_idx),
        "COMMENT_TEXT": labels(comments, comment_idx),
        "charge_field": labels(("comment", "comment_other_section", "offense"), np.select([see | blank, other], [0, 1], 2)),
        "level": level, "disp": disp, "place": place, "length": length, "unit": unit, "sent_part": sent_part,
        "is_can": is_can,
        "STP_ORI_CNTY_NAME": county_names.gather(cyc_county), "STP_ORI_CNTY_CODE": county_codes.gather(cyc_county),
        # The case number(s) on the COURT ACTION rows: DOJ's form of it, now and then the court's own
        # form on one row of the case (the rows of a case then name it two ways), blank for some cases.
        "case_ofn": pl.select(
            pl.when(pl.lit(pl.Series(case_blank[np.maximum(cycle, 0)]))).then(None)
            .when(pl.lit(pl.Series(ru["ofn"] < noise.ofn_row_variant))).then(pl.lit(cn.case_number.gather(np.maximum(cycle, 0))))
            .otherwise(pl.lit(cn.doj_form.gather(np.maximum(cycle, 0))))
        ).to_series(),
        "u_dd": ru["dd"], "u_cs": ru["cs"], "u_arr": ru["arr"],
    })
    df = df.with_columns(subject_key=subject_key, SUBJECT_ID=subject_cols["SUBJECT_ID"].gather(subject_key),
                         dob_day=pl.Series(pop.dob[person]))

    court = pl.col("kind") == COURT
    blank_col = pl.lit(None, pl.String)  # written as an empty field
    convicted = pl.col("disp") == CONVICTED
    dismissed_descr = (
        pl.when(pl.col("u_dd") < 0.6).then(pl.lit("DISMISSED/CHARGE DROPPED"))
        .when(pl.col("u_dd") < 0.85).then(pl.lit("DISMISSED-FURTHERANCE OF JUSTICE")).otherwise(pl.lit("DISMISSED"))
    )
    first_place = pl.col("place")
    disp_descr = (
        pl.when(pl.col("kind") == ARREST).then(pl.when(pl.col("u_arr") < 0.05).then(pl.lit("REL/TOT OTHER JURIS/AUTH")))
        .when(~court).then(blank_col)
        .when(convicted).then(
            pl.when((first_place == FINE) | (first_place < 0)).then(pl.lit("CONVICTED"))
            .otherwise(pl.lit("CONVICTED-") + first_place.replace_strict(PLACE_DESCR, default=None, return_dtype=pl.String))
        )
        .when(pl.col("disp") == ACQUITTED).then(pl.lit("ACQUITTED"))
        .otherwise(dismissed_descr)
    )
    level_letter = pl.col("level").replace_strict({0: "F", 1: "M", 2: "I"}, return_dtype=pl.String)
    conv_stat = (
        pl.when(court & convicted & ~((pl.col("level") == 0) & (pl.col("u_cs") < noise.blank_conv_stat)))
        .then(pl.col("level").replace_strict(dict(enumerate(LEVEL_DESCR)), return_dtype=pl.String))
    )
    has_sentence = court & convicted & (pl.col("place") >= 0)
    with_length = has_sentence & (pl.col("place") != FINE)
    # Arrest rows carry a booking number; court rows the case number(s).
    booking = ((pl.col("cycle").abs() + 1) * 2_654_435_761 + pl.col("person") * 40_503) % 900_000_000 + 100_000_000
    ofn = (
        pl.when(pl.col("kind") == ARREST).then(booking.cast(pl.String))
        .when(court).then(pl.col("case_ofn"))
    )
    date = date_text(pl.col("event"), "%Y%m%d")
    ori = (
        pl.when(court).then(pl.lit("CASC ") + pl.col("STP_ORI_CNTY_NAME"))
        .when(pl.col("kind") == DEATH).then(pl.lit("CACORONER ") + pl.col("STP_ORI_CNTY_NAME"))
        .otherwise(pl.lit("CASO ") + pl.col("STP_ORI_CNTY_NAME"))
    )
    values: dict[str, pl.Expr] = {
        "REQ_SEG_SEP": pl.lit("#"),
        "SUBJECT_ID": pl.col("SUBJECT_ID"),
        "REQ_CII_NUMBER": pl.col("CII_NUMBER"), "CII_NUMBER": pl.col("CII_NUMBER"),
        "PRI_NAME": pl.col("PRI_NAME"), "GENDER": pl.col("GENDER"), "PRI_DOB": pl.col("PRI_DOB"),
        "PRI_SSN": pl.col("PRI_SSN"), "PRI_CDL": pl.col("PRI_CDL"), "FBI_NUMBER": pl.col("FBI_NUMBER"),
        "RACE_CODE": pl.col("RACE_CODE"), "RACE_DESCR": pl.col("RACE_DESCR"),
        "EYE_COLOR_CODE": pl.col("EYE_COLOR_CODE"), "HAIR_COLOR_CODE": pl.col("HAIR_COLOR_CODE"),
        "HEIGHT": pl.col("HEIGHT"), "WEIGHT": pl.col("WEIGHT"), "POB_NAME": pl.col("POB_NAME"),
        "CYC_ORDER": pl.col("CYC_ORDER").cast(pl.String),
        "CYC_DATE": date_text(pl.col("cycle_date"), "%Y%m%d"),
        "STP_ORDER": pl.col("STP_ORDER").cast(pl.String),
        "STP_EVENT_DATE": date,
        "STP_TYPE_DESCR": pl.col("kind").replace_strict(dict(enumerate(STEP_DESCR)), return_dtype=pl.String),
        "STP_ORI_DESCR": ori,
        "STP_ORI_CNTY_CODE": pl.col("STP_ORI_CNTY_CODE"), "STP_ORI_CNTY_NAME": pl.col("STP_ORI_CNTY_NAME"),
        "CNT_ORDER": pl.col("CNT_ORDER"),
        "DISP_DATE": pl.when((pl.col("kind") == ARREST) | court).then(date).otherwise(blank_col),
        "OFN": ofn,
        "OFFENSE_DESCR": pl.col("OFFENSE_DESCR"),
        "OFFENSE_TOC": pl.when(pl.col("kind") <= COURT).then(level_letter).otherwise(blank_col),
        "DISP_DESCR": disp_descr,
        "CONV_STAT_DESCR": conv_stat,
        "SENT_SEG_SEP": pl.lit("#"),
        "SENT_ORDER": pl.when(has_sentence).then((pl.col("sent_part") + 1).cast(pl.String)).otherwise(blank_col),
        "SENT_LOC_CODE": pl.when(has_sentence).then(pl.col("place").replace_strict(PLACE_CODE, default=None, return_dtype=pl.String)).otherwise(blank_col),
        "SENT_LOC_DESCR": pl.when(has_sentence).then(pl.col("place").replace_strict(PLACE_DESCR, default=None, return_dtype=pl.String)).otherwise(blank_col),
        "SENT_LENGTH": pl.when(with_length).then(pl.col("length").cast(pl.String)).otherwise(blank_col),
        "SENT_TIME_CODE": pl.when(with_length).then(pl.col("unit").replace_strict(UNIT_CODE, default=None, return_dtype=pl.String)).otherwise(blank_col),
        "SENT_TIME_DESCR": pl.when(with_length).then(pl.col("unit").replace_strict(UNIT_DESCR, default=None, return_dtype=pl.String)).otherwise(blank_col),
        "CYC_AGE": ((pl.col("cycle_date") - pl.col("dob_day")).cast(pl.Float64) / 365.25).floor().cast(pl.Int64).cast(pl.String),
        "COMMENT_TEXT": pl.col("COMMENT_TEXT"),
        "END_OF_REC": pl.lit("#"),
    }
    columns = [values.get(c, blank_col).alias(c) for c in DOJ_COLUMNS]
    counts = df.with_row_index("row").filter(court & (pl.col("sent_part") == 0)).select(
        "row", "cycle", "count", "person", "subject2", pl.col("SUBJECT_ID").alias("subject_id"),
        "CNT_ORDER", "is_can",
        pl.col("disp").replace_strict({CONVICTED: "convicted", ACQUITTED: "acquitted"}, default="dismissed",
                                      return_dtype=pl.String).alias("doj_disposition"),
        "charge_field",
    )
    subjects = df.select(pl.col("SUBJECT_ID").alias("subject_id"), "person").unique("subject_id", keep="first").sort("subject_id")
    subject_cols, person_cols = subject_cols.drop("SUBJECT_ID"), person_cols.drop("dob_day")  # both kept per row
    looked_up = set(subject_cols.columns) | set(person_cols.columns)
    needed = sorted(set().union(*(e.meta.root_names() for e in columns)) - looked_up | {"subject_key", "person"})
    return DojView(frame=df.select(needed), columns=columns, counts=counts, subjects=subjects,
                   subject_columns=subject_cols, person_columns=person_cols, blank_ofn=case_blank)
