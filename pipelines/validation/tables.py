"""The tables Great Expectations validates, computed from a checkpoint's frames with Polars.

A suite file's `derived` section says what each computed column means; this module computes
them. Three rules keep validation fast and confidential:

- A table holds only the columns its expectations read, in types pandas and GX handle quickly
  (booleans, short code strings, Int64, Float64, datetime64[ns]); no long strings, so the
  ``to_pandas`` copy stays cheap.
- Checks that span frames (conservation, exactly-once classification, coverage) become
  per-row booleans or counts here; GX then decides pass or fail and counts the failing rows.
- Personal data (names, dates of birth, CII, SSN) never reaches GX: only "is present" /
  "is well formed" booleans do, so neither results, Data Docs nor logs can show it.

Each table keeps the ids of its rows beside it (count_id, person_id, file:line, ...), so failing
rows are reported by our ids only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipelines import model
from pipelines.config import CA_COUNTIES
from pipelines.validation.suites import SuiteSpec

Frame = pl.DataFrame | pl.LazyFrame

# The cannabis sections Prop 64 changed (pipelines/eligibility/statutes.yaml, list "cannabis"). A
# count whose code could not be read still counts on the section, as eligibility does.
CANNABIS_SECTIONS = ("11357", "11358", "11359", "11360")
ACTIONS = model.DELIVERY_ACTIONS
# Known values of the DOJ code fields (DOMAIN.md section 3); others are reported, not fatal.
DOJ_CODES: dict[str, list[str]] = {
    "OFFENSE_TOC": ["F", "M", "I"],
    "CONV_STAT_DESCR": ["FELONY", "MISDEMEANOR", "INFRACTION"],
    "SENT_TIME_CODE": ["D", "M", "Y"],
}


@dataclass(frozen=True)
class ValidationContext:
    """What a checkpoint needs to know about the run besides its frames.

    Built from the ``context`` dict given to ``run_checkpoint``: ``compute_at`` (date or ISO
    string), ``county`` (any spelling; kept as the DOJ name, upper case), ``run_id``,
    ``case_number_pattern`` (regex, delivery), ``expected_rows`` (delivery: int, or dict by
    action), ``max_row_ids`` (failing row ids reported per expectation, default 20) and
    ``build_docs`` (default True), ``delivery_files`` (delivery: the data files read back, so
    one read back empty still counts, as 0 rows).
    """

    compute_at: dt.date | None = None
    county: str | None = None
    run_id: str | None = None
    case_number_pattern: str | None = None
    expected_rows: int | Mapping[str, int] | None = None
    max_row_ids: int = 20
    build_docs: bool = True
    delivery_files: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, context: Mapping[str, Any]) -> ValidationContext:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        values = {k: v for k, v in context.items() if k in known}
        extra = {k: v for k, v in context.items() if k not in known}
        at = values.get("compute_at")
        if isinstance(at, str):
            values["compute_at"] = dt.date.fromisoformat(at)
        elif isinstance(at, dt.datetime):
            values["compute_at"] = at.date()
        if values.get("delivery_files") is not None:
            values["delivery_files"] = tuple(values["delivery_files"])
        if values.get("county"):
            values["county"] = " ".join(str(values["county"]).replace("_", " ").upper().split())
        return cls(**values, extra=extra)

    def gx_parameters(self) -> dict[str, Any]:
        """Values for the suite files' ``{$PARAMETER: name}`` placeholders."""
        at = self.compute_at
        return {
            "compute_at": dt.datetime(at.year, at.month, at.day) if at else None,
            "this_county": [self.county] if self.county else [],
            "this_run": [self.run_id] if self.run_id else [],
            "california_counties": list(CA_COUNTIES),
        }


@dataclass
class Table:
    """One table for GX, and how to name its rows.

    ``frame`` is what GX validates. ``ids`` holds the raw id columns aligned with ``frame`` and
    ``id_expr`` turns them into one string per row; they are only evaluated for failing rows.
    """

    frame: pl.DataFrame
    ids: pl.DataFrame
    id_expr: pl.Expr

    def row_ids(self, positions: list[int]) -> list[str]:
        """Our ids for the rows at `positions` (0-based), "row <n>" where a row has no id."""
        if not positions:
            return []
        picked = self.ids[positions].select(self.id_expr.cast(pl.String).alias("id"))["id"].to_list()
        return [value if value else f"row {p + 1}" for value, p in zip(picked, positions, strict=True)]


# ---------------------------------------------------------------------------------------------
# Expression helpers


