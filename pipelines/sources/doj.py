"""The DOJ research file: read it (with quarantine) and turn it into canonical persons and counts.

    read = read_doj(["county.dat"])                    # DojRead(rows, quarantine, stats)
    persons = doj_persons(read.rows)                   # model.PERSON, one row per SUBJECT_ID
    counts = doj_counts(read.rows)                     # model.COUNT + extras, one per count

The file (DOMAIN.md section 3) is comma-separated with double-quote quoting and exactly 95 fields
per row; a header row (starting with ``RECORD_ID``) is optional and may end with a stray comma.

How a file is read, without a Python loop over rows:

1. The file is read as one text column of physical lines (Polars ``read_csv`` with a separator
   byte that does not occur in the file and no quoting). Invalid UTF-8 (old Latin-1 files) is
   replaced, never fatal; such files are reported with encoding ``"latin-1 (lossy)"``.
2. Each line is checked with one regular expression for "exactly 95 well-formed CSV fields".
   Bad lines are explained (field count, unterminated quote, quote inside an unquoted field,
   NUL byte) and quarantined, or fail the file in strict mode. Empty lines carry no data and
   are skipped (counted in ``stats.blank_lines``), as the incumbent tool did.
3. The good lines are parsed with Polars ``read_csv`` (every column String, values exactly as
   written, empty fields ``""``). When every line is good the file itself is parsed directly.

A quoted field spanning several lines is not supported: the DOJ format has none, and each part
is quarantined as an unterminated quote.
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from pipelines import model
from pipelines.errors import ConservationError, InputError
from pipelines.normalize.sections import find_statutes, parse_statute

SOURCE = "doj"
UTF8 = "utf-8"
LATIN1_LOSSY = "latin-1 (lossy)"

# The DOJ columns doj_persons and doj_counts read; read_doj(columns=CANONICAL_INPUT_COLUMNS)
# keeps only these, which is what makes a 2M-row file fit in memory.
CANONICAL_INPUT_COLUMNS: tuple[str, ...] = (
    "SUBJECT_ID", "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "PRI_SSN", "PRI_CDL",
    "FBI_NUMBER", "RACE_DESCR", "STP_EVENT_DATE", "STP_TYPE_DESCR", "STP_ORI_CNTY_NAME",
    "CNT_ORDER", "OFN", "OFFENSE_DESCR", "OFFENSE_TOC", "DISP_DESCR", "CONV_STAT_DESCR",
    "SENT_LENGTH", "SENT_TIME_CODE", "COMMENT_TEXT",
)

STATS: dict[str, pl.DataType] = {
    "source_file": pl.String,
    "rows_read": pl.Int64,  # data lines (not the header, not empty lines)
    "rows_accepted": pl.Int64,
    "rows_quarantined": pl.Int64,
    "has_header": pl.Boolean,
    "encoding": pl.String,  # "utf-8" | "latin-1 (lossy)"
    "blank_lines": pl.Int64,  # empty lines, skipped
}

# Extra columns doj_counts adds after model.COUNT.
COUNT_EXTRAS: dict[str, pl.DataType] = {
    "step_type_text": pl.String,  # STP_TYPE_DESCR as written
    "is_pc290_registration": pl.Boolean,  # a REGISTRATION step whose offense starts with 290
    "ofn": pl.String,
    "cnt_order": pl.String,
    "subject_id": pl.String,
    "offense_descr": pl.String,
    "conv_stat_descr": pl.String,
    "offense_toc": pl.String,
}

# One CSV field: unquoted (no comma, quote or NUL) or quoted ("" escapes a quote).
_FIELD = r'(?:[^,"\x00]*|"(?:[^"\x00]|"")*")'
_GOOD_LINE = rf"^{_FIELD}(?:,{_FIELD}){{{model.DOJ_FIELD_COUNT - 1}}}$"

# Separator bytes for reading whole lines as one column: the first one absent from the file.
_LINE_SEPARATORS = [chr(b) for b in (0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C), 0x7F)]


@dataclass
class DojRead:
    """What read_doj returns.

    - ``rows``: the DOJ columns as ``pl.String`` exactly as written (all 95 unless ``columns``
      was given), then ``model.LINEAGE`` and ``row_index`` (Int64, 0-based position among the
      accepted rows of all files, in the order the files were given).
    - ``quarantine``: ``model.QUARANTINE``, one row per unreadable line.
    - ``stats``: ``STATS``, one row per file.
    """

    rows: pl.DataFrame
    quarantine: pl.DataFrame
    stats: pl.DataFrame


def read_doj(
    paths: Sequence[str | Path],
    *,
    mode: Literal["quarantine", "strict"] = "quarantine",
    columns: Sequence[str] | None = None,
) -> DojRead:
    """Read DOJ research files.

    ``mode="quarantine"`` (default): unreadable lines go to ``quarantine`` with reason, detail
    and raw text; the rest are read. ``mode="strict"``: the first unreadable line raises
    InputError naming file, line and field count (``kind="PARSING"``). A missing or unreadable
    file raises InputError (``kind="OTHER"``); a header that does not name the DOJ columns raises
    InputError in both modes. ``columns`` restricts ``rows`` to those DOJ columns (default: all).
    Per file, rows read = rows accepted + rows quarantined (ConservationError otherwise).
    """
    if mode not in ("quarantine", "strict"):
        raise ValueError(f"mode must be 'quarantine' or 'strict', not {mode!r}")
    keep = list(model.DOJ_COLUMNS) if columns is None else list(columns)
    unknown = [c for c in keep if c not in model.DOJ_COLUMNS]
    if unknown:
        raise ValueError(f"not DOJ columns: {unknown}")
    keep = [c for c in model.DOJ_COLUMNS if c in keep]  # file order

    frames, quarantines, stats = [], [], []
    for path in paths:
        rows, quarantine, stat = _read_file(Path(path), mode, keep)
        frames.append(rows)
        quarantines.append(quarantine)
        stats.append(stat)

    rows = pl.concat(frames, how="vertical") if frames else _empty_rows(keep)
    rows = rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_index"))
    quarantine = pl.concat(quarantines, how="vertical") if quarantines else model.empty(model.QUARANTINE)
    stats_frame = pl.DataFrame(stats, schema=STATS)
    if rows.height != stats_frame["rows_accepted"].sum() or quarantine.height != stats_frame["rows_quarantined"].sum():
        raise ConservationError("DOJ read: accepted/quarantined rows do not add up to the per-file counts")
    return DojRead(rows=rows, quarantine=quarantine, stats=stats_frame)


# ---------------------------------------------------------------------------------------------
# Reading one file


def _empty_rows(keep: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={**{c: pl.String for c in keep}, **model.LINEAGE})


def _unused_separator(path: Path) -> str | None:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for sep in _LINE_SEPARATORS:
            if mm.find(sep.encode()) == -1:
                return sep
    return None


def _read_lines(path: Path) -> tuple[pl.DataFrame, str]:
    """Physical lines of the file as one String column "line" (null for an empty line)."""
    sep = _unused_separator(path)
    if sep is None:  # every candidate byte occurs: not a text file; split it ourselves
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        encoding = UTF8 if text.encode("utf-8") == data else LATIN1_LOSSY
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        frame = pl.DataFrame({"line": lines}, schema={"line": pl.String})
        return frame.with_columns(pl.col("line").str.strip_suffix("\r")), encoding

    def read(encoding: str) -> pl.DataFrame:
        return pl.read_csv(
            path, has_header=False, separator=sep, quote_char=None, infer_schema=False,
            encoding=encoding, raise_if_empty=False, new_columns=["line"],
        )

    try:
        return read("utf8"), UTF8
    except pl.exceptions.ComputeError as e:
        if "utf" not in str(e).lower():
            raise
    return read("utf8-lossy"), LATIN1_LOSSY


def _check_header(line: str, name: str) -> None:
    """A header with 95 names must name the DOJ columns in order (else every column would be
    misread). Other headers (94 names, a trailing comma) are skipped like the incumbent did:
    the data rows are judged by their own field count."""
    names = [n.strip().upper() for n in line.split(",")]
    if len(names) != model.DOJ_FIELD_COUNT or names == list(model.DOJ_COLUMNS):
        return
    at = next(i for i, (a, b) in enumerate(zip(names, model.DOJ_COLUMNS, strict=True)) if a != b)
    raise InputError(
        f"the header row does not name the DOJ research file columns in order "
        f"(column {at + 1} is {names[at]!r}, expected {model.DOJ_COLUMNS[at]!r})",
        file=name, line=1, kind="PARSING",
    )


def _explain(line: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(reason, detail) for a line that failed _GOOD_LINE."""
    unquoted = line.str.replace_all(r'"[^"]*"', "")
    fields = unquoted.str.count_matches(",", literal=True) + 1
    reason = (
        pl.when(line.str.contains("\x00", literal=True)).then(pl.lit("nul_byte"))
        .when(unquoted.str.contains('"', literal=True)).then(pl.lit("unterminated_quote"))
        .when(fields != model.DOJ_FIELD_COUNT).then(pl.lit("field_count"))
        .otherwise(pl.lit("bad_quote"))
    )
    detail = (
        pl.when(reason == "nul_byte").then(pl.lit("NUL byte in the line"))
        .when(reason == "unterminated_quote").then(pl.lit("unterminated quoted field"))
        .when(reason == "field_count").then(
            pl.format("{} fields, expected {}", fields, pl.lit(model.DOJ_FIELD_COUNT))
        )
        .otherwise(pl.lit("quote character inside an unquoted field"))
    )
    return reason, detail


