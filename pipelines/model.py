"""Canonical model: the frames every stage passes on.

Both sources (the DOJ research file and court case-management extracts) are turned into the
same three shapes — persons, counts, and (derived) convictions — so that linkage,
reconciliation and eligibility never care where a record came from. Every frame keeps the
lineage columns (`source`, `source_file`, `source_line`) so any output row can be traced to
the line of the input file it came from.

Identifiers are strings with a source prefix and are stable across refreshes (they are built
from the record's own keys, never from row positions), because the ledger uses them to
deliver each count exactly once:

- DOJ person: ``doj:<SUBJECT_ID>``; DOJ count: ``doj:<SUBJECT_ID>:<CNT_ORDER>``;
  DOJ case: ``doj:<SUBJECT_ID>:<first 6 digits of CNT_ORDER>`` (cycle + step);
  DOJ cycle: ``doj:<SUBJECT_ID>:<first 3 digits of CNT_ORDER>``.
- Court person: ``court:<COUNTY>:<person key from the extract>``; court case:
  ``court:<COUNTY>:<normalized case number>``; court count: ``<case_id>:<count_number>``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

# The DOJ research file, exactly 95 fields per row, in this order (DOMAIN.md section 3).
DOJ_COLUMNS: tuple[str, ...] = (
    "RECORD_ID", "SUBJECT_STATUS", "SUBJECT_ID", "REQ_SEG_SEP", "REQ_CII_NUMBER", "REQ_NAME",
    "REQ_GENDER", "REQ_DOB", "REQ_CDL", "REQ_SSN", "PII_SEG_SEP", "CII_NUMBER", "PRI_NAME",
    "GENDER", "PRI_DOB", "PRI_SSN", "PRI_CDL", "PRI_IDN", "PRI_INN", "FBI_NUMBER", "PDR_SEG_SEP",
    "RACE_CODE", "RACE_DESCR", "EYE_COLOR_CODE", "EYE_COLOR_DESCR", "HAIR_COLOR_CODE",
    "HAIR_COLOR_DESCR", "HEIGHT", "WEIGHT", "SINGLE_SOURCE", "MULTI_SOURCE", "POB_CODE",
    "POB_NAME", "POB_TYPE", "CITIZENSHIP_LIST", "CYC_SEG_SEP", "CYC_ORDER", "CYC_DATE",
    "STP_SEG_SEP", "STP_ORDER", "STP_EVENT_DATE", "STP_TYPE_CODE", "STP_TYPE_DESCR",
    "STP_ORI_TYPE", "STP_ORI_TYPE_DESCR", "STP_ORI_CODE", "STP_ORI_DESCR",
    "STP_ORI_CNTY_CODE", "STP_ORI_CNTY_NAME", "CNT_SEG_SEP", "CNT_ORDER", "DISP_DATE", "OFN",
    "OFFENSE_CODE", "OFFENSE_DESCR", "OFFENSE_TOC", "OFFENSE_QUAL_LST", "DISP_OFFENSE_CODE",
    "DISP_OFFENSE_DESCR", "DISP_OFFENSE_TOC", "DISP_OFFENSE_QUAL_LST",
    "CONV_OFFENSE_ORDER", "CONV_OFFENSE_CODE", "CONV_OFFENSE_DESCR", "CONV_OFFENSE_TOC",
    "CONV_OFFENSE_QUAL_LST", "FE_NUM_ORDER", "FE_NUM_ARR_AGY", "FE_NUM_BNCH_WARR",
    "FE_NUM_CITE", "FE_NUM_DOCKET", "FE_NUM_INCIDENT", "FE_NUM_BOOKING", "FE_NUM_NUMBER",
    "FE_NUM_REMAND", "FE_NUM_OOS_INN", "FE_NUM_CRT_CASE", "FE_NUM_WARRANT", "DISP_ORDER",
    "DISP_CODE", "DISP_DESCR", "CONV_STAT_CODE", "CONV_STAT_DESCR", "SENT_SEG_SEP",
    "SENT_ORDER", "SENT_LOC_CODE", "SENT_LOC_DESCR", "SENT_LENGTH", "SENT_TIME_CODE",
    "SENT_TIME_DESCR", "CYC_AGE", "CII_TYPE", "CII_TYPE_ALPHA", "COMMENT_TEXT", "END_OF_REC",
)
assert len(DOJ_COLUMNS) == 95
DOJ_FIELD_COUNT = len(DOJ_COLUMNS)

# Prop 64 took effect on this day; convictions on or after it carry the new numbering.
PROP64_DATE = date(2016, 11, 9)

# ---------------------------------------------------------------------------------------------
# Lineage: kept by every frame, from the reader to the delivery file.
LINEAGE: dict[str, pl.DataType] = {
    "source": pl.String,  # "doj" | "court"
    "source_file": pl.String,  # file name (not a full path: paths can name people's folders)
    "source_line": pl.Int64,  # 1-based physical line number in that file
}

# Rows that could not be read. rows read = rows accepted + rows quarantined, per file.
QUARANTINE: dict[str, pl.DataType] = {
    "source": pl.String,
    "source_file": pl.String,
    "source_line": pl.Int64,
    "reason": pl.String,  # short machine-stable reason, e.g. "field_count", "bad_date"
    "detail": pl.String,  # human explanation, e.g. "94 fields, expected 95"
    "raw": pl.String,  # the raw line (confidential: never logged)
}

# ---------------------------------------------------------------------------------------------
# Persons: one row per person record as the source knows it (before deduplication).
PERSON: dict[str, pl.DataType] = {
    "person_id": pl.String,
    "source_person_key": pl.String,  # DOJ SUBJECT_ID, or the court's person key
    "cii": pl.String,  # state id, digits only, without the leading letter, zero-padded to 9
    "ssn": pl.String,  # 9 digits
    "cdl": pl.String,  # driver's licence, upper-case alphanumerics
    "fbi": pl.String,
    "name_raw": pl.String,
    "last_name": pl.String,  # upper-case, accents removed
    "first_name": pl.String,
    "middle_name": pl.String,
    "name_suffix": pl.String,  # JR, SR, II, III, ...
    "dob": pl.Date,
    "gender": pl.String,  # "M" | "F" | "X" | null
    "race": pl.String,  # description as written
    "county": pl.String,  # county where the record was found (upper-case, DOJ spelling)
    **LINEAGE,
}

# Step (event) types, normalized.
STEP_TYPES = ("ARREST", "COURT", "REGISTRATION", "DECEASED", "OTHER")
# Dispositions, normalized: a plea-bargain dismissal is "dismissed", never a conviction.
DISPOSITIONS = ("convicted", "dismissed", "acquitted", "pending", "unknown")
LEVELS = ("F", "M", "I")

# Counts: one row per count (charge) of one case of one person, convictions or not.
COUNT: dict[str, pl.DataType] = {
    "count_id": pl.String,
    "person_id": pl.String,
    "case_id": pl.String,
    "cycle_id": pl.String,  # arrest cycle (DOJ); for court records the case
    "county": pl.String,  # county of the event, upper-case, DOJ spelling ("LOS ANGELES")
    "case_numbers": pl.String,  # court case number(s) as written, "; "-joined
    "case_number": pl.String,  # normalized primary court case number (null when unknown)
    "count_number": pl.Int32,  # count within the case
    "step_type": pl.String,  # one of STEP_TYPES
    "event_date": pl.Date,  # for convictions: the conviction date
    "offense_text": pl.String,  # the charge as written (DOJ: OFFENSE_DESCR before the first "-")
    "comment_text": pl.String,
    "code": pl.String,  # "HS", "PC", "VC", "BP", ... (null when unreadable)
    "section": pl.String,  # "11357", "288.5"
    "subsection": pl.String,  # "(c)", "(b)(1)", "" when none
    "comment_sections": pl.List(pl.String),  # other statutes named in the comment, "HS 11359"
    "level": pl.String,  # "F" | "M" | "I" | null
    "is_felony": pl.Boolean,
    "disposition": pl.String,  # one of DISPOSITIONS
    "disposition_text": pl.String,  # as written
    "is_conviction": pl.Boolean,
    "sentence_end": pl.Date,  # event_date + all sentence parts (null when no conviction)
    "row_index": pl.Int64,  # DOJ: 0-based index of the row among accepted rows; court: null
    **LINEAGE,
}

# Convictions are counts with is_conviction, restricted to COUNT's columns.

# ---------------------------------------------------------------------------------------------
# Determinations: one row per cannabis conviction in the county.
DETERMINATIONS = (
    "Eligible for Dismissal",
    "Eligible for Reduction",
    "Not eligible",
    "Maybe Eligible - Flag for Review",
    "Hand Review",
    "To be reviewed by City Attorneys",
)
RELIEFS = (
    "dismiss_and_seal",
    "redesignate_misdemeanor",
    "redesignate_infraction",
    "recall_and_resentence",
    "review",  # a person decides (hand review, flagged)
    "none",  # not eligible
)
DETERMINATION: dict[str, pl.DataType] = {
    "count_id": pl.String,
    "person_id": pl.String,
    "case_id": pl.String,
    "county": pl.String,
    "determination": pl.String,  # one of DETERMINATIONS
    "reason": pl.String,
    "rule_id": pl.String,  # the policy rule that decided
    "explanation": pl.String,  # rules tried and the facts that decided, readable
    "relief": pl.String,  # one of RELIEFS
    "resulting_section": pl.String,
    "resulting_level": pl.String,
    "statutory_basis": pl.String,  # e.g. "HS 11361.8(e); HS 11361.9"
    "policy": pl.String,
    "policy_version": pl.String,
    "compute_at": pl.Date,
}

# Reconciliation: one row per cannabis count of either source.
CLASSIFICATIONS = ("matched", "court_only", "doj_only")
RECONCILED: dict[str, pl.DataType] = {
    "court_count_id": pl.String,
    "doj_count_id": pl.String,
    "classification": pl.String,  # one of CLASSIFICATIONS
    "reason": pl.String,  # e.g. "dismissed in court" for a DOJ-only count
    "person_key": pl.String,  # the unified person (after dedupe and linkage)
    "match_probability": pl.Float64,
    "match_weight": pl.Float64,
    "agreement": pl.String,  # fields that agreed, comma-joined: "cii,case_number,name,dob"
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType], *, extra: bool = True) -> pl.DataFrame:
    """Cast `frame` to `schema`: missing columns become nulls, schema columns come first in order.

    With ``extra=False`` columns not in the schema are dropped.
    """
    cols = [
        (pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in schema.items()
    ]
    rest = [c for c in frame.columns if c not in schema] if extra else []
    return frame.select(*cols, *rest)


def missing_columns(frame: pl.DataFrame | pl.LazyFrame, schema: dict[str, pl.DataType]) -> list[str]:
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    return [c for c in schema if c not in names]

# Delivery: one row per count the court must act on (DOMAIN.md section 7). The court bulk-upload
# layouts (config/delivery/*.yaml) select and format these fields.
DELIVERY_ACTIONS = ("new", "correction", "withdrawal")
SOURCES = ("doj", "court", "both")
DELIVERY_ROW: dict[str, pl.DataType] = {
    "delivery_id": pl.String,  # stable: same county + case + count -> same id, on every refresh
    "action": pl.String,  # one of DELIVERY_ACTIONS
    "county": pl.String,
    "courthouse": pl.String,
    "court_case_number": pl.String,  # normalized, with defendant suffix
    "count_number": pl.Int32,
    "statute_as_convicted": pl.String,  # "HS 11359"
    "level_as_convicted": pl.String,  # "F" | "M" | "I"
    "conviction_date": pl.Date,
    "defendant_name": pl.String,  # "LAST, FIRST MIDDLE"
    "dob": pl.Date,
    "cii": pl.String,
    "determination": pl.String,
    "relief": pl.String,  # one of RELIEFS (only actionable ones are delivered)
    "resulting_section": pl.String,
    "resulting_level": pl.String,
    "statutory_basis": pl.String,
    "da_challenged": pl.Boolean,
    "source": pl.String,  # one of SOURCES: which records showed this count
    "count_id": pl.String,  # our count id (DOJ or court) for lineage
    "run_id": pl.String,
}