def present(name: str, frame: pl.DataFrame | None = None) -> pl.Expr:
    """The column holds a non-blank value (never null).

    Given `frame` (the frame the expression will run on), a column that cannot hold a blank value
    needs only a null check: a number, date or flag, or a string column whose every value starts
    with a printable ASCII character (almost always: no value there is empty or starts with
    whitespace). Otherwise every value is trimmed, which costs three times as much."""
    exact = (pl.col(name).cast(pl.String).str.strip_chars().str.len_bytes() > 0).fill_null(False)
    if frame is None or name not in frame.schema:
        return exact
    dtype = frame.schema[name]
    if dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean:
        return pl.col(name).is_not_null()
    if dtype == pl.String:
        value = pl.col(name)
        # Bytewise: "!" (0x21) to "\x7f" takes exactly the values whose first character is
        # printable ASCII; "" and a leading space, tab or non-ASCII character sort outside it.
        if frame.select((value.is_null() | ((value >= "!") & (value < "\x7f"))).all()).item():
            return value.is_not_null()
    return exact


def missing_fields(frame: pl.DataFrame, names: list[str]) -> pl.Expr:
    """Comma-joined names of the columns of `frame` that are blank or null on this row ("" when none)."""
    parts = [pl.when(~present(n, frame)).then(pl.lit(n)) for n in names]
    return pl.concat_str(parts, separator=",", ignore_nulls=True).fill_null("")


def or_missing(name: str) -> pl.Expr:
    """The value, with null shown as "(missing)" (so one in-set check also catches a null)."""
    return pl.col(name).cast(pl.String).fill_null("(missing)")


def occurrences(*names: str) -> pl.Expr:
    """How many rows share this row's key (null when any key part is missing)."""
    missing = pl.any_horizontal([pl.col(n).is_null() for n in names])
    return pl.when(~missing).then(pl.len().over(list(names))).cast(pl.Int64)


def matches(name: str, pattern: str) -> pl.Expr:
    """The value, whitespace around it aside, matches `pattern` in full; true when blank (reported
    by a presence check). One regex on the values as written (no trimmed copy: half the CPU), so a
    pattern is about the trimmed value and must not itself require whitespace at its ends."""
    return pl.col(name).cast(pl.String).str.contains(rf"^\s*(?:(?:{pattern})\s*)?$").fill_null(True)


def yyyymmdd(name: str) -> pl.Expr:
    """A DOJ YYYYMMDD date (null when blank or not a real date)."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text.str.contains(r"^\d{8}$")).then(text.str.strptime(pl.Date, "%Y%m%d", strict=False))


def is_cannabis() -> pl.Expr:
    """The count's statute is HS 11357-11360 (code HS, or unreadable)."""
    # Whitespace around and letter case ignored; regexes on the values as written (no trimmed or
    # re-cased copies of a million strings: 3x less CPU).
    code = pl.col("code").cast(pl.String)
    section = pl.col("section").cast(pl.String)
    return ((code.is_null() | code.str.contains(r"^\s*(?i:hs)\s*$"))
            & section.str.contains(rf"^\s*(?:{'|'.join(CANNABIS_SECTIONS)})\s*$")).fill_null(False)


def in_range(name: str, low: dt.date, high: dt.date | None) -> pl.Expr:
    """Null, or between `low` and `high` (no upper bound when `high` is None)."""
    value = pl.col(name)
    ok = value >= low if high is None else value.is_between(low, high)
    return (value.is_null() | ok).fill_null(False)