def _parse(source: Path | io.BytesIO, *, skip_header: bool, keep: list[str], encoding: str) -> pl.DataFrame:
    index = {c: i for i, c in enumerate(model.DOJ_COLUMNS)}
    return pl.read_csv(
        source,
        has_header=False,
        skip_lines=1 if skip_header else 0,
        schema={c: pl.String for c in model.DOJ_COLUMNS},
        columns=[index[c] for c in keep],
        empty_string_is_null=False,
        encoding="utf8-lossy" if encoding != UTF8 else "utf8",
        raise_if_empty=False,
    ).select(keep)


def _read_file(path: Path, mode: str, keep: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    name = path.name
    try:
        if not path.is_file():
            raise InputError("no such file", file=name, kind="OTHER")
        size = path.stat().st_size
        if size:
            lines, encoding = _read_lines(path)
        else:
            lines, encoding = pl.DataFrame(schema={"line": pl.String}), UTF8
    except OSError as e:
        raise InputError(f"cannot read the file ({e.strerror or e})", file=name, kind="OTHER") from e

    if lines.width == 0 or lines.height == 0:
        lines = pl.DataFrame(schema={"line": pl.String})
    lines = lines.with_row_index("source_line", offset=1).with_columns(pl.col("source_line").cast(pl.Int64))

    first = lines["line"][0] if lines.height else None
    has_header = first is not None and first.startswith("RECORD_ID")
    if has_header:
        _check_header(first, name)
        lines = lines.slice(1)

    flags = lines.select(
        blank=pl.col("line").is_null() | (pl.col("line") == ""),
        good=pl.col("line").str.contains(_GOOD_LINE).fill_null(False),
    )
    blank_lines = int(flags["blank"].sum())
    n_good = int(flags["good"].sum())
    rows_read = lines.height - blank_lines
    stat = {"source_file": name, "rows_read": rows_read, "rows_accepted": n_good,
            "rows_quarantined": rows_read - n_good, "has_header": has_header,
            "encoding": encoding, "blank_lines": blank_lines}

    bad = lines.filter(~flags["blank"] & ~flags["good"])
    if bad.height:
        reason, detail = _explain(pl.col("line"))
        bad = bad.select(
            pl.lit(SOURCE).alias("source"), pl.lit(name).alias("source_file"), "source_line",
            reason.alias("reason"), detail.alias("detail"), pl.col("line").alias("raw"),
        )
        if mode == "strict":
            first_bad = bad.row(0, named=True)
            raise InputError(f"{first_bad['detail']} ({first_bad['reason']})",
                             file=name, line=first_bad["source_line"], kind="PARSING")
    quarantine = model.conform(bad, model.QUARANTINE, extra=False)

    if n_good == 0:
        rows = _empty_rows(keep)
    elif n_good == lines.height:  # every line good: parse the file itself
        source_line = lines["source_line"]
        del lines, flags
        rows = _parse(path, skip_header=has_header, keep=keep, encoding=encoding)
        rows = rows.with_columns(source_line.alias("source_line"))
    else:
        good = lines.filter(flags["good"])
        del lines, flags
        source_line = good["source_line"]
        buffer = io.BytesIO()
        good.select("line").write_csv(buffer, include_header=False, quote_style="never", separator="\x1f")
        del good
        buffer.seek(0)
        rows = _parse(buffer, skip_header=False, keep=keep, encoding=UTF8)
        rows = rows.with_columns(source_line.alias("source_line"))

    if rows.height != n_good:
        raise ConservationError(f"{name}: {n_good} good lines but {rows.height} rows parsed")
    rows = rows.select(
        *keep, pl.lit(SOURCE).alias("source"), pl.lit(name).alias("source_file"),
        pl.col("source_line").cast(pl.Int64),
    )
    if stat["rows_read"] != stat["rows_accepted"] + stat["rows_quarantined"] or quarantine.height != stat["rows_quarantined"]:
        raise ConservationError(f"{name}: rows read != rows accepted + rows quarantined")
    return rows, quarantine, stat


# ---------------------------------------------------------------------------------------------
# Canonical conversion (the incumbent tool's semantics, gogen data/doj_row.go and subject.go)


def _text(name: str) -> pl.Expr:
    return pl.col(name).fill_null("")


def _date(expr: pl.Expr) -> pl.Expr:
    """YYYYMMDD -> Date; anything else -> null."""
    return pl.when(expr.str.contains(r"^\d{8}$")).then(expr.str.strptime(pl.Date, "%Y%m%d", strict=False))


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.strip_chars() != "").then(expr)


# Sentence units in hours, as gogen computes them: a year is the duration from 2011-03-04 to
# 2012-03-04 (366 days, it spans Feb 29 2012) and a month is that year / 12 (30.5 days).
_HOURS_PER_UNIT = {"D": 24, "M": 366 * 24 // 12, "Y": 366 * 24}
# Sentence parts are capped at 10,000 years so dates stay in range (gogen overflowed instead).
_MAX_SENTENCE_HOURS = 10_000 * 366 * 24


def _sentence_part_hours() -> pl.Expr:
    """SENT_LENGTH x unit of SENT_TIME_CODE, in hours; non-numeric lengths count 0 (Go Atoi)."""
    length_text = _text("SENT_LENGTH")
    length = (
        pl.when(length_text.str.contains(r"^[+-]?\d{1,12}$"))
        .then(length_text.str.strip_prefix("+").cast(pl.Int64, strict=False))
        .otherwise(0)
    )
    unit = _text("SENT_TIME_CODE").replace_strict(_HOURS_PER_UNIT, default=0, return_dtype=pl.Int64)
    return (length * unit).clip(-_MAX_SENTENCE_HOURS, _MAX_SENTENCE_HOURS)


def _offense_text() -> pl.Expr:
    """gogen's CodeSection: OFFENSE_DESCR (or COMMENT_TEXT when the offense is blank or says
    SEE COMMENT FOR CHARGE) up to the first "-", untrimmed."""
    offense = _text("OFFENSE_DESCR")
    in_comment = offense.str.strip_chars().is_in(["", "SEE COMMENT FOR CHARGE"])
    written = pl.when(in_comment).then(_text("COMMENT_TEXT")).otherwise(offense)
    return written.str.extract(r"(?s)^([^-]*)", 1)


def _step_type() -> pl.Expr:
    step = _text("STP_TYPE_DESCR")
    return (
        pl.when(step.str.starts_with("ARREST")).then(pl.lit("ARREST"))
        .when(step == "COURT ACTION").then(pl.lit("COURT"))
        .when(step == "REGISTRATION").then(pl.lit("REGISTRATION"))
        .when(step == "DECEASED").then(pl.lit("DECEASED"))
        .otherwise(pl.lit("OTHER"))
    )


def _need(frame: pl.DataFrame | pl.LazyFrame, names: Sequence[str]) -> pl.LazyFrame:
    lf = frame.lazy()
    have = lf.collect_schema().names()
    missing = [c for c in names if c not in have]
    if missing:
        raise ValueError(f"DOJ rows lack columns {missing}; read them with read_doj(columns=...) including these")
    return lf


_COUNT_KEY = ("SUBJECT_ID", "CNT_ORDER")


def doj_counts(rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One canonical count per (SUBJECT_ID, CNT_ORDER): model.COUNT columns, then COUNT_EXTRAS.

    The conviction row of a count is its first row whose DISP_DESCR starts with CONVICTED (in
    row_index order); its sentence end is that row's STP_EVENT_DATE plus the sentence parts of
    every convicted row of the count. A count without a convicted row is its first row. Case
    numbers are the OFN values of the COURT ACTION rows of the case (SUBJECT_ID + first 6 digits
    of CNT_ORDER), over all rows, in order of first appearance. Sorted by row_index.
    """
    need = [*CANONICAL_INPUT_COLUMNS, *model.LINEAGE, "row_index"]
    lf = _need(rows, need).select(
        *[_text(c).alias(c) for c in CANONICAL_INPUT_COLUMNS], *model.LINEAGE, "row_index"
    ).with_columns(
        _text("DISP_DESCR").str.starts_with("CONVICTED").alias("_convicted"),
        _sentence_part_hours().alias("_part_hours"),
        pl.col("CNT_ORDER").str.slice(0, 6).alias("_case6"),
    )
    per_count = lf.group_by(_COUNT_KEY).agg(
        pl.col("row_index").filter(pl.col("_convicted")).min().alias("_first_conviction"),
        pl.col("row_index").min().alias("_first_row"),
        pl.col("_part_hours").filter(pl.col("_convicted")).sum().alias("_sentence_hours"),
    ).select(
        pl.coalesce("_first_conviction", "_first_row").alias("row_index"),
        "_sentence_hours",
    )
    canonical = per_count.join(lf, on="row_index", how="inner")

    case_numbers = (
        lf.filter((pl.col("STP_TYPE_DESCR") == "COURT ACTION") & (pl.col("OFN") != ""))
        .group_by("SUBJECT_ID", "_case6", "OFN")
        .agg(pl.col("row_index").min().alias("_seen"))
        .group_by("SUBJECT_ID", "_case6")
        .agg(
            pl.col("OFN").sort_by("_seen").str.join("; ").alias("case_numbers"),
            pl.col("OFN").sort_by("_seen").str.strip_chars()
            .filter(~pl.col("OFN").sort_by("_seen").str.strip_chars().is_in(["", "NULL"]))
            .first().alias("case_number"),
        )
    )

    offense = canonical.select(_offense_text().alias("offense_text")).unique()
    statute = parse_statute(pl.col("offense_text"))
    offense_statutes = offense.select(
        "offense_text",
        statute.struct.field("code").alias("code"),
        statute.struct.field("section").alias("section"),
        statute.struct.field("subsection").alias("subsection"),
        statute.struct.field("statute").alias("_statute"),
    )
    comments = (
        canonical.select(pl.col("COMMENT_TEXT")).unique()
        .filter(pl.col("COMMENT_TEXT").str.strip_chars() != "")
        .select("COMMENT_TEXT", find_statutes(pl.col("COMMENT_TEXT")).alias("_comment_statutes"))
    )

    convicted = pl.col("_convicted")
    event_date = _date(pl.col("STP_EVENT_DATE"))
    disp = pl.col("DISP_DESCR")
    conv_stat = pl.col("CONV_STAT_DESCR")
    is_felony = (conv_stat == "FELONY") | ((conv_stat == "") & (pl.col("OFFENSE_TOC") == "F"))
    level_text = pl.when(conv_stat.str.strip_chars() != "").then(conv_stat).otherwise(pl.col("OFFENSE_TOC"))
    level_text = level_text.str.strip_chars().str.to_uppercase()
    count_number = pl.col("CNT_ORDER").str.slice(6, 3)
    own_bare = pl.when(pl.col("section").is_not_null()).then(pl.col("section") + pl.col("subsection"))

    out = (
        canonical.with_columns(_offense_text().alias("offense_text"))
        .join(offense_statutes, on="offense_text", how="left", nulls_equal=True)
        .join(comments, on="COMMENT_TEXT", how="left")
        .join(case_numbers, on=["SUBJECT_ID", "_case6"], how="left")
        .with_columns(
            pl.format("doj:{}:{}", "SUBJECT_ID", "CNT_ORDER").alias("count_id"),
            pl.format("doj:{}", "SUBJECT_ID").alias("person_id"),
            pl.format("doj:{}:{}", "SUBJECT_ID", "_case6").alias("case_id"),
            pl.format("doj:{}:{}", "SUBJECT_ID", pl.col("CNT_ORDER").str.slice(0, 3)).alias("cycle_id"),
            pl.col("STP_ORI_CNTY_NAME").alias("county"),
            pl.when(count_number.str.contains(r"^\d+$")).then(count_number.cast(pl.Int32, strict=False))
            .alias("count_number"),
            _step_type().alias("step_type"),
            event_date.alias("event_date"),
            pl.col("COMMENT_TEXT").alias("comment_text"),
            pl.col("_comment_statutes").fill_null([])
            .list.set_difference(pl.concat_list(pl.col("_statute"), own_bare).list.drop_nulls())
            .alias("comment_sections"),
            pl.when(is_felony).then(pl.lit("F"))
            .when(level_text.is_in(["MISDEMEANOR", "M"])).then(pl.lit("M"))
            .when(level_text.is_in(["INFRACTION", "I"])).then(pl.lit("I"))
            .alias("level"),
            is_felony.alias("is_felony"),
            pl.when(convicted).then(pl.lit("convicted"))
            .when(disp.str.starts_with("DISMISSED")).then(pl.lit("dismissed"))
            .when(disp.str.contains("ACQUITTED", literal=True) | disp.str.contains("NOT GUILTY", literal=True))
            .then(pl.lit("acquitted"))
            .otherwise(pl.lit("unknown"))
            .alias("disposition"),
            disp.alias("disposition_text"),
            convicted.alias("is_conviction"),
            pl.when(convicted).then(
                (event_date.cast(pl.Datetime("us")) + pl.duration(hours=pl.col("_sentence_hours"))).dt.date()
            ).alias("sentence_end"),
            pl.col("STP_TYPE_DESCR").alias("step_type_text"),
            ((pl.col("STP_TYPE_DESCR") == "REGISTRATION") & pl.col("OFFENSE_DESCR").str.starts_with("290"))
            .alias("is_pc290_registration"),
            pl.col("OFN").alias("ofn"),
            pl.col("CNT_ORDER").alias("cnt_order"),
            pl.col("SUBJECT_ID").alias("subject_id"),
            pl.col("OFFENSE_DESCR").alias("offense_descr"),
            pl.col("CONV_STAT_DESCR").alias("conv_stat_descr"),
            pl.col("OFFENSE_TOC").alias("offense_toc"),
        )
        .sort("row_index")
    )
    return model.conform(out.collect(), {**model.COUNT, **COUNT_EXTRAS}, extra=False)


# Name suffixes recognised at the end of the last name or of the given names.
_SUFFIXES = ("JR", "SR", "II", "III", "IV")


def _name_parts(raw: pl.Expr) -> dict[str, pl.Expr]:
    """PRI_NAME "LAST,FIRST MIDDLE" -> upper-case parts with accents removed."""
    clean = (
        raw.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_uppercase()
        .str.replace_all(r"\s+", " ").str.strip_chars()
    )
    sfx = "|".join(_SUFFIXES)
    last_part = clean.str.extract(r"^([^,]*)", 1).str.strip_chars()
    given = clean.str.extract(r",(.*)$", 1).str.strip_chars().fill_null("")
    last_suffix = last_part.str.extract(rf"\s({sfx})\.?$", 1)
    given_suffix = given.str.extract(rf"(?:^|\s)({sfx})\.?$", 1)
    last = last_part.str.replace(rf"\s({sfx})\.?$", "").str.strip_chars()
    given = given.str.replace(rf"(?:^|\s)({sfx})\.?$", "").str.strip_chars()
    first = given.str.extract(r"^(\S+)", 1)
    middle = given.str.extract(r"^\S+\s+(.+)$", 1)
    return {
        "last_name": _blank_to_null(last),
        "first_name": first,
        "middle_name": middle,
        "name_suffix": pl.coalesce(given_suffix, last_suffix),
    }


def _cii(expr: pl.Expr) -> pl.Expr:
    """CII: its digits (a leading letter such as "A" dropped), left-padded with zeros to 9 digits.

    Longer numbers keep all their digits; no digits -> null.
    """
    digits = expr.str.replace_all(r"\D", "")
    return pl.when(digits != "").then(digits.str.zfill(9))


def doj_persons(rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One model.PERSON row per SUBJECT_ID, from its first row (lowest row_index).

    person_id ``doj:<SUBJECT_ID>``; names split from PRI_NAME ``LAST,FIRST MIDDLE`` (upper case,
    accents removed, suffix JR/SR/II/III/IV apart); dob from PRI_DOB (YYYYMMDD); cii from
    CII_NUMBER (see _cii); ssn the 9 digits of PRI_SSN (else null); cdl upper-case alphanumerics of
    PRI_CDL; gender M/F/X; race RACE_DESCR as written; county STP_ORI_CNTY_NAME of the first row.
    Sorted by the first row's row_index.
    """
    cols = ["SUBJECT_ID", "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "PRI_SSN", "PRI_CDL",
            "FBI_NUMBER", "RACE_DESCR", "STP_ORI_CNTY_NAME"]
    lf = _need(rows, [*cols, *model.LINEAGE, "row_index"]).select(
        *[_text(c).alias(c) for c in cols], *model.LINEAGE, "row_index"
    )
    first = lf.sort("row_index").unique(subset="SUBJECT_ID", keep="first", maintain_order=True)
    names = _name_parts(pl.col("PRI_NAME"))
    ssn = pl.col("PRI_SSN").str.replace_all(r"\D", "")
    cdl = pl.col("PRI_CDL").str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")
    gender = pl.col("GENDER").str.strip_chars().str.to_uppercase()
    out = first.select(
        pl.format("doj:{}", "SUBJECT_ID").alias("person_id"),
        pl.col("SUBJECT_ID").alias("source_person_key"),
        _cii(pl.col("CII_NUMBER")).alias("cii"),
        pl.when((ssn.str.len_chars() == 9) & (ssn != "000000000")).then(ssn).alias("ssn"),
        pl.when(cdl != "").then(cdl).alias("cdl"),
        _blank_to_null(pl.col("FBI_NUMBER").str.strip_chars().str.to_uppercase()).alias("fbi"),
        _blank_to_null(pl.col("PRI_NAME")).alias("name_raw"),
        *[expr.alias(name) for name, expr in names.items()],
        _date(pl.col("PRI_DOB")).alias("dob"),
        pl.when(gender.is_in(["M", "F", "X"])).then(gender).alias("gender"),
        _blank_to_null(pl.col("RACE_DESCR")).alias("race"),
        _blank_to_null(pl.col("STP_ORI_CNTY_NAME")).alias("county"),
        *model.LINEAGE,
    )
    return model.conform(out.collect(), model.PERSON, extra=False)