def safe(frame: Frame | None, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """`frame` restricted to `columns`, cast to their types; missing columns (or a missing frame)
    become nulls and impossible casts become nulls, so derived checks still run (the schema table
    reports the cause). Lazy frames read only these columns."""
    if frame is None:
        return pl.DataFrame(schema=dict(columns))
    have = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    exprs = [_coerce(c, have.get(c), t).alias(c) for c, t in columns.items()]
    out = frame.select(exprs)
    return out.collect() if isinstance(out, pl.LazyFrame) else out


def _coerce(name: str, actual: pl.DataType | None, wanted: pl.DataType) -> pl.Expr:
    """The column as `wanted`, or nulls when it is missing or cannot be converted."""
    if actual is None:
        return pl.lit(None, dtype=wanted)
    if actual == wanted:
        return pl.col(name)
    if wanted == pl.String:
        return pl.col(name).cast(pl.String, strict=False)
    if actual == pl.String and wanted == pl.Date:
        return pl.col(name).str.to_date(strict=False)
    if (actual.is_numeric() or actual == pl.Boolean) and (wanted.is_numeric() or wanted == pl.Boolean):
        return pl.col(name).cast(wanted, strict=False)
    if actual.is_temporal() and wanted == pl.Date:
        return pl.col(name).cast(pl.Date, strict=False)
    return pl.lit(None, dtype=wanted)


def for_gx(frame: pl.DataFrame) -> pl.DataFrame:
    """Types pandas and GX handle fast: dates as datetime64[ns], every integer as Int64 (GX's
    vectorised range check only takes int64/float64). Strings stay strings: pandas 3 holds them
    in Arrow (its `str` dtype), which costs a fifth of a cast to categorical and its copy."""
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            casts.append(pl.col(name).cast(pl.Datetime("ns")))
        elif dtype.is_integer() and dtype != pl.Int64:
            casts.append(pl.col(name).cast(pl.Int64))
    return frame.with_columns(casts) if casts else frame


def _table(frame: pl.DataFrame, ids: pl.DataFrame, id_expr: pl.Expr) -> Table:
    return Table(frame=for_gx(frame), ids=ids, id_expr=id_expr)


def _line_id() -> pl.Expr:
    return pl.format("{}:{}", pl.col("source_file"), pl.col("source_line"))


# ---------------------------------------------------------------------------------------------
# Tables shared by several checkpoints


def schema_table(suite: SuiteSpec, frames: Mapping[str, Frame | None]) -> Table:
    """One row per required column of each frame given: present, expected and actual type."""
    rows = []
    for frame_name, spec in suite.frames.items():
        frame = frames.get(frame_name)
        if frame is None:
            continue
        have = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
        for column, dtype in spec.required_columns().items():
            rows.append({
                "frame": frame_name,
                "column": column,
                "present": column in have,
                "expected_type": str(dtype),
                "actual_type": str(have[column]) if column in have else None,
            })
    table = pl.DataFrame(rows, schema={"frame": pl.String, "column": pl.String, "present": pl.Boolean,
                                       "expected_type": pl.String, "actual_type": pl.String}, orient="row")
    return _table(table.select("present", "expected_type", "actual_type"), table.select("frame", "column"),
                  pl.format("{}.{}", pl.col("frame"), pl.col("column")))


def files_table(rows: Frame | None, stats: Frame | None, quarantine: Frame | None) -> Table:
    """One row per file: the reader's counts beside the rows actually handed on."""
    counts_schema = {"source_file": pl.String, "rows_read": pl.Int64, "rows_accepted": pl.Int64,
                     "rows_quarantined": pl.Int64}
    stats_df = safe(stats, counts_schema)
    in_frame = safe(rows, {"source_file": pl.String}).group_by("source_file").agg(
        pl.len().cast(pl.Int64).alias("rows_in_frame"))
    table = stats_df.join(in_frame, on="source_file", how="full", coalesce=True, nulls_equal=True)
    if quarantine is not None:
        held = safe(quarantine, {"source_file": pl.String}).group_by("source_file").agg(
            pl.len().cast(pl.Int64).alias("quarantined_in_frame"))
        table = table.join(held, on="source_file", how="full", coalesce=True, nulls_equal=True).with_columns(
            pl.col("quarantined_in_frame").fill_null(0))
    else:
        table = table.with_columns(pl.lit(None, pl.Int64).alias("quarantined_in_frame"))
    table = table.with_columns(
        pl.col("rows_in_frame").fill_null(0),
        (pl.col("rows_accepted") + pl.col("rows_quarantined")).alias("rows_accounted"),
    ).sort("source_file", nulls_last=True)
    return _table(
        table.select("rows_read", "rows_accepted", "rows_quarantined", "rows_accounted", "rows_in_frame",
                     "quarantined_in_frame"),
        table.select("source_file"), pl.col("source_file"),
    )


def counts_table(counts: Frame | None, persons: Frame | None, *, id_pattern: str, required: list[str]) -> Table:
    """One row per count of a source (DOJ or court)."""
    cols = {c: model.COUNT[c] for c in (
        "count_id", "person_id", "case_id", "case_number", "county", "count_number", "step_type",
        "event_date", "disposition", "level", "is_conviction", "source_line")}
    c = safe(counts, cols)
    person_ids = safe(persons, {"person_id": pl.String})["person_id"].drop_nulls()
    table = c.select(
        missing_fields(c, required).alias("missing_fields"),
        matches("count_id", id_pattern).alias("count_id_well_formed"),
        occurrences("count_id").alias("count_occurrences"),
        (pl.col("person_id").is_in(person_ids.implode()) | pl.col("person_id").is_null())
        .fill_null(False).alias("person_known"),
        "step_type",
        or_missing("disposition").alias("disposition"),
        "level",
        "county",
        "count_number",
        (pl.col("is_conviction").fill_null(False) == (pl.col("disposition") == "convicted").fill_null(False))
        .alias("conviction_flag_consistent"),
        (~pl.col("is_conviction").fill_null(False) | pl.col("event_date").is_not_null()).alias("conviction_dated"),
        "event_date",
    )
    return _table(table, c.select("count_id"), pl.col("count_id"))


def persons_table(persons: Frame | None, *, compute_at: dt.date | None) -> Table:
    """One row per person of a source. Identity fields are only ever reduced to "malformed"."""
    p = safe(persons, {c: model.PERSON[c] for c in ("person_id", "cii", "ssn", "dob", "gender")})
    malformed = [
        pl.when(~matches("cii", r"\d{9}")).then(pl.lit("cii")),
        pl.when(~matches("ssn", r"\d{9}")).then(pl.lit("ssn")),
        pl.when(~in_range("dob", dt.date(1900, 1, 1), compute_at)).then(pl.lit("dob")),
    ]
    table = p.select(
        present("person_id", p).alias("person_id_present"),
        occurrences("person_id").alias("person_occurrences"),
        pl.concat_str(malformed, separator=",", ignore_nulls=True).fill_null("").alias("malformed_identity"),
        "gender",
    )
    return _table(table, p.select("person_id"), pl.col("person_id"))


def _need(frames: Mapping[str, Frame | None], suite: SuiteSpec) -> None:
    missing = [name for name, spec in suite.frames.items() if spec.required and frames.get(name) is None]
    unknown = [name for name in frames if name not in suite.frames]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing frame(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown frame(s): {', '.join(unknown)}")
        raise ValueError(
            f"checkpoint {suite.checkpoint!r}: {'; '.join(parts)} "
            f"(it takes: {', '.join(suite.frames)}; see {suite.path})"
        )


# ---------------------------------------------------------------------------------------------
# One preparer per checkpoint: frames + context -> {table name: a function that builds the table}.
# Tables are built on demand (run_checkpoint builds the next one in a worker thread while Great
# Expectations validates the current one: Polars releases the GIL, GX is single-threaded Python).

Builders = dict[str, Callable[[], Table]]


def doj_input(frames: Mapping[str, Frame | None], ctx: ValidationContext, suite: SuiteSpec) -> Builders:
    def rows() -> Table:
        r = safe(frames["rows"], suite.frames["rows"].required_columns()).with_columns(
            yyyymmdd("STP_EVENT_DATE").alias("event_date"),
            pl.col("DISP_DESCR").str.strip_chars().str.starts_with("CONVICTED").fill_null(False).alias("_convicted"),
        )
        dob = yyyymmdd("PRI_DOB")
        unreadable = [
            pl.when(present("STP_EVENT_DATE", r) & pl.col("event_date").is_null()).then(pl.lit("STP_EVENT_DATE")),
            pl.when(present("PRI_DOB", r) & dob.is_null()).then(pl.lit("PRI_DOB")),
        ]
        unknown = [  # values as written: a padded code is not a known code either
            pl.when(pl.col(field).is_not_null() & ~pl.col(field).is_in([*allowed, ""])).then(pl.lit(field))
            for field, allowed in DOJ_CODES.items()
        ]
        table = r.select(
            pl.col("source_line").fill_null(0).alias("line_number"),
            "row_index",
            occurrences("source_file", "source_line").alias("line_occurrences"),
            present("SUBJECT_ID", r).alias("subject_id_present"),
            matches("CNT_ORDER", r"\d{12}").and_(present("CNT_ORDER", r)).alias("cnt_order_well_formed"),
            (~pl.col("_convicted") | pl.col("event_date").is_not_null()).alias("conviction_date_readable"),
            pl.concat_str(unreadable, separator=",", ignore_nulls=True).fill_null("").alias("unreadable_dates"),
            "event_date",
            pl.when(pl.col("STP_ORI_CNTY_NAME") != "").then(pl.col("STP_ORI_CNTY_NAME")).alias("event_county"),
            pl.concat_str(unknown, separator=",", ignore_nulls=True).fill_null("").alias("unknown_codes"),
        )
        return _table(table, r.select("source_file", "source_line"), _line_id())

    return {
        "schema": lambda: schema_table(suite, frames),
        "rows": rows,
        "counts": lambda: counts_table(frames["counts"], frames["persons"], id_pattern=r"doj:[^:]+:\d{12}",
                                       required=["count_id", "person_id", "case_id", "source_line"]),
        "persons": lambda: persons_table(frames["persons"], compute_at=ctx.compute_at),
        "files": lambda: files_table(frames["rows"], frames["stats"], frames.get("quarantine")),
    }


def court_input(frames: Mapping[str, Frame | None], ctx: ValidationContext, suite: SuiteSpec) -> Builders:
    def rows() -> Table:
        r = safe(frames["rows"], suite.frames["rows"].required_columns())
        table = r.select(
            pl.col("source_line").fill_null(0).alias("line_number"),
            occurrences("source_file", "source_line").alias("line_occurrences"),
            present("case_number", r).alias("case_number_present"),
            or_missing("disposition_class").alias("disposition_class"),
        )
        return _table(table, r.select("source_file", "source_line"), _line_id())

    return {
        "schema": lambda: schema_table(suite, frames),
        "rows": rows,
        "counts": lambda: counts_table(frames["counts"], frames["persons"], id_pattern=r"court:[^:]+:[^:]+:\d+",
                                       required=["count_id", "person_id", "case_number", "count_number", "county",
                                                 "source_line"]),
        "persons": lambda: persons_table(frames["persons"], compute_at=ctx.compute_at),
        "files": lambda: files_table(frames["rows"], frames["stats"], frames.get("quarantine")),
    }


def _per_count(referenced: pl.DataFrame, known: pl.DataFrame | None) -> pl.DataFrame:
    """One row per count id named by `referenced` (the stage's output) or `known` (its input).

    `referenced` has ``count_id`` (one row per mention); `known` has ``count_id``, ``in_scope``
    (must be referenced exactly once) and optional extra columns (numbers or dates). One
    group-by over both, instead of a join per question. Columns: ``count_id``, ``times``
    (mentions), ``is_known`` (null when `known` is None), ``in_scope`` and the extras; rows in
    order of first appearance (`known` first), so reports are the same from run to run.
    """
    mentions = referenced.lazy().select(
        pl.col("count_id").cast(pl.String), pl.lit(1, pl.Int64).alias("_mention"), pl.lit(None, pl.Boolean).alias("_known"))
    extras: list[str] = []
    parts = []
    if known is not None:
        extras = [c for c in known.columns if c not in ("count_id", "in_scope")]
        parts.append(known.lazy().with_columns(pl.lit(0, pl.Int64).alias("_mention"), pl.lit(True).alias("_known")))
    parts.append(mentions)
    return (
        pl.concat(parts, how="diagonal")
        .with_row_index("_first")
        .filter(pl.col("count_id").is_not_null())
        # An unordered group-by then a sort on the row number is faster than maintain_order.
        .group_by("count_id")
        .agg(
            pl.col("_first").min(),
            pl.col("_mention").sum().alias("times"),
            (pl.col("_known").any() if known is not None else pl.lit(None, pl.Boolean)).alias("is_known"),
            pl.col("in_scope").fill_null(False).any().alias("in_scope") if known is not None
            else pl.lit(False).alias("in_scope"),
            *[pl.col(c).max().alias(c) for c in extras],  # the known row's value: mentions hold nulls
        )
        .collect()
        # Sorted after collecting: the same sort inside the lazy query took four times as long.
        .sort("_first")
        .drop("_first")
    )


def _classified_counts(referenced: pl.Series, counts: Frame | None) -> Table:
    """One row per count id of one source named by the counts given or by the reconciliation."""
    known = None
    if counts is not None:
        # In scope: the cannabis counts of court steps (a DOJ arrest is not a court case, and
        # reconcile leaves it out).
        known = safe(counts, {"count_id": pl.String, "code": pl.String, "section": pl.String,
                              "step_type": pl.String}).select(
            "count_id", (is_cannabis() & (pl.col("step_type") == "COURT")).fill_null(False).alias("in_scope"))
    per = _per_count(referenced.to_frame("count_id"), known)
    table = per.select(
        # Out of scope (not cannabis) and never classified: nothing to check.
        pl.when(pl.col("in_scope") | (pl.col("times") > 0)).then(pl.col("times")).alias("times_classified"),
        pl.col("is_known").alias("in_input"),
    )
    return _table(table, per.select("count_id"), pl.col("count_id"))


def reconciled(frames: Mapping[str, Frame | None], ctx: ValidationContext, suite: SuiteSpec) -> Builders:
    r = safe(frames["reconciled"], model.RECONCILED)

    def rows() -> Table:
        cls = pl.col("classification")
        has_court = present("court_count_id", r)
        has_doj = present("doj_count_id", r)
        matched = (cls == "matched").fill_null(False)
        table = r.select(
            or_missing("classification").alias("classification"),
            "match_probability",
            pl.when(cls == "matched").then(has_court & has_doj)
            .when(cls == "court_only").then(has_court & ~has_doj)
            .when(cls == "doj_only").then(~has_court & has_doj)
            .otherwise(True)  # an unknown classification is reported by classification_known
            .alias("ids_fit_classification"),
            (~matched | present("agreement", r)).alias("match_evidence_present"),
            (~matched | pl.col("match_probability").is_not_null()).alias("matched_has_probability"),
            present("person_key", r).alias("person_key_present"),
        )
        return _table(table, r.select("court_count_id", "doj_count_id"), pl.coalesce("court_count_id", "doj_count_id"))

    return {
        "schema": lambda: schema_table(suite, frames),
        "reconciled": rows,
        "court_counts": lambda: _classified_counts(r["court_count_id"], frames["court_counts"]),
        "doj_counts": lambda: _classified_counts(r["doj_count_id"], frames.get("doj_counts")),
    }


def determinations(frames: Mapping[str, Frame | None], ctx: ValidationContext, suite: SuiteSpec) -> Builders:
    d = safe(frames["determinations"], model.DETERMINATION)

    def rows() -> Table:
        actionable = pl.col("relief").is_in(ACTIONABLE_RELIEFS).fill_null(False)
        table = d.select(
            missing_fields(d, ["count_id", "reason", "explanation"]).alias("missing_fields"),
            or_missing("determination").alias("determination"),
            or_missing("relief").alias("relief"),
            pl.format("{} -> {}", or_missing("determination"), or_missing("relief")).alias("determination_and_relief"),
            present("rule_id", d).alias("rule_id_present"),
            "compute_at",
            "county",
            (~actionable | present("statutory_basis", d)).alias("basis_present_for_relief"),
            "resulting_level",
        )
        return _table(table, d.select("count_id"), pl.col("count_id"))

    def convictions() -> Table:
        counts = safe(frames["counts"], suite.frames["counts"].required_columns())
        in_county = (pl.col("county").str.to_uppercase() == ctx.county) if ctx.county else pl.lit(True)
        known = counts.filter(pl.col("is_conviction").fill_null(False)).select(
            "count_id", (is_cannabis() & in_county).fill_null(False).alias("in_scope"),
            pl.col("event_date").alias("conviction_date"),
        )
        per = _per_count(d.select("count_id"), known)
        decided = pl.col("times") > 0
        table = per.select(
            pl.when(pl.col("in_scope") | decided).then(pl.col("times")).alias("determinations"),
            (~decided | pl.col("is_known")).alias("decided_count_is_conviction"),
            pl.when(decided).then(pl.col("conviction_date")).alias("conviction_date"),
            pl.when(decided).then(pl.col("conviction_date").is_not_null()).alias("conviction_dated"),
        )
        return _table(table, per.select("count_id"), pl.col("count_id"))

    return {"schema": lambda: schema_table(suite, frames), "determinations": rows, "convictions": convictions}


# What the court needs on every delivered row (DOMAIN.md section 7).
DELIVERY_REQUIRED = [
    "delivery_id", "action", "county", "court_case_number", "count_number", "statute_as_convicted",
    "level_as_convicted", "conviction_date", "defendant_name", "determination", "relief", "statutory_basis",
    "source", "count_id",
]
ELIGIBLE = ["Eligible for Dismissal", "Eligible for Reduction"]
ACTIONABLE_RELIEFS = ["dismiss_and_seal", "redesignate_misdemeanor", "redesignate_infraction", "recall_and_resentence"]


def delivery(frames: Mapping[str, Frame | None], ctx: ValidationContext, suite: SuiteSpec) -> Builders:
    delivered = safe(frames["delivery"], model.DELIVERY_ROW)

    def rows() -> Table:
        r = delivered
        if frames.get("determinations") is not None:
            det = safe(frames["determinations"], {"count_id": pl.String, "determination": pl.String,
                                                  "relief": pl.String})
            agrees = pl.lit(_agrees_with_determinations(r.select("count_id", "determination", "relief"), det))
        else:
            agrees = pl.lit(True)
        pattern = ctx.case_number_pattern
        table = r.select(
            missing_fields(r, DELIVERY_REQUIRED).alias("missing_fields"),
            missing_fields(r, ["dob", "cii", "courthouse"]).alias("missing_recommended"),
            occurrences("delivery_id").alias("delivery_occurrences"),
            "action",
            "county",
            # Without a pattern the format check cannot pass: it says so instead of passing silently.
            (matches("court_case_number", pattern) if pattern else pl.lit(False)).alias("case_number_matches_pattern"),
            "count_number",
            occurrences("court_case_number", "count_number").alias("case_count_occurrences"),
            "level_as_convicted",
            "conviction_date",
            "determination",
            "relief",
            pl.format("{} -> {}", or_missing("determination"), or_missing("relief")).alias("determination_and_relief"),
            "source",
            agrees.alias("matches_determination"),
            "run_id",
        )
        return _table(table, r.select("count_id", "delivery_id"), pl.coalesce("count_id", "delivery_id"))

    return {
        "schema": lambda: schema_table(suite, frames),
        "delivery": rows,
        "row_counts": lambda: _row_counts(delivered, ctx.expected_rows, frames, ctx.delivery_files),
        "ledger_rows": lambda: _ledger_rows(frames, ctx.delivery_files),
    }


def _agrees_with_determinations(rows: pl.DataFrame, det: pl.DataFrame) -> pl.Series:
    """Per delivery row: the determination decided for its count has its determination and relief.

    Joined on a 64-bit hash of count_id (twice as fast as on the strings), then each row's id is
    compared with the id it was joined to, so a hash collision cannot make a row agree: two
    determinations whose ids share a hash fail the join's one-per-key check and the rows are
    joined on the strings instead."""
    right = det.select(pl.col("count_id").hash().alias("_key"), pl.col("count_id").alias("_det_count_id"),
                       pl.col("determination").alias("_det_determination"), pl.col("relief").alias("_det_relief"))
    left = rows.with_columns(pl.col("count_id").hash().alias("_key"))
    try:  # one determination per count (checked by the determinations checkpoint)
        joined = left.join(right, on="_key", how="left", maintain_order="left", validate="m:1")
    except pl.exceptions.ComputeError:  # ids sharing a hash, or a count decided twice: its first determination
        first = right.drop("_key").unique("_det_count_id", keep="first", maintain_order=True)
        joined = rows.join(first, left_on="count_id", right_on="_det_count_id", how="left", maintain_order="left",
                           coalesce=False)
    return joined.select(
        ((pl.col("_det_count_id") == pl.col("count_id")) & (pl.col("_det_determination") == pl.col("determination"))
         & (pl.col("_det_relief") == pl.col("relief"))).fill_null(False)
    ).to_series()


LEDGER_COLUMNS = {"delivery_id": pl.String, "action": pl.String, "count_id": pl.String, "relief": pl.String}
FILE_COLUMNS = {"file": pl.String, "action": pl.String, "delivery_id": pl.String}


def _row_counts(rows: pl.DataFrame, expected: int | Mapping[str, int] | None,
                frames: Mapping[str, Frame | None], file_names: tuple[str, ...] = ()) -> Table:
    """One row per (source, action): the rows a source holds, beside the rows the ledger recorded
    for this delivery. Sources: each file read back from the staged folder, the validated rows,
    the eligible determinations behind the ledger's rows, and the plan (context expected_rows)."""
    ledger = safe(frames["ledger"], LEDGER_COLUMNS) if frames.get("ledger") is not None else None
    in_ledger: dict[str, int | None] = dict.fromkeys([*ACTIONS, "all"])
    if ledger is not None:
        in_ledger = {**dict.fromkeys(ACTIONS, 0), **dict(ledger.group_by("action").len().iter_rows()),
                     "all": ledger.height}
    table: list[tuple[str, str, int | None]] = []  # (source, action, rows)

    def by_action(source: str, frame: pl.DataFrame, actions: tuple[str, ...]) -> None:
        found = dict(frame.group_by("action").len().iter_rows())
        table.extend((source, a, found.get(a, 0)) for a in actions)

    if frames.get("files") is not None:
        # One group-by for every file and action (not a partition of the read-back rows per file).
        per_file = safe(frames["files"], FILE_COLUMNS).group_by("file", "action", maintain_order=True).len()
        totals = (per_file.group_by("file", maintain_order=True)
                  .agg(pl.col("len").sum().alias("all"), pl.col("action").is_not_null().any().alias("says_action")))
        found = {(f, a): n for f, a, n in per_file.select("file", "action", "len").iter_rows()}
        for name, rows_all, says_action in totals.iter_rows():
            if says_action:
                table.extend((str(name), a, found.get((name, a), 0)) for a in ACTIONS)
            table.append((str(name), "all", rows_all))
        seen = set(totals.get_column("file").to_list())
        table.extend((name, "all", 0) for name in file_names if name not in seen)  # read back empty
    else:
        table.append(("files", "all", None))  # not read back: reported by files_given
    by_action("validated rows", rows, ("new", "correction"))
    if ledger is not None and frames.get("determinations") is not None:
        det = safe(frames["determinations"], {"count_id": pl.String, "determination": pl.String, "relief": pl.String})
        eligible = det.filter(pl.col("determination").is_in(ELIGIBLE) & pl.col("relief").is_in(ACTIONABLE_RELIEFS))
        backed = ledger.join(eligible.select("count_id", "relief"), on=["count_id", "relief"], how="semi")
        by_action("eligible determinations", backed, ("new", "correction"))
    if isinstance(expected, Mapping):
        actions = list(dict.fromkeys([*ACTIONS, *expected]))
        plan = {a: int(expected.get(a, 0)) for a in actions}
        table.extend(("plan", a, n) for a, n in plan.items())
        table.append(("plan", "all", sum(plan.values())))
    elif expected is not None:
        table.append(("plan", "all", int(expected)))
    frame = pl.DataFrame(
        {"source": [t[0] for t in table], "action": [t[1] for t in table], "rows": [t[2] for t in table],
         "in_ledger": [in_ledger.get(t[1], 0) if ledger is not None else None for t in table]},
        schema={"source": pl.String, "action": pl.String, "rows": pl.Int64, "in_ledger": pl.Int64},
    )
    return _table(frame.select("rows", "in_ledger"), frame.select("source", "action"),
                  pl.format("{}:{}", pl.col("source"), pl.col("action")))


def _ledger_rows(frames: Mapping[str, Frame | None], file_names: tuple[str, ...] = ()) -> Table:
    """One row per (delivery id, action) the ledger recorded for this delivery or a file read back
    names: how often the ledger has it, and the files that hold it a different number of times."""
    ledger = safe(frames.get("ledger"), LEDGER_COLUMNS).select("delivery_id", "action", pl.lit("").alias("file"))
    files = safe(frames.get("files"), FILE_COLUMNS).filter(pl.col("delivery_id").is_not_null())
    names = files.get_column("file").unique(maintain_order=True).to_list()
    if frames.get("files") is not None:  # a file read back empty holds none of the ledger's rows
        present = set(safe(frames["files"], {"file": pl.String}).get_column("file").unique().to_list())
        names += [name for name in file_names if name not in present]
    per = (
        # Lazy: Polars' streaming engine groups these 2-key string rows in a third of the CPU.
        pl.concat([ledger, files.select("delivery_id", "action", "file")]).lazy()
        .with_row_index("_first")
        .group_by("delivery_id", "action")
        .agg(pl.col("_first").min(), (pl.col("file") == "").sum().alias("ledger_times"),
             *[(pl.col("file") == name).sum().alias(f"_in_{i}") for i, name in enumerate(names)])
        .sort("_first")
        .collect(engine="streaming")
    )
    differs = [pl.when(pl.col(f"_in_{i}") != pl.col("ledger_times")).then(pl.lit(name)) for i, name in enumerate(names)]
    given = frames.get("ledger") is not None
    table = per.select(
        (pl.col("ledger_times") if given else pl.lit(None, pl.Int64)).cast(pl.Int64).alias("ledger_times"),
        (pl.concat_str(differs, separator=",", ignore_nulls=True).fill_null("") if differs and given
         else pl.lit("")).alias("files_disagreeing"),
    )
    return _table(table, per.select("delivery_id", "action"),
                  pl.format("{} ({})", pl.coalesce("delivery_id", pl.lit("no id")), or_missing("action")))


PREPARERS: dict[str, Callable[[Mapping[str, Frame | None], ValidationContext, SuiteSpec], Builders]] = {
    "doj_input": doj_input,
    "court_input": court_input,
    "reconciled": reconciled,
    "determinations": determinations,
    "delivery": delivery,
}


def builders(suite: SuiteSpec, frames: Mapping[str, Any], ctx: ValidationContext) -> Builders:
    """For each table of `suite`'s checkpoint, a function that builds it from `frames`.

    Raises ValueError when a required frame is missing or a frame is not one the suite takes.
    """
    frames = {name: _as_frame(value) for name, value in frames.items()}
    _need(frames, suite)
    made = PREPARERS[suite.checkpoint](frames, ctx, suite)
    missing = [name for name in suite.tables if name not in made]
    if missing:  # pragma: no cover - a bug here, not bad input
        raise RuntimeError(f"{suite.checkpoint}: no builder for table(s) {missing}")

    def checked(name: str) -> Callable[[], Table]:
        def build() -> Table:
            table = made[name]()
            wanted = {c for exp in suite.tables[name].expectations for c in exp.columns()}
            lacking = wanted - set(table.frame.columns)
            if lacking:  # pragma: no cover - a bug here, not bad input
                raise RuntimeError(f"{suite.checkpoint}.{name}: expectations read {sorted(lacking)}, not prepared")
            return table

        return build

    return {name: checked(name) for name in suite.tables}


def prepare(suite: SuiteSpec, frames: Mapping[str, Any], ctx: ValidationContext) -> dict[str, Table]:
    """Every table of `suite`'s checkpoint, built from `frames` (in table order)."""
    return {name: build() for name, build in builders(suite, frames, ctx).items()}


def _as_frame(value: Any) -> Frame | None:
    if value is None or isinstance(value, pl.DataFrame | pl.LazyFrame):
        return value
    if isinstance(value, Mapping):  # e.g. one file's stats as a dict
        return pl.DataFrame([dict(value)])
    if isinstance(value, list):
        return pl.DataFrame(value)
    raise TypeError(f"a frame must be a Polars DataFrame or LazyFrame, not {type(value).__name__}")
