"""Court case-management extracts: layouts as configuration, reading with quarantine, and the
conversion to canonical persons and counts.

    layout = load_layout("sf_cms")                                  # config/layouts/sf_cms.yaml
    read = read_court(["felonies.csv"], layout, county="san_francisco", as_of=date(2024, 7, 1))
    persons = court_persons(read.rows, county="san_francisco")      # model.PERSON + extras
    counts = court_counts(read.rows, county="san_francisco")        # model.COUNT + extras

Every court's extract looks different (DOMAIN.md section 4), so a *layout* (a YAML file in
``config/layouts/``, see docs/layouts.md) says how to read one: its kind (``delimited``,
``fixed_width``, ``excel``, ``parquet``, ``sql``), encoding, delimiter and quoting, and where each
canonical court field is. Adding a court means adding a YAML file, not code.

Reading is split in two layers, both Polars expressions (no Python loop over rows):

1. *structure* (per kind): physical lines, header, field count, quoting, binary garbage, fixed
   positions, cells; a row that cannot be split into fields is quarantined here.
2. *interpretation* (shared by every kind): blanks trimmed, multi-column fields coalesced, dates
   parsed with the layout's format and the century rule (normalize/dates.py) into ISO text,
   case numbers normalized, dispositions classified with the layout's code table, required
   fields checked; a row missing a case number, a charge (when the comment names no statute
   either) or a surname, or with an invalid required date, is quarantined. The name stays as
   written, with its format: court_persons parses it (once per person, not per charge).

Values that repeat (dates in two-digit formats, dispositions, statutes, case numbers, names) are
normalized once per distinct value and joined back; the raw text of a line is re-read only for
the rows that end up in quarantine, so a clean extract never holds its text twice.

Per file, rows read = rows accepted + rows quarantined (ConservationError otherwise); empty
lines carry nothing and are counted separately (``blank_lines``), like the DOJ reader does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines import model
from pipelines.config import (
    ENV_NAME_RE,
    SLUG_RE,
    doj_county_name,
    read_yaml,
    resolve_config_file,
    sql_dir,
    validation_error,
)
from pipelines.errors import ConfigError, ConservationError, InputError
from pipelines.normalize import case_numbers, dates, dispositions, ids, levels, names
from pipelines.sources.lines import absent_separator, read_lines, split_lines

SOURCE = "court"

# Canonical court fields a layout can map (docs/layouts.md).
DATE_FIELDS = ("dob", "offense_date", "filed_date", "disposition_date")
NAME_PART_FIELDS = ("last_name", "first_name", "middle_name")
CANONICAL_FIELDS: tuple[str, ...] = (
    "case_number", "courthouse", "count_number", "person_key", "name", *NAME_PART_FIELDS,
    "dob", "gender", "race", "cii", "ssn", "dl_number", "fbi", "charge", "charge_level",
    "charge_description", "offense_date", "filed_date", "disposition_code", "disposition",
    "disposition_date", "sentence_length", "sentence_unit", "comment", "county",
)
# Quarantined by default when present but invalid; other dates become null (layout: `invalid:`).
DEFAULT_INVALID = {"disposition_date": "quarantine", "dob": "null", "offense_date": "null", "filed_date": "null"}

# What read_court's rows hold: the canonical fields as String (dates as YYYY-MM-DD; ``name`` as
# written, or the separate parts joined as LAST/FIRST MIDDLE, with its format), the disposition
# class, the fields found present but unreadable, then lineage.
ROW_SCHEMA: dict[str, pl.DataType] = {
    **{f: pl.String for f in CANONICAL_FIELDS},
    "name_format": pl.String,  # how to read ``name`` (names.NAME_FORMATS)
    "case_number_normalized": pl.String,  # normalize/case_numbers.py
    "case_number_base": pl.String,  # without the defendant suffix
    "defendant_suffix": pl.String,
    "disposition_class": pl.String,  # one of model.DISPOSITIONS (layout code table applied)
    "invalid_fields": pl.List(pl.String),  # fields whose value was present but unreadable (nulled)
    **model.LINEAGE,
}

STATS: dict[str, pl.DataType] = {
    "source_file": pl.String,
    "layout": pl.String,
    "rows_read": pl.Int64,  # data rows (not the header, skipped lines or empty lines)
    "rows_accepted": pl.Int64,
    "rows_quarantined": pl.Int64,
    "blank_lines": pl.Int64,
    "encoding": pl.String,  # as declared; "(lossy)" when undecodable bytes were replaced
}

# Quarantine reasons, machine-stable (docs/layouts.md explains each).
REASONS = (
    "binary", "bad_quoting", "field_count", "line_length", "end_marker", "missing_case_number",
    "missing_charge", "missing_name", "bad_date", "bad_count_number", "duplicate_count",
)

# ---------------------------------------------------------------------------------------------
# Layout models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """Where one canonical field is in the source, and how to read it.

    Exactly one locator: ``column`` (a name, or a list of names: the first non-blank wins),
    ``index`` (0-based position, or a list), ``start``/``end`` (fixed width, 1-based inclusive),
    or ``value`` (a constant, e.g. the courthouse of a single-courthouse extract).
    """

    column: str | list[str] | None = None
    index: int | list[int] | None = None
    start: int | None = None
    end: int | None = None
    value: str | None = None
    format: str | None = None  # dates: one of dates.DATE_FORMATS; name: one of names.NAME_FORMATS
    required: bool = False  # a blank value quarantines the row (missing_<field>)
    invalid: Literal["quarantine", "null"] | None = None  # dates: a present but unreadable value

    @model_validator(mode="after")
    def _one_locator(self) -> FieldSpec:
        given = [k for k in ("column", "index", "value") if getattr(self, k) is not None]
        if self.start is not None or self.end is not None:
            given.append("start/end")
            if self.start is None or self.end is None or not (1 <= self.start <= self.end):
                raise ValueError("fixed-width positions need 1 <= start <= end (1-based, inclusive)")
        if len(given) != 1:
            raise ValueError("give exactly one of column, index, start/end or value")
        idx = self.index if isinstance(self.index, list) else [self.index] if self.index is not None else []
        if any(i < 0 for i in idx):
            raise ValueError("index is 0-based and cannot be negative")
        if isinstance(self.column, list) and not self.column or isinstance(self.index, list) and not self.index:
            raise ValueError("an empty list locates nothing")
        return self

    @property
    def columns(self) -> list[str]:
        return [] if self.column is None else [self.column] if isinstance(self.column, str) else list(self.column)

    @property
    def indexes(self) -> list[int]:
        return [] if self.index is None else [self.index] if isinstance(self.index, int) else list(self.index)


class SqlSpec(_Strict):
    """A CMS database: the query file (in sql/) and where the connection URL comes from."""

    query: str  # file name under the sql directory, e.g. "generic_cms_charges.sql"
    url_env: Annotated[str, Field(pattern=ENV_NAME_RE.pattern)] | None = "AUTOCLEAR_CMS_URL"
    airflow_conn_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")] | None = None
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    batch_size: int = Field(default=100_000, ge=1)

    @field_validator("query")
    @classmethod
    def _inside_sql_dir(cls, value: str) -> str:
        base = sql_dir().resolve()
        path = (base / value).resolve()
        if not path.is_relative_to(base) or Path(value).is_absolute():
            raise ValueError(f"query file {value!r} must be inside {base} (no absolute paths or '..')")
        if path.suffix != ".sql":
            raise ValueError(f"query file {value!r} must end in .sql")
        if not path.is_file():
            raise ValueError(f"query file {value!r} not found in {base}")
        return value

    @property
    def query_path(self) -> Path:
        return sql_dir() / self.query


class EndMarker(_Strict):
    """A marker every complete record ends with (SF's ``EOR``): a row without it is truncated."""

    index: int | None = None  # delimited: 0-based field index (default: the last field)
    value: str


Kind = Literal["delimited", "fixed_width", "excel", "parquet", "sql"]


class Layout(_Strict):
    """A court extract layout (config/layouts/<name>.yaml); see docs/layouts.md."""

    name: Annotated[str, Field(pattern=SLUG_RE.pattern)]
    description: str = ""
    kind: Kind
    encoding: Literal["utf-8", "latin-1", "cp1252"] = "utf-8"
    delimiter: str = ","
    quote_char: str | None = '"'
    header: bool = True
    skip_rows: int = Field(default=0, ge=0)
    field_count: int | None = Field(default=None, ge=1)
    record_length: int | None = Field(default=None, ge=1)
    end_marker: EndMarker | None = None
    sheet: str | None = None
    sql: SqlSpec | None = None
    fields: dict[str, FieldSpec]
    disposition_codes: dict[str, Literal[model.DISPOSITIONS]] = Field(default_factory=dict)  # type: ignore[valid-type]
    source_path: str | None = Field(default=None, exclude=True)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("the delimiter is one character (not a line break)")
        return value

    @field_validator("quote_char")
    @classmethod
    def _quote_one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("the quote character is one character, or null for no quoting")
        return value

    @field_validator("disposition_codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # YAML reads 190: convicted with an integer key.
        return {str(k).strip().upper(): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _consistent(self) -> Layout:
        unknown = sorted(set(self.fields) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"fields {unknown} are not canonical court fields ({', '.join(CANONICAL_FIELDS)})")
        missing = [f for f in ("case_number", "charge") if f not in self.fields]
        if "name" not in self.fields and "last_name" not in self.fields:
            missing.append("name (or last_name)")
        if missing:
            raise ValueError(f"fields must map {', '.join(missing)}")
        if "name" in self.fields and "last_name" in self.fields:
            raise ValueError("map either name or last_name/first_name/middle_name, not both")
        if self.delimiter == self.quote_char:
            raise ValueError("delimiter and quote_char must differ")
        for fname, spec in self.fields.items():
            self._check_locator(fname, spec)
            if fname in DATE_FIELDS and spec.format is not None and spec.format not in dates.DATE_FORMATS:
                raise ValueError(f"fields.{fname}.format {spec.format!r} is not one of {', '.join(dates.DATE_FORMATS)}")
            if fname == "name" and spec.format is not None and spec.format not in names.NAME_FORMATS:
                raise ValueError(f"fields.name.format {spec.format!r} is not one of {', '.join(names.NAME_FORMATS)}")
            if spec.format is not None and fname not in (*DATE_FIELDS, "name"):
                raise ValueError(f"fields.{fname}: format applies only to dates and name")
            if spec.invalid is not None and fname not in DATE_FIELDS:
                raise ValueError(f"fields.{fname}: invalid applies only to dates")
        if self.kind == "sql" and self.sql is None:
            raise ValueError("a sql layout needs sql: {query: <file in sql/>, url_env: ...}")
        if self.kind != "sql" and self.sql is not None:
            raise ValueError("sql: applies only to kind sql")
        if self.kind == "sql" and self.sql is not None and not (self.sql.url_env or self.sql.airflow_conn_id):
            raise ValueError("sql needs url_env or airflow_conn_id")
        if self.end_marker is not None and self.kind != "delimited":
            raise ValueError("end_marker applies only to delimited layouts")
        if self.record_length is not None and self.kind != "fixed_width":
            raise ValueError("record_length applies only to fixed_width layouts")
        if self.kind == "delimited" and not self.header and self.field_count is None:
            pass  # fields are located by index; rows need at least max(index) + 1 fields
        return self

    def _check_locator(self, fname: str, spec: FieldSpec) -> None:
        if spec.value is not None:
            return
        by_position = spec.start is not None
        if self.kind == "fixed_width":
            if not by_position:
                raise ValueError(f"fields.{fname}: fixed_width fields need start and end positions")
            if self.record_length is not None and spec.end > self.record_length:
                raise ValueError(f"fields.{fname}: end {spec.end} is past record_length {self.record_length}")
            return
        if by_position:
            raise ValueError(f"fields.{fname}: start/end positions apply only to fixed_width layouts")
        if spec.index is not None and self.kind in ("parquet", "sql"):
            raise ValueError(f"fields.{fname}: {self.kind} fields are located by column name")
        if spec.column is not None and not self.header and self.kind in ("delimited", "excel"):
            raise ValueError(f"fields.{fname}: without a header row, locate fields by index")
        if self.field_count is not None:
            too_far = [i for i in spec.indexes if i >= self.field_count]
            if too_far:
                raise ValueError(f"fields.{fname}: index {too_far[0]} is past field_count {self.field_count}")

    # Convenience
    def date_format(self, fname: str) -> str:
        spec = self.fields.get(fname)
        return (spec.format if spec and spec.format else "YYYY-MM-DD")

    def name_format(self) -> str:
        spec = self.fields.get("name")
        return spec.format if spec and spec.format else "LAST, FIRST MIDDLE"

    def invalid_policy(self, fname: str) -> str:
        spec = self.fields.get(fname)
        return (spec.invalid if spec and spec.invalid else DEFAULT_INVALID.get(fname, "null"))


def load_layout(name_or_path: str | os.PathLike) -> Layout:
    """Load a layout by name (``config/layouts/<name>.yaml``) or from an explicit .yaml path.

    Mistakes raise ConfigError naming the file, the key and the reason.
    """
    path = resolve_config_file("layouts", name_or_path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a layout is a mapping of keys to values")
    try:
        layout = Layout.model_validate({**data, "source_path": str(path)})
    except ValidationError as exc:
        raise validation_error(path, exc) from None
    return layout


def list_layouts() -> list[str]:
    """Names of the layouts shipped in config/layouts."""
    from pipelines.config import config_dir  # noqa: PLC0415

    base = config_dir() / "layouts"
    return sorted(p.stem for p in base.glob("*.yaml") if not p.stem.startswith("_")) if base.is_dir() else []


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class CourtRead:
    """What read_court returns.

    - ``rows``: ``ROW_SCHEMA``: canonical court fields as String (dates ``YYYY-MM-DD``), the
      name as written plus its parts, the disposition class, ``invalid_fields``, lineage.
    - ``quarantine``: ``model.QUARANTINE``, one row per unreadable row (raw text confidential).
    - ``stats``: ``STATS``, one row per file.
    """

    rows: pl.DataFrame
    quarantine: pl.DataFrame
    stats: pl.DataFrame

    def reasons(self) -> pl.DataFrame:
        """Quarantined rows per file and reason (no personal data)."""
        return (
            self.quarantine.group_by("source_file", "reason").agg(pl.len().alias("rows"))
            .sort("source_file", "reason")
        )


# ---------------------------------------------------------------------------------------------
# Structure layer: per file, the well-formed rows split into source columns, and the others

_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]|\x{FFFD}{3,}"


@dataclass
class _Structured:
    """One file split into fields: what the interpretation layer works on."""

    frame: pl.DataFrame  # well-formed rows: source_line + source columns (String)
    bad: pl.DataFrame  # rows that could not be split: source_line, _reason, _detail, raw
    columns: dict[str, str]  # locator key ("c:<name>" / "i:<index>" / "p:<start>:<end>") -> frame column
    blank_lines: int
    encoding: str
    fetch_raw: Callable[[pl.Series], pl.DataFrame]  # source lines -> (source_line, raw), for quarantine
    trimmed: bool = False  # no value starts or ends with a blank, none is empty: nothing to trim


def _decoded_source(path: Path, layout: Layout) -> tuple[Path | io.BytesIO, str, bool]:
    """The file as UTF-8 for Polars: (source, encoding label, lossy)."""
    if layout.encoding == "utf-8":
        return path, "utf-8", False
    text = path.read_bytes().decode(layout.encoding, errors="replace")
    lossy = "\ufffd" in text
    return io.BytesIO(text.encode("utf-8")), layout.encoding, lossy


def _source_bytes(source: Path | io.BytesIO) -> bytes:
    return source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()


def _read_lines(source: Path | io.BytesIO, data: bytes | None = None) -> tuple[pl.DataFrame, bool]:
    """Physical lines as one String column ``raw`` (``\\r`` stripped); (frame, lossy utf-8).
    ``data``: the source's bytes, when the caller has read them already."""
    if data is None:
        data = _source_bytes(source)
    if not data:
        return pl.DataFrame(schema={"raw": pl.String}), False
    sep = absent_separator(data)
    if sep is None:  # every candidate byte occurs: not really text; split in Python once
        return split_lines(data, "raw")

    frame, lossy = read_lines(data, sep, "raw", empty_is_null=False)
    raw = pl.col("raw")
    if frame["raw"].null_count():
        raw = raw.fill_null("")
    # Most files have no carriage return at all: then the lines are kept as read (no copy).
    return (frame.with_columns(raw.str.strip_suffix("\r")) if b"\r" in data
            else frame.with_columns(raw) if frame["raw"].null_count() else frame), lossy


def _numbered(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.with_row_index("source_line", offset=1).with_columns(pl.col("source_line").cast(pl.Int64))


def _line_fetcher(source: Path | io.BytesIO) -> Callable[[pl.Series], pl.DataFrame]:
    """Re-read the physical lines wanted for quarantine (raw text is not kept for good rows)."""

    def fetch(wanted: pl.Series) -> pl.DataFrame:
        if wanted.len() == 0:
            return pl.DataFrame(schema={"source_line": pl.Int64, "raw": pl.String})
        data = source.getvalue() if isinstance(source, io.BytesIO) else None
        sep = absent_separator(data if data is not None else Path(source).read_bytes())
        if sep is None:
            lines, _ = _read_lines(source)
            return _numbered(lines).filter(pl.col("source_line").is_in(wanted.implode())).select("source_line", "raw")
        # Streamed, so only the wanted lines are ever held in memory.
        return (
            pl.scan_csv(
                io.BytesIO(data) if data is not None else source, has_header=False, separator=sep, quote_char=None,
                infer_schema=False, encoding="utf8-lossy", new_columns=["raw"], raise_if_empty=False,
                row_index_name="source_line", row_index_offset=1,
            )
            .filter(pl.col("source_line").is_in(wanted.cast(pl.UInt32).implode()))
            .select(pl.col("source_line").cast(pl.Int64), pl.col("raw").fill_null("").str.strip_suffix("\r"))
            .collect(engine="streaming")
        )

    return fetch


# Control characters: a line holding one is binary garbage, never a good line.
_CTRL_CLASS = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F"


def _field_regex(delim: str, quote: str | None) -> str:
    d = _escape(delim)
    if quote is None:
        return f"[^{d}{_CTRL_CLASS}]*"
    q = _escape(quote)
    return f"(?:[^{d}{q}{_CTRL_CLASS}]*|{q}(?:[^{q}{_CTRL_CLASS}]|{q}{q})*{q})"


def _trimmed_field_regex(delim: str, quote: str | None) -> str:
    """A field of ``_field_regex`` whose value needs no trimming: it neither starts nor ends with
    a blank and is not an empty quoted string (an empty unquoted field is read as null)."""
    d = _escape(delim)
    inner = f"[^{d}{_CTRL_CLASS}{_escape(quote) if quote else ''}]"  # a character of an unquoted field
    edge = f"[^ {inner[2:]}"  # the same, not a blank
    plain = f"(?:{edge}(?:{inner}*{edge})?)?"
    if quote is None:
        return plain
    q = _escape(quote)
    edge = f"(?:[^ {q}{_CTRL_CLASS}]|{q}{q})"
    return f"(?:{plain}|{q}{edge}(?:(?:[^{q}{_CTRL_CLASS}]|{q}{q})*{edge})?{q})"


def _escape(ch: str) -> str:
    return "\\" + ch if not ch.isalnum() else ch


def _split_header(line: str, layout: Layout, file: str | None = None) -> list[str]:
    import csv  # noqa: PLC0415 (one line, once per file)

    reader = csv.reader(
        [line], delimiter=layout.delimiter, quotechar=layout.quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if layout.quote_char else csv.QUOTE_NONE,
    )
    try:
        return next(reader, [])
    except csv.Error as exc:  # a carriage return inside the line: old Mac line ends
        raise InputError(f"the header row cannot be split into fields ({exc}); lines ending in a bare carriage "
                         "return (old Mac format)? Save the file with Windows or Unix line ends",
                         file=file, line=layout.skip_rows + 1, kind="LAYOUT") from None


def _norm_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).upper()  # a byte-order mark is not part of it


def _locate_columns(header: list[str], layout: Layout, file: str) -> dict[str, int]:
    """Header name -> index for every column the layout names; InputError when one is absent."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        positions.setdefault(_norm_header(name), i)
    wanted: dict[str, int] = {}
    missing = []
    for spec in layout.fields.values():
        for col in spec.columns:
            key = _norm_header(col)
            if key in positions:
                wanted[col] = positions[key]
            else:
                missing.append(col)
    if missing:
        raise InputError(
            f"the header has no column(s) {', '.join(repr(m) for m in sorted(set(missing)))} "
            f"named by layout {layout.name!r}", file=file, line=layout.skip_rows + 1, kind="LAYOUT",
        )
    return wanted


_BINARY_DETAIL = "control characters or undecodable bytes (binary data)"

# A text extract is read whole, so garbage is refused from its head first (bounded memory):
# no line end in the first MB, a header without the layout's columns, or, in a large file, a
# head of binary lines.
_HEAD_BYTES = 1 << 20
_LARGE_FILE_BYTES = 64 << 20
_BINARY_LINE = rb"(?m)^[^\n]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\n]*$"


def _check_head(path: Path, layout: Layout) -> None:
    """Refuse a text extract that is garbage from its first MB, before reading it whole."""
    import re  # noqa: PLC0415

    size = path.stat().st_size
    if size <= _HEAD_BYTES:
        return  # small: reading it whole costs nothing, and gives the same errors
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    stop = "reading stopped"
    if b"\n" not in head:
        raise InputError(f"no line end in the first {_HEAD_BYTES >> 20} MB: binary data, not a text extract; {stop}",
                         file=path.name, kind="OTHER")
    complete = head.decode(layout.encoding, errors="replace").split("\n")[:-1]  # the last one may be cut
    if layout.header and len(complete) > layout.skip_rows:
        header = _split_header(complete[layout.skip_rows].removesuffix("\r"), layout, path.name)
        _locate_columns(header, layout, path.name)
    n_lines = len(re.findall(rb"(?m)^(?![ \t\r]*$)[^\n]*\n", head))  # complete, non-blank lines
    if size > _LARGE_FILE_BYTES and n_lines:
        binary = len(re.findall(_BINARY_LINE, head))
        if binary * 10 >= n_lines * 9:
            raise InputError(f"{binary:,} of the first {n_lines:,} lines hold control characters: binary data, "
                             f"not a text extract; {stop}", file=path.name, kind="OTHER")


def _line_mask(lines: pl.DataFrame, cond: pl.Expr) -> pl.Series:
    """``cond`` over every line, on all cores: one pattern over one column runs on one thread in
    the in-memory engine, the streaming engine splits the lines between threads."""
    return lines.lazy().select(cond.alias("mask")).collect(engine="streaming").to_series().rechunk()


def _structure_delimited(path: Path, layout: Layout) -> _Structured:
    name = path.name
    _check_head(path, layout)
    source, _, lossy_decode = _decoded_source(path, layout)
    data = _source_bytes(source)
    lines, lossy_utf8 = _read_lines(source, data)
    lossy = lossy_utf8 or lossy_decode
    lines = _numbered(lines)
    header_lines = layout.skip_rows + (1 if layout.header else 0)
    header_names: list[str] | None = None
    if layout.header:
        if lines.height <= layout.skip_rows:
            raise InputError("the file has no header row", file=name, line=layout.skip_rows + 1, kind="LAYOUT")
        header_names = _split_header(lines["raw"][layout.skip_rows], layout, name)
    lines = lines.slice(header_lines)

    # Which source positions are needed: index of each named column, or given indexes.
    by_name = _locate_columns(header_names, layout, name) if header_names is not None else {}
    needed: dict[str, int] = {f"c:{col}": i for col, i in by_name.items()}
    for spec in layout.fields.values():
        for i in spec.indexes:
            needed[f"i:{i}"] = i
    if layout.end_marker is not None:
        marker_index = layout.end_marker.index
        if marker_index is None:
            if layout.field_count is None and header_names is None:
                raise ConfigError(f"layout {layout.name!r}: end_marker without index needs field_count or a header")
            marker_index = (layout.field_count or len(header_names or [])) - 1
        needed["marker"] = marker_index
    expected = layout.field_count or (len(header_names) if header_names is not None else None)
    minimum = max(needed.values(), default=0) + 1
    if expected is not None and minimum > expected:
        raise InputError(f"layout {layout.name!r} needs {minimum} fields but rows have {expected}",
                         file=name, kind="LAYOUT")

    field = _field_regex(layout.delimiter, layout.quote_char)
    d = _escape(layout.delimiter)
    count_re = f"{{{expected - 1}}}" if expected is not None else f"{{{minimum - 1},}}"
    raw = pl.col("raw")
    # Control characters anywhere in the file? (one pass over the bytes; most files have none)
    # The good-line pattern excludes control characters; replaced undecodable bytes are checked
    # only when the decoding was lossy.
    good_re = f"^{field}(?:{d}{field}){count_re}$"
    decodable = ~raw.str.contains(_CONTROL) if lossy else pl.lit(True)
    # Most extracts pad no value: then one pass of a stricter pattern (well formed, and no value
    # to trim) proves both, and the interpretation layer skips trimming. Tried when the first
    # lines fit it; the lines that do not are then checked with the plain pattern.
    trim_field = _trimmed_field_regex(layout.delimiter, layout.quote_char)
    trimmed_re = f"^{trim_field}(?:{d}{trim_field}){count_re}$"
    head = lines.head(1000)
    if head.height and head.select(raw.str.contains(trimmed_re).all()).item():
        good_mask = _line_mask(lines, raw.str.contains(trimmed_re) & decodable)
        other = (~good_mask).arg_true()
        trimmed = True
        if other.len():
            again = lines.select(pl.col("raw").gather(other)).select(raw.str.contains(good_re) & decodable).to_series()
            good_mask = good_mask.scatter(other, again)
            trimmed = not again.any()
    else:
        good_mask = _line_mask(lines, raw.str.contains(good_re) & decodable)
        trimmed = False
    # Blank lines: a good line holds a delimiter, so it is blank only when the delimiter is
    # whitespace or no delimiter is required; otherwise only the other lines are looked at.
    blank_expr = (raw.str.strip_chars() == "").alias("blank")
    if layout.delimiter.isspace() or (expected if expected is not None else minimum) <= 1:
        blank = lines.select(blank_expr).to_series()
    else:
        other = (~good_mask).arg_true()
        blank = pl.repeat(False, lines.height, eager=True).alias("blank")
        if other.len():
            blank = blank.scatter(other, lines.select(pl.col("raw").gather(other)).select(blank_expr).to_series())
    blank_lines = int(blank.sum())
    bad = lines.filter(~good_mask & ~blank)
    good_lines = lines.filter(good_mask)["source_line"]
    n_good = good_lines.len()

    # Reasons for the lines that are not good.
    if bad.height:
        if layout.quote_char is not None:
            q = _escape(layout.quote_char)
            unquoted = raw.str.replace_all(f"{q}[^{q}]*{q}", "")
            open_quote = unquoted.str.contains(layout.quote_char, literal=True)
        else:
            unquoted, open_quote = raw, pl.lit(False)
        n_fields = unquoted.str.count_matches(layout.delimiter, literal=True) + 1
        want = f"expected {expected}" if expected is not None else f"at least {minimum}"
        reason = (
            pl.when(raw.str.contains(_CONTROL)).then(pl.lit("binary"))
            .when(open_quote).then(pl.lit("bad_quoting"))
            .when((n_fields != expected) if expected is not None else (n_fields < minimum)).then(pl.lit("field_count"))
            .otherwise(pl.lit("bad_quoting"))
        )
        bad = _lazy(bad).with_columns(reason.alias("_reason"), n_fields.alias("_n")).with_columns(
            pl.when(pl.col("_reason") == "binary").then(pl.lit(_BINARY_DETAIL))
            .when(pl.col("_reason") == "field_count").then(pl.format("{} fields, " + want, "_n"))
            .otherwise(pl.lit("unterminated quote, or a quote inside an unquoted field")).alias("_detail")
        ).select("source_line", "_reason", "_detail", "raw").collect(engine="in-memory")
    else:
        bad = _no_bad()

    positions = sorted(set(needed.values()))
    width = expected if expected is not None else minimum
    parse_opts = dict(
        has_header=False, schema={f"f{i}": pl.String for i in range(width)}, columns=positions,
        empty_string_is_null=True, separator=layout.delimiter, quote_char=layout.quote_char,
        raise_if_empty=False, truncate_ragged_lines=expected is None,
        # Without a field count, rows may be longer than the fields used (the first one too).
        **({"extra_columns": "ignore"} if expected is None else {}),
    )
    if n_good == 0:
        parsed = pl.DataFrame(schema={f"f{i}": pl.String for i in positions})
    elif n_good == lines.height:
        # Every data line is good: parse the source itself (fast path).
        # The bytes are valid UTF-8 unless the line read said otherwise (then decoded lossily).
        del lines
        parsed = pl.read_csv(data, skip_lines=header_lines, encoding="utf8-lossy" if lossy_utf8 else "utf8",
                             **parse_opts)
    else:
        buffer = io.BytesIO()
        lines.filter(good_mask).select("raw").write_csv(
            buffer, include_header=False, quote_style="never", separator="\x1f"
        )
        del lines, data
        buffer.seek(0)
        parsed = pl.read_csv(buffer, encoding="utf8", **parse_opts)
    if parsed.height != n_good:
        raise ConservationError(f"{name}: {n_good} well-formed lines but {parsed.height} rows parsed")
    frame = parsed.select([f"f{i}" for i in positions]).with_columns(good_lines.alias("source_line"))
    label = layout.encoding + (" (lossy)" if lossy else "")
    return _Structured(frame, bad, {key: f"f{i}" for key, i in needed.items()}, blank_lines, label,
                       _line_fetcher(source), trimmed=trimmed)


def _no_bad() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_line": pl.Int64, "_reason": pl.String, "_detail": pl.String, "raw": pl.String})


def _structure_fixed_width(path: Path, layout: Layout) -> _Structured:
    _check_head(path, layout)
    source, _, lossy_decode = _decoded_source(path, layout)
    lines, lossy = _read_lines(source)
    lines = _numbered(lines).slice(layout.skip_rows + (1 if layout.header else 0))
    raw = pl.col("raw")
    blank = lines.select(raw.str.strip_chars() == "").to_series()
    blank_lines = int(blank.sum())
    lines = lines.filter(~blank)
    specs = [s for s in layout.fields.values() if s.start is not None]
    # Exports often trim trailing blanks, so a short line is fine as long as it reaches the case
    # number and the name; a line longer than the record is shifted or joined.
    anchors = [layout.fields[f] for f in ("case_number", "name", "last_name") if f in layout.fields]
    last_start = max((s.start for s in anchors if s.start is not None), default=1)
    length = raw.str.len_chars()
    too_long = (length > layout.record_length) if layout.record_length is not None else pl.lit(False)
    reason = pl.when(raw.str.contains(_CONTROL)).then(pl.lit("binary")).when(too_long | (length < last_start)) \
        .then(pl.lit("line_length"))
    lines = lines.with_columns(reason.alias("_reason"))
    limit = f"{last_start}-{layout.record_length}" if layout.record_length else f"at least {last_start}"
    bad = lines.filter(pl.col("_reason").is_not_null()).select(
        "source_line", "_reason",
        pl.when(pl.col("_reason") == "binary").then(pl.lit(_BINARY_DETAIL))
        .otherwise(pl.format("{} characters, expected " + limit, length)).alias("_detail"),
        "raw",
    )
    columns: dict[str, str] = {}
    exprs = []
    for spec in specs:
        key = f"p:{spec.start}:{spec.end}"
        if key not in columns:
            columns[key] = f"p{len(columns)}"
            exprs.append(raw.str.slice(spec.start - 1, spec.end - spec.start + 1).alias(columns[key]))
    frame = lines.filter(pl.col("_reason").is_null()).select("source_line", *exprs)
    label = layout.encoding + (" (lossy)" if (lossy or lossy_decode) else "")
    return _Structured(frame, bad, columns, blank_lines, label, _line_fetcher(source))


def _table_columns(frame: pl.DataFrame, layout: Layout, file: str, first_line: int) -> dict[str, str]:
    """Map layout column names to frame columns (case- and blank-insensitive)."""
    positions: dict[str, str] = {}
    for col in frame.columns:
        positions.setdefault(_norm_header(col), col)
    columns, missing = {}, []
    for spec in layout.fields.values():
        for col in spec.columns:
            found = positions.get(_norm_header(col))
            if found is None:
                missing.append(col)
            else:
                columns[f"c:{col}"] = found
        for i in spec.indexes:
            if i >= frame.width:
                missing.append(f"#{i}")
            else:
                columns[f"i:{i}"] = frame.columns[i]
    if missing:
        raise InputError(
            f"no column(s) {', '.join(repr(m) for m in sorted(set(missing)))} named by layout {layout.name!r}",
            file=file, line=first_line, kind="LAYOUT",
        )
    return columns


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as String: dates and datetimes as ISO, numbers as written by Polars."""
    exprs = []
    for col, dtype in frame.schema.items():
        c = pl.col(col)
        if dtype == pl.Date:
            exprs.append(c.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(c.dt.strftime("%Y-%m-%d %H:%M:%S"))
        elif dtype == pl.String:
            exprs.append(c)
        elif dtype.is_float():
            # 12.0 -> "12": whole numbers in float columns are usually codes or counts.
            exprs.append(pl.when(c == c.floor()).then(c.cast(pl.Int64, strict=False).cast(pl.String))
                         .otherwise(c.cast(pl.String)).alias(col))
        else:
            exprs.append(c.cast(pl.String))
    return frame.select(exprs)


def _table_structured(table: pl.DataFrame, layout: Layout, file: str, first_line: int, encoding: str) -> _Structured:
    table = _as_text(table).with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias("source_line"))
    data_cols = [c for c in table.columns if c != "source_line"]
    columns = _table_columns(table.select(data_cols), layout, file, first_line)
    blank = table.select(
        pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols])
        if data_cols else pl.lit(True)
    ).to_series()
    blank_lines = int(blank.sum())
    table = table.filter(~blank)
    renamed = {src: f"t{i}" for i, src in enumerate(dict.fromkeys(columns.values()))}
    frame = table.select("source_line", *[pl.col(src).alias(dst) for src, dst in renamed.items()])

    def fetch(wanted: pl.Series) -> pl.DataFrame:
        rows = table.filter(pl.col("source_line").is_in(wanted.implode()))
        raw = pl.struct(data_cols).struct.json_encode() if data_cols else pl.lit("{}")
        return rows.select("source_line", raw.alias("raw"))

    return _Structured(frame, _no_bad(), {k: renamed[v] for k, v in columns.items()}, blank_lines, encoding, fetch)


def _structure_excel(path: Path, layout: Layout) -> _Structured:
    import zipfile  # noqa: PLC0415

    import fastexcel  # noqa: PLC0415 (heavy; only for Excel layouts)

    # An .xlsx is a zip archive; checking its end first keeps calamine from scanning a large
    # non-zip file from end to end for the archive's directory.
    if not zipfile.is_zipfile(path):
        raise InputError("not an Excel workbook (an .xlsx file is a zip archive; this one is not)",
                         file=path.name, kind="OTHER")
    try:
        reader = fastexcel.read_excel(str(path))
        sheet_names = reader.sheet_names
        sheet = layout.sheet if layout.sheet is not None else 0
        if isinstance(sheet, str) and sheet not in sheet_names:
            raise InputError(f"no sheet {sheet!r} (sheets: {', '.join(sheet_names)})", file=path.name, kind="LAYOUT")
        cells = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string").to_polars()
    except InputError:
        raise
    except _READER_FAILURES as exc:  # calamine raises its own types for damaged files
        raise InputError(f"cannot read the workbook ({type(exc).__name__}: {exc})", file=path.name, kind="OTHER") from exc
    cells = cells.slice(layout.skip_rows)
    first_line = layout.skip_rows + 1
    if layout.header:
        if cells.height == 0:
            raise InputError("the sheet has no header row", file=path.name, line=first_line, kind="LAYOUT")
        header = [("" if v is None else str(v)) for v in cells.row(0)]
        seen: dict[str, int] = {}
        names_ = []
        for h in header:
            key = h.strip() or "_blank"
            seen[key] = seen.get(key, 0) + 1
            names_.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
        cells = cells.slice(1)
        cells.columns = names_
        first_line += 1
    return _table_structured(cells, layout, path.name, first_line, "xlsx")


# A damaged file can make the Rust readers panic: their PanicException is not an Exception.
_READER_FAILURES = (Exception, pl.exceptions.PanicException)


def _structure_parquet(path: Path, layout: Layout) -> _Structured:
    # pyarrow decodes the file: on damaged page headers it raises, where Polars' reader can abort
    # the whole process (a huge allocation from a corrupt header; a fuzz finding).
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        schema = pq.read_schema(path)
    except _READER_FAILURES as exc:  # a damaged file raises various errors
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=path.name, kind="OTHER") from exc
    wanted = {_norm_header(c) for spec in layout.fields.values() for c in spec.columns}
    keep = [c for c in schema.names if _norm_header(c) in wanted]
    try:
        table = pl.from_arrow(pq.read_table(path, columns=keep))
    except _READER_FAILURES as exc:
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=path.name, kind="OTHER") from exc
    return _table_structured(table, layout, path.name, 1, "parquet")


# ---------------------------------------------------------------------------------------------
# Interpretation layer (every kind)


def _blank_null(e: pl.Expr) -> pl.Expr:
    # Blanks, tabs and line ends around a value; empty fields are null already (the CSV parser).
    return e.str.strip_chars().replace("", None)


def _trimmed(frame: pl.DataFrame) -> pl.DataFrame:
    """Every String column trimmed, blank -> null; only the columns with a value that starts or
    ends with a blank are touched (most extracts pad few columns; trimming millions costs)."""
    cols = [c for c, t in frame.schema.items() if t == pl.String]
    if not cols:
        return frame
    flags = frame.select(
        *[(pl.col(c).str.starts_with(" ") | pl.col(c).str.ends_with(" ") | (pl.col(c).str.len_bytes() == 0))
          .any().alias(c) for c in cols]
    ).row(0, named=True)
    dirty = [c for c in cols if flags[c]]
    return frame.with_columns(*[_blank_null(pl.col(c)) for c in dirty]) if dirty else frame


def _field_expr(fname: str, spec: FieldSpec, columns: dict[str, str]) -> pl.Expr:
    if spec.value is not None:
        return pl.lit(spec.value, dtype=pl.String)
    keys = [f"c:{c}" for c in spec.columns] + [f"i:{i}" for i in spec.indexes]
    if spec.start is not None:
        keys = [f"p:{spec.start}:{spec.end}"]
    exprs = [pl.col(columns[k]) for k in keys]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def _lazy(frame: pl.DataFrame) -> pl.LazyFrame:
    """Lazy, so that Polars evaluates a sub-expression used several times only once (CSE).

    Collected with the in-memory engine: the streaming engine returns many chunks, and the next
    eager operation on the wide frame would then copy every column to realign them."""
    return frame.lazy()


def _by_distinct(frame: pl.DataFrame, keys: list[str], *exprs: pl.Expr) -> pl.DataFrame:
    """``frame`` with ``exprs`` (over the key columns) computed once per distinct key and attached
    in row order: values such as dates, case numbers and dispositions repeat a lot. Only the key
    columns go through the join, so the wide frame is never copied."""
    distinct = _lazy(frame.select(keys).unique()).with_columns(*exprs).collect(engine="in-memory")
    return _attach(frame, keys, distinct)


def _attach(frame: pl.DataFrame, keys: list[str], distinct: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the other columns of ``distinct`` (one row per distinct key) joined on."""
    added = [c for c in distinct.columns if c not in keys]
    mapped = frame.select(keys).join(distinct, on=keys, how="left", nulls_equal=True, maintain_order="left")
    # One chunk, like the frame: otherwise the next operation realigns (copies) every column.
    return pl.concat([frame.drop([c for c in added if c in frame.columns]), mapped.select(added).rechunk()],
                     how="horizontal")


def _missing_flags(df: pl.DataFrame, raw: str, parsed: str) -> pl.Series:
    """True where the raw date is blank or a placeholder; the placeholder test runs only on the
    rows that did not parse (a handful)."""
    missing = df[raw].is_null()
    unparsed = df[parsed].is_null() & ~missing
    if unparsed.any():
        idx = unparsed.arg_true()
        placeholder = df[raw].gather(idx).to_frame().select(dates.is_missing(pl.col(raw))).to_series()
        missing = missing.scatter(idx, placeholder)
    return missing


def _surname_present(name: pl.Expr) -> pl.Expr:
    """A letter before the first / or , (or anywhere when there is none): cheap, no parsing."""
    sep = pl.coalesce(name.str.find("/", literal=True), name.str.find(",", literal=True))
    surname = pl.when(sep.is_null()).then(name).otherwise(name.str.slice(0, sep))
    return surname.str.strip_chars(" -.'").fill_null("") != ""


def _interpret(structured: _Structured, layout: Layout, *, file: str, as_of_year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted rows in ROW_SCHEMA, quarantine in model.QUARANTINE) for one file."""
    mapped = {fname: _field_expr(fname, spec, structured.columns) for fname, spec in layout.fields.items()}
    if any(t != pl.String for c, t in structured.frame.schema.items() if c != "source_line"):
        structured.frame = structured.frame.with_columns(pl.exclude("source_line").cast(pl.String))
    if not structured.trimmed:
        structured.frame = _trimmed(structured.frame)
    df = _lazy(structured.frame).select(
        "source_line",
        *[expr.alias(f"v_{fname}") for fname, expr in mapped.items()],
        *([pl.col(structured.columns["marker"]).str.strip_chars().alias("_marker")]
          if "marker" in structured.columns else []),
    ).collect(engine="in-memory")
    structured.frame = structured.frame.clear()  # the source columns are not needed any more
    v = {fname: pl.col(f"v_{fname}") for fname in mapped}
    null = pl.lit(None, dtype=pl.String)
    table_kind = layout.kind in ("excel", "parquet", "sql")

    # Dates: candidates once per distinct text, then the century rule per row (events first:
    # their year is the pivot for the date of birth).
    date_fields = [f for f in DATE_FIELDS if f in v]
    fast = [f for f in date_fields if not table_kind and layout.date_format(f) not in dates.TWO_DIGIT_YEAR_FORMATS]
    for f in fast:
        # Four-digit years need no century rule: the date, whether it is missing and its ISO text
        # depend on the text alone, so they are computed once per distinct value.
        distinct = df.select(f"v_{f}").unique().with_columns(dates.parse_four_digit_year(
            v[f], layout.date_format(f), latest_year=as_of_year if f == "dob" else as_of_year + 1).alias(f"_d_{f}"))
        distinct = distinct.with_columns(_missing_flags(distinct, f"v_{f}", f"_d_{f}").alias(f"_m_{f}"),
                                         dates.to_iso(pl.col(f"_d_{f}")).alias(f"_iso_{f}"))
        df = _attach(df, [f"v_{f}"], distinct)
    for f in date_fields:
        if f in fast:
            continue
        fmt = layout.date_format(f)
        cand = dates.date_candidates(v[f], fmt)
        if table_kind and fmt != "YYYY-MM-DD":
            # Real date cells arrive as ISO text whatever the layout says.
            iso = dates.date_candidates(v[f], "YYYY-MM-DD")
            cand = pl.when(cand.struct.field("year").is_not_null()).then(cand).otherwise(iso)
        df = _by_distinct(df, [f"v_{f}"], cand.alias(f"_c_{f}"), dates.is_missing(v[f]).alias(f"_m_{f}"))
    events = [f for f in ("disposition_date", "filed_date", "offense_date") if f in v]
    df = df.with_columns(*[dates.choose_century(pl.col(f"_c_{f}"), pivot_year=as_of_year).alias(f"_d_{f}")
                           for f in events if f not in fast])
    if "dob" in v and "dob" not in fast:
        anchor = pl.coalesce([pl.col(f"_d_{f}") for f in events]) if events else pl.lit(None, dtype=pl.Date)
        df = df.with_columns(dates.choose_century(
            pl.col("_c_dob"), pivot_year=dates.dob_pivot(anchor, as_of_year), latest_year=as_of_year
        ).alias("_d_dob"))
    invalid_date = {f: ~pl.col(f"_m_{f}") & pl.col(f"_d_{f}").is_null() for f in date_fields}

    # The name as written (separate parts joined as LAST/FIRST MIDDLE); parsed by court_persons.
    if "name" in v:
        name, name_format = v["name"], layout.name_format()
    else:
        name, name_format = names.join_parts(v["last_name"], v.get("first_name", null), v.get("middle_name")), \
            "LAST/FIRST/MIDDLE"
    df = df.with_columns(name.alias("_name"))
    df = case_numbers.case_number_keys(df, "v_case_number").rename(
        {"normalized": "_case", "base": "_case_base", "defendant_suffix": "_defendant_suffix"}
    )
    if "count_number" in v:
        df = df.with_columns(
            pl.when(v["count_number"].str.contains(r"^\d{1,6}$")).then(v["count_number"].str.to_integer(strict=False))
            .alias("_count")
        )
        count_bad = v["count_number"].is_not_null() & pl.col("_count").is_null()
    else:
        count_bad = pl.lit(False)

    # Charge: a blank charge is fine when the comment names a statute (checked on those rows).
    charge_missing = v["charge"].is_null()
    if "comment" in v and df.select(charge_missing.any()).item():
        from pipelines.normalize.sections import find_statutes  # noqa: PLC0415

        comments = df.filter(charge_missing & v["comment"].is_not_null()).select("v_comment").unique()
        comments = comments.with_columns((find_statutes(pl.col("v_comment")).list.len() > 0).alias("_comment_statute"))
        df = df.join(comments, on="v_comment", how="left", maintain_order="left")
        charge_missing = charge_missing & ~pl.col("_comment_statute").fill_null(False)

    # Reasons, in priority order (the structure layer's reason wins).
    checks: list[tuple[pl.Expr, str, pl.Expr]] = []
    if "marker" in structured.columns:
        checks.append((pl.col("_marker").fill_null("") != layout.end_marker.value, "end_marker",
                       pl.lit(f"the record does not end with {layout.end_marker.value!r} (truncated or shifted)")))
    checks += [
        (pl.col("_case").is_null(), "missing_case_number", pl.lit("no case number")),
        (charge_missing, "missing_charge", pl.lit("no charge, and no statute named in the comment")),
        (~_surname_present(pl.col("_name")), "missing_name", pl.lit("no defendant surname")),
    ]
    for f in date_fields:
        if layout.invalid_policy(f) == "quarantine":
            checks.append((invalid_date[f], "bad_date", pl.lit(f"{f} is not a valid {layout.date_format(f)} date")))
    checks.append((count_bad, "bad_count_number", pl.lit("count number is not a whole number")))
    for fname, spec in layout.fields.items():
        if spec.required and fname not in ("case_number", "charge", "name", "last_name"):
            checks.append((v[fname].is_null(), f"missing_{fname}", pl.lit(f"no {fname}")))
    chain_r = chain_d = None
    for cond, why, explain in checks:
        c = cond.fill_null(False)
        chain_r = pl.when(c).then(pl.lit(why)) if chain_r is None else chain_r.when(c).then(pl.lit(why))
        chain_d = pl.when(c).then(explain) if chain_d is None else chain_d.when(c).then(explain)
    df = _lazy(df).with_columns(
        chain_r.otherwise(None).alias("_reason"), chain_d.otherwise(None).alias("_detail")
    ).collect(engine="in-memory")

    # The same (case, count number) twice in one file: the later rows are quarantined.
    if "count_number" in v:
        df = _mark_duplicate_counts(df)

    rejected = df.filter(pl.col("_reason").is_not_null()).select("source_line", "_reason", "_detail")
    rejected = rejected.join(structured.fetch_raw(rejected["source_line"]), on="source_line", how="left") \
        if rejected.height else rejected.with_columns(pl.lit(None, dtype=pl.String).alias("raw"))
    quarantine = pl.concat([structured.bad, rejected.select(structured.bad.columns)], how="vertical").sort(
        "source_line"
    ).select(
        pl.lit(SOURCE).alias("source"), pl.lit(file).alias("source_file"), "source_line",
        pl.col("_reason").alias("reason"), pl.col("_detail").alias("detail"), "raw",
    )
    keep = ["source_line", *[c for c in df.columns if c.startswith(("v_", "_d_", "_m_", "_iso_"))], "_name", "_case",
            "_case_base", "_defendant_suffix"]
    accepted = df.select(keep).filter(df["_reason"].is_null()) if rejected.height else df.select(keep)
    del df
    accepted = _by_distinct(
        accepted, [f"v_{f}" for f in ("disposition_code", "disposition") if f in v],
        dispositions.classify_disposition(v.get("disposition_code"), v.get("disposition"),
                                          codes=layout.disposition_codes).alias("disposition_class"),
    ) if ("disposition_code" in v or "disposition" in v) else accepted.with_columns(
        pl.lit("unknown").alias("disposition_class"))
    with_invalid = [f for f in date_fields if accepted.select(invalid_date[f].any()).item()]
    invalid_list = (
        pl.concat_list([pl.when(invalid_date[f]).then(pl.lit(f)) for f in with_invalid]).list.drop_nulls()
        if with_invalid else pl.lit([], dtype=pl.List(pl.String))
    )
    rows = accepted.select(
        *[
            (
                pl.col(f"_iso_{f}") if f in fast
                else dates.to_iso(pl.col(f"_d_{f}")) if f in date_fields
                else pl.col("_name") if f == "name"
                else v.get(f, null)
            ).alias(f)
            for f in CANONICAL_FIELDS
        ],
        pl.lit(name_format).alias("name_format"),
        pl.col("_case").alias("case_number_normalized"),
        pl.col("_case_base").alias("case_number_base"),
        pl.col("_defendant_suffix").alias("defendant_suffix"),
        "disposition_class",
        invalid_list.alias("invalid_fields"),
        pl.lit(SOURCE).alias("source"), pl.lit(file).alias("source_file"), "source_line",
    )
    return model.conform(rows, ROW_SCHEMA, extra=False), model.conform(quarantine, model.QUARANTINE, extra=False)


def _mark_duplicate_counts(df: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows repeating an earlier row's (case, count number) in the same file."""
    candidates = df.filter(pl.col("_reason").is_null() & pl.col("_count").is_not_null()).select(
        "source_line", "_case", "_count"
    )
    if candidates.height == 0:
        return df
    # A 64-bit hash finds the candidates cheaply; the join below confirms them exactly.
    firsts = candidates.filter(pl.struct("_case", "_count").hash(seed=7).is_first_distinct())
    if firsts.height == candidates.height:
        return df
    dups = candidates.join(firsts.rename({"source_line": "_first_line"}), on=["_case", "_count"], how="inner").filter(
        pl.col("source_line") != pl.col("_first_line")
    ).select("source_line", "_first_line")
    first_line = df.select("source_line").join(dups, on="source_line", how="left", maintain_order="left")["_first_line"]
    dup = first_line.is_not_null()
    return df.with_columns(
        pl.when(dup).then(pl.lit("duplicate_count")).otherwise(pl.col("_reason")).alias("_reason"),
        pl.when(dup).then(pl.format("same case and count number as line {}", first_line))
        .otherwise(pl.col("_detail")).alias("_detail"),
    )


# ---------------------------------------------------------------------------------------------
# read_court


def _structure(path: Path, layout: Layout) -> _Structured:
    if layout.kind == "delimited":
        return _structure_delimited(path, layout)
    if layout.kind == "fixed_width":
        return _structure_fixed_width(path, layout)
    if layout.kind == "excel":
        return _structure_excel(path, layout)
    if layout.kind == "parquet":
        return _structure_parquet(path, layout)
    raise ConfigError(f"layout {layout.name!r}: kind {layout.kind!r} is not read from files")


def _empty_read() -> tuple[pl.DataFrame, pl.DataFrame]:
    return model.empty(ROW_SCHEMA), model.empty(model.QUARANTINE)


def _fits(path: Path, layout: Layout) -> bool:
    """Whether a file looks like it was written in a layout (cheap: extension, header, first line)."""
    suffix = path.suffix.lower()
    if layout.kind == "excel":
        return suffix in (".xlsx", ".xlsm")
    if layout.kind == "parquet":
        return suffix == ".parquet"
    if layout.kind == "sql" or suffix in (".xlsx", ".xlsm", ".parquet"):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16).decode(layout.encoding, errors="replace").splitlines()
    lines = [line for line in head[layout.skip_rows:] if line.strip()]
    if not lines:
        return False
    if layout.kind == "fixed_width":
        anchors = [layout.fields[f] for f in ("case_number", "name", "last_name") if f in layout.fields]
        longest = layout.record_length or max(s.end for s in layout.fields.values() if s.end)
        return layout.delimiter not in lines[0][:longest] and max(s.start for s in anchors) <= len(lines[0]) <= longest
    if layout.header:
        header = {_norm_header(h) for h in _split_header(lines[0], layout)}
        wanted = {_norm_header(c) for spec in layout.fields.values() for c in spec.columns}
        return wanted <= header
    return len(_split_header(lines[0], layout)) >= max((i for s in layout.fields.values() for i in s.indexes), default=0) + 1


def choose_layout(path: str | os.PathLike, layouts: Sequence[Layout | str | os.PathLike]) -> Layout:
    """The first of ``layouts`` a file fits (a county's ``court_layouts``, in order); InputError
    naming the file and the layouts tried when none does."""
    loaded = [lay if isinstance(lay, Layout) else load_layout(lay) for lay in layouts]
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=path.name, kind="OTHER")
    for lay in loaded:
        if _fits(path, lay):
            return lay
    raise InputError(f"fits none of the layouts {', '.join(lay.name for lay in loaded)}", file=path.name,
                     kind="LAYOUT")


def read_court(
    paths: Sequence[str | os.PathLike],
    layout: Layout | str | os.PathLike | Sequence[Layout | str | os.PathLike],
    *,
    county: str,
    as_of: date | None = None,
    on_file: Callable[[dict], None] | None = None,
) -> CourtRead:
    """Read court extracts through a layout, with quarantine and per-file conservation.

    ``layout`` is a Layout or a layout name/path, or a list of them (a county's
    ``court_layouts``): each file is then read through the first layout it fits
    (``choose_layout``). ``county`` (slug, display or DOJ name) fills rows that have no county of
    their own. ``as_of`` is the compute-at date: it sets the century of two-digit years
    (normalize/dates.py); default today — pass it for reproducible runs. For ``sql`` layouts
    ``paths`` must be empty: rows come from the layout's query (sql.py); with a list of layouts
    and no files, the first sql layout is read. ``on_file`` is called with each file's stats row
    as it completes (progress display).

    A file that cannot be read at all (missing, no header, header without the layout's columns,
    not a workbook) raises InputError naming file and reason. Rows that cannot be read go to
    ``quarantine``.
    """
    if isinstance(layout, (list, tuple)):
        choices = [lay if isinstance(lay, Layout) else load_layout(lay) for lay in layout]
        if not choices:
            raise ConfigError("no court layout given")
    else:
        choices = [layout if isinstance(layout, Layout) else load_layout(layout)]
    as_of_year = (as_of or date.today()).year
    county_name = doj_county_name(county)
    rows_frames, quarantine_frames, stats = [], [], []

    def finish(structured: _Structured, file: str, layout: Layout) -> None:
        read = structured.frame.height + structured.bad.height
        rows, quarantine = _interpret(structured, layout, file=file, as_of_year=as_of_year)
        rows = rows.with_columns(pl.col("county").fill_null(county_name))
        stat = {
            "source_file": file, "layout": layout.name, "rows_read": read, "rows_accepted": rows.height,
            "rows_quarantined": quarantine.height, "blank_lines": structured.blank_lines,
            "encoding": structured.encoding,
        }
        if stat["rows_read"] != stat["rows_accepted"] + stat["rows_quarantined"]:
            raise ConservationError(
                f"{file}: {read} rows read but {rows.height} accepted + {quarantine.height} quarantined"
            )
        rows_frames.append(rows)
        quarantine_frames.append(quarantine)
        stats.append(stat)
        if on_file is not None:
            on_file(stat)

    sql_layouts = [lay for lay in choices if lay.kind == "sql"]
    if not paths and sql_layouts:
        from pipelines.sources.sql import read_query  # noqa: PLC0415

        table, label = read_query(sql_layouts[0].sql, county=county_name)
        finish(_table_structured(table, sql_layouts[0], label, 1, "sql"), label, sql_layouts[0])
    elif paths and len(choices) == 1 and choices[0].kind == "sql":
        raise InputError(f"layout {choices[0].name!r} reads a database: give no files", kind="LAYOUT")
    else:
        for p in paths:
            path = Path(p)
            if not path.is_file():
                raise InputError("no such file", file=path.name, kind="OTHER")
            chosen = choices[0] if len(choices) == 1 else choose_layout(path, choices)
            try:
                structured = _structure(path, chosen)
            except OSError as exc:
                raise InputError(f"cannot read the file ({exc.strerror or exc})", file=path.name, kind="OTHER") from exc
            finish(structured, path.name, chosen)

    rows = pl.concat(rows_frames, how="vertical") if rows_frames else _empty_read()[0]
    quarantine = pl.concat(quarantine_frames, how="vertical") if quarantine_frames else _empty_read()[1]
    stats_frame = pl.DataFrame(stats, schema=STATS)
    if rows.height != (stats_frame["rows_accepted"].sum() or 0) or quarantine.height != (
        stats_frame["rows_quarantined"].sum() or 0
    ):
        raise ConservationError("court read: accepted/quarantined rows do not add up to the per-file counts")
    return CourtRead(rows=rows, quarantine=quarantine, stats=stats_frame)


# ---------------------------------------------------------------------------------------------
# Canonical conversion: persons and counts

PERSON_EXTRAS: dict[str, pl.DataType] = {
    "dl_state": pl.String,
    "last_tokens": pl.List(pl.String),
    "last_compact": pl.String,
    "first_initial": pl.String,
    "last_soundex": pl.String,
    "first_soundex": pl.String,
    "rows": pl.Int64,  # extract rows for this person
    "conflicting_fields": pl.List(pl.String),  # identity fields with more than one value
}

COUNT_EXTRAS: dict[str, pl.DataType] = {
    "courthouse": pl.String,
    "charge_description": pl.String,
    "defendant_suffix": pl.String,
    "case_number_base": pl.String,  # without defendant suffix (matches a DOJ OFN that omits it)
    "is_wobbler": pl.Boolean,
    "charge_level": pl.String,  # as written
    "offense_date": pl.Date,
    "filed_date": pl.Date,
    "disposition_date": pl.Date,
    "disposition_code": pl.String,
    "sentence_length": pl.String,
    "sentence_unit": pl.String,
    "statute_source": pl.String,  # "charge" | "comment" | null (none readable)
    "person_key": pl.String,
}


def _ordinal(frame: pl.DataFrame, group: list[str], order: str, name: str) -> pl.DataFrame:
    """1, 2, 3 ... within each group in ``order``: a sort and a forward fill, no window function."""
    frame = frame.sort([*group, order])
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    new = pl.any_horizontal([pl.col(g).ne_missing(pl.col(g).shift(1)) for g in group]) | (idx == 0)
    return frame.with_columns((idx - pl.when(new).then(idx).forward_fill() + 1).alias(name))


def _prepare_rows(rows: pl.DataFrame | pl.LazyFrame, county: str, *, ids: bool = True) -> pl.DataFrame:
    """Rows with _pos, _county, case parts, _person_key and _pkey (the person key, the court's or
    derived); with ``ids`` also case_id and person_id (court_persons formats ids per person)."""
    df = rows.collect(engine="in-memory") if isinstance(rows, pl.LazyFrame) else rows
    df = df.with_columns(*[pl.lit(None, dtype=t).alias(c) for c, t in ROW_SCHEMA.items() if c not in df.columns])
    county_name = doj_county_name(county)
    df = df.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"),
        pl.col("county").str.strip_chars().str.to_uppercase().fill_null(county_name).alias("_county"),
        pl.col("person_key").str.strip_chars().str.to_uppercase().replace("", None).alias("_person_key"),
    )
    if df["case_number_normalized"].null_count() == df["case_number"].null_count():
        # read_court normalized the case numbers already.
        df = df.with_columns(
            pl.col("case_number_normalized").alias("_case"), pl.col("case_number_base").alias("_case_base"),
            pl.col("defendant_suffix").alias("_defendant_suffix"),
        )
    else:
        df = case_numbers.case_number_keys(df, "case_number").rename(
            {"normalized": "_case", "defendant_suffix": "_defendant_suffix", "base": "_case_base"}
        )

    # Person: the court's own key; else one per distinct (name, DOB) within the case, numbered in
    # order of first appearance ("<case>#1"): deterministic, and no personal data in the id.
    keyless = df.filter(pl.col("_person_key").is_null())
    if keyless.height:
        ident = keyless.select(
            "_pos", "_county", "_case", pl.col("name").str.to_uppercase().str.replace_all(r"\s+", "").alias("_nm"),
            "dob",
        )
        keys = ["_county", "_case", "_nm", "dob"]
        firsts = ident.group_by(keys).agg(pl.col("_pos").min().alias("_first"))
        firsts = _ordinal(firsts, ["_county", "_case"], "_first", "_n")
        derived = ident.join(firsts, on=keys, how="left", nulls_equal=True).select(
            "_pos", pl.format("{}#{}", "_case", "_n").alias("_derived_key")
        )
        mapped = df.select("_pos").join(derived, on="_pos", how="left", maintain_order="left")
        df = df.with_columns(pl.coalesce(pl.col("_person_key"), mapped["_derived_key"]).alias("_pkey"))
    else:
        df = df.with_columns(pl.col("_person_key").alias("_pkey"))
    if ids:
        df = df.with_columns(
            pl.format("court:{}:{}", "_county", "_case").alias("case_id"),
            pl.format("court:{}:{}", "_county", "_pkey").alias("person_id"),
        )
    return df


def _has_digit(c: str) -> pl.Expr:
    """The value where it holds a digit, else null (placeholders such as ``x`` are skipped)."""
    return pl.when(pl.col(c).str.contains(r"\d")).then(pl.col(c))


def _conflict_lists(persons: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """``conflicting_fields`` from the ``_x_<field>`` flags: the flags as the bits of a small
    integer, which picks its list from a table of every combination (building millions of lists
    row by row costs)."""
    code = pl.sum_horizontal([pl.col(f"_x_{f}").fill_null(False).cast(pl.UInt32) * (1 << i)
                              for i, f in enumerate(fields)])
    combos = pl.Series("conflicting_fields", [[f for i, f in enumerate(fields) if n >> i & 1]
                                              for n in range(1 << len(fields))], dtype=pl.List(pl.String))
    lists = combos.gather(persons.select(code).to_series())
    return persons.drop([f"_x_{f}" for f in fields]).with_columns(lists)


def court_persons(rows: pl.DataFrame | pl.LazyFrame, *, county: str) -> pl.DataFrame:
    """One ``model.PERSON`` row per court person (then ``PERSON_EXTRAS``), in order of first row.

    person_id is ``court:<COUNTY>:<person key>`` with the court's own person key, or, when the
    layout has none (or the row's key is blank), ``court:<COUNTY>:<case number>#<n>``: the n-th
    distinct name + DOB of the case. Each attribute is the first non-blank value in file order
    (identifiers without a digit, such as ``x`` placeholders, are skipped), then normalized
    (normalize/ids.py, names.py). ``conflicting_fields`` names the identity fields (CII, SSN,
    licence, DOB, name) that carry more than one distinct value for the person.
    """
    df = _prepare_rows(rows, county, ids=False)
    # Conflicts: identity values compared as 64-bit hashes of their letters and digits (min != max
    # per person is far cheaper than counting distinct strings).
    keys = {"cii": "cii", "ssn": "ssn", "cdl": "dl_number", "dob": "dob", "name": "name"}
    clean = {"cii", "ssn", "cdl"}  # written with or without punctuation; names and DOBs as read
    # (only cleaned when some value is not upper-case letters and digits already)
    clean = {f for f, dirty in df.select(*[pl.col(keys[f]).str.contains("[^0-9A-Z]").any().alias(f) for f in clean])
             .row(0, named=True).items() if dirty}
    identifiers = ("cii", "ssn", "dl_number", "fbi")
    df = df.with_columns(*[
        pl.when(pl.col(src).is_not_null())
        .then((pl.col(src).str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase() if f in clean
               else pl.col(src)).hash(seed=3))
        .alias(f"_h_{f}")
        for f, src in keys.items()
    ], *[_has_digit(c).alias(f"_id_{c}") for c in identifiers])
    persons = df.group_by("_county", "_pkey", maintain_order=True).agg(
        pl.col("_person_key").first(ignore_nulls=True).alias("source_person_key"),
        *[pl.col(f"_id_{c}").first(ignore_nulls=True).alias(c) for c in identifiers],
        *[pl.col(c).first(ignore_nulls=True).alias(c) for c in ("name", "name_format", "dob", "gender", "race")],
        *[pl.col(c).first() for c in model.LINEAGE],
        pl.len().cast(pl.Int64).alias("rows"),
        *[(pl.col(f"_h_{f}").min() != pl.col(f"_h_{f}").max()).alias(f"_x_{f}") for f in keys],
    )
    dl = ids.dl_parts(pl.col("dl_number"))
    persons = _lazy(persons).with_columns(
        pl.format("court:{}:{}", "_county", "_pkey").alias("person_id"),
        pl.col("_county").alias("county"),
        ids.normalize_cii(pl.col("cii")).alias("cii"),
        ids.normalize_ssn(pl.col("ssn")).alias("ssn"),
        dl.struct.field("dl_number").alias("cdl"),
        dl.struct.field("dl_state").alias("dl_state"),
        ids.normalize_fbi(pl.col("fbi")).alias("fbi"),
        pl.col("dob").str.to_date("%Y-%m-%d", strict=False).alias("dob"),
        ids.normalize_gender(pl.col("gender")).alias("gender"),
        pl.col("name").alias("name_raw"),
    ).collect(engine="in-memory")
    persons = _conflict_lists(persons, list(keys))
    # Names: parsed once per distinct written name, per written form.
    formats = persons["name_format"].drop_nulls().unique().to_list() or ["LAST, FIRST MIDDLE"]
    parsed = [
        names.parse_names(persons.filter(pl.col("name_format").fill_null(formats[0]) == fmt), "name", fmt)
        for fmt in sorted(formats)
    ]
    persons = pl.concat(parsed, how="vertical").sort("source_file", "source_line", "person_id") if len(parsed) > 1 \
        else parsed[0]
    persons = names.with_name_keys(persons)
    return model.conform(persons, {**model.PERSON, **PERSON_EXTRAS}, extra=False)


_UNIT = {"D": "d", "DAY": "d", "DAYS": "d", "M": "mo", "MO": "mo", "MONTH": "mo", "MONTHS": "mo",
         "Y": "y", "YR": "y", "YRS": "y", "YEAR": "y", "YEARS": "y"}


def _sentence_parts() -> list[pl.Expr]:
    """(_sent_n, _sent_unit) from sentence_length (+ sentence_unit, or a unit after the number:
    "16M"); nulls when unreadable."""
    groups = pl.col("sentence_length").str.strip_chars().str.to_uppercase().str.extract_groups(r"^(\d{1,5})\s*([A-Z]*)$")
    unit_text = pl.coalesce(
        pl.col("sentence_unit").str.strip_chars().str.to_uppercase(),
        groups.struct.field("2").replace("", None),
    )
    return [
        groups.struct.field("1").cast(pl.Int64, strict=False).alias("_sent_n"),
        unit_text.replace_strict(_UNIT, default=None, return_dtype=pl.String).alias("_sent_unit"),
    ]


def _sentence_end(df: pl.DataFrame) -> pl.Series:
    """Conviction date + sentence for convictions (the conviction date when no sentence is
    readable), null otherwise. Day sentences are plain arithmetic; calendar months and years
    (Polars offset_by) run only on the rows that have them."""
    event, n, unit = df["_event"], df["_sent_n"], df["_sent_unit"]
    end = df.select(
        pl.when(pl.col("_convicted") & pl.col("_event").is_not_null()).then(
            pl.when(pl.col("_sent_unit") == "d").then(pl.col("_event") + pl.duration(days=pl.col("_sent_n")))
            .otherwise(pl.col("_event"))
        )
    ).to_series()
    calendar = (df["_convicted"] & event.is_not_null() & unit.is_in(["mo", "y"])).fill_null(False)
    if calendar.any():
        idx = calendar.arg_true()
        part = pl.DataFrame({"e": event.gather(idx), "o": n.gather(idx).cast(pl.String) + unit.gather(idx)})
        end = end.scatter(idx, part.select(pl.col("e").dt.offset_by(pl.col("o"))).to_series())
    return end


def court_counts(rows: pl.DataFrame | pl.LazyFrame, *, county: str) -> pl.DataFrame:
    """One ``model.COUNT`` row per court count (then ``COUNT_EXTRAS``), in the rows' order.

    - ids: case_id ``court:<COUNTY>:<normalized case number>``; count_id ``<case_id>:<n>`` where
      n is the extract's count number, else the rank of the charge within the case in the file's
      line order, after the case's highest count number in the file; person_id as in court_persons; cycle_id = case_id; step_type ``COURT``.
    - Overlapping extracts: when several files hold the same count_id, the row from the file
      given last wins (pass files in refresh order).
    - code/section/subsection from the charge (normalize/sections.py); when the charge is blank,
      from the first statute named in the comment (``statute_source`` says which).
      comment_sections lists the other statutes the comment names.
    - disposition from read_court's ``disposition_class`` (the layout's code table and the
      description, normalize/dispositions.py); is_conviction only for ``convicted``; event_date
      is the disposition date for convictions, else the disposition, filing or offense date;
      sentence_end = event_date + sentence (the event date itself when no sentence is readable;
      null when not a conviction).
    - level F/M/I and is_wobbler from the charge level (normalize/levels.py).
    """
    from pipelines.normalize.sections import find_statutes, parse_statute  # noqa: PLC0415

    df = _prepare_rows(rows, county)
    df = _by_distinct(df, ["count_number"], pl.col("count_number").str.strip_chars().str.extract(r"^(\d{1,6})$", 1)
                      .cast(pl.Int64, strict=False).alias("_explicit"))
    if df["_explicit"].null_count():
        numbered = df.select("_pos", "source_file", "case_id").filter(df["_explicit"].is_null())
        numbered = _ordinal(numbered, ["source_file", "case_id"], "_pos", "_ordinal")
        df = df.join(numbered.select("_pos", "_ordinal"), on="_pos", how="left", maintain_order="left")
        # Charges without a count number are numbered after the case's highest explicit one, so
        # the two kinds never collide on one count id.
        highest = pl.col("_explicit").max().over("source_file", "case_id").fill_null(0)
        df = df.with_columns(pl.coalesce("_explicit", pl.col("_ordinal") + highest).cast(pl.Int32).alias("_count"))
    else:  # every charge has its number (the usual case): no window over the cases
        df = df.with_columns(pl.col("_explicit").cast(pl.Int32).alias("_count"))
    df = df.with_columns(pl.format("{}:{}", "case_id", "_count").alias("count_id"))
    if df["source_file"].n_unique() > 1:
        # Later files supersede earlier ones for the same count.
        file_rank = pl.col("_pos").min().over("source_file")
        df = df.with_columns(file_rank.alias("_file_rank")).sort("_file_rank", "_pos").unique(
            subset="count_id", keep="last", maintain_order=True
        )

    # Statutes: everything statute-related depends only on (charge, comment), computed once per
    # distinct pair (charges and comments repeat a lot).
    df = df.with_columns(pl.col("charge").str.strip_chars().alias("_charge"))
    pairs = df.select("_charge", "comment").unique()
    pairs = pairs.with_columns(
        parse_statute(pl.col("_charge")).alias("_st"),
        pl.when(pl.col("comment").is_not_null()).then(find_statutes(pl.col("comment"))).alias("_cs"),
    )
    pairs = pairs.with_columns(
        pl.when(pl.col("_st").struct.field("section").is_null() & pl.col("_charge").is_null())
        .then(pl.col("_cs").list.first()).alias("_comment_charge")
    )
    pairs = pairs.with_columns(parse_statute(pl.col("_comment_charge")).alias("_st_c"))
    use_comment = pl.col("_comment_charge").is_not_null()
    pairs = pairs.with_columns(pl.when(use_comment).then(pl.col("_st_c")).otherwise(pl.col("_st")).alias("_statute"))
    statute = pl.col("_statute")
    pairs = pairs.select(
        "_charge", "comment",
        pl.when(use_comment).then(pl.col("_comment_charge")).otherwise(pl.col("_charge")).alias("_offense_text"),
        statute.struct.field("code").alias("_code"),
        statute.struct.field("section").alias("_section"),
        statute.struct.field("subsection").alias("_subsection"),
        pl.col("_cs").fill_null([]).list.set_difference(
            pl.concat_list(statute.struct.field("statute")).list.drop_nulls()
        ).alias("_comment_sections"),
        pl.when(use_comment).then(pl.lit("comment"))
        .when(statute.struct.field("section").is_not_null()).then(pl.lit("charge")).alias("_statute_source"),
    )
    mapped = df.select("_charge", "comment").join(pairs, on=["_charge", "comment"], how="left", nulls_equal=True,
                                                  maintain_order="left")
    df = pl.concat([df, mapped.drop("_charge", "comment").rechunk()], how="horizontal")

    if df["disposition_class"].null_count():
        # Rows not made by read_court: classify with the shipped table only.
        df = _by_distinct(df, ["disposition_code", "disposition"], pl.coalesce(
            pl.col("disposition_class"),
            dispositions.classify_disposition(pl.col("disposition_code"), pl.col("disposition")),
        ).alias("_disposition"))
    else:
        df = df.with_columns(pl.col("disposition_class").alias("_disposition"))
    df = _lazy(df).with_columns(
        *[pl.col(f).str.to_date("%Y-%m-%d", strict=False).alias(f"_{f}") for f in ("disposition_date", "filed_date", "offense_date")],
    ).collect(engine="in-memory")
    df = _by_distinct(df, ["sentence_length", "sentence_unit"], *_sentence_parts())
    convicted = dispositions.is_conviction(pl.col("_disposition"))
    df = df.with_columns(
        pl.when(convicted).then(pl.col("_disposition_date"))
        .otherwise(pl.coalesce("_disposition_date", "_filed_date", "_offense_date")).alias("_event"),
        convicted.alias("_convicted"),
    )
    sentence_end = _sentence_end(df)
    # Levels as written repeat a lot: normalized once per distinct value.
    df = _by_distinct(df, ["charge_level"], levels.normalize_level(pl.col("charge_level")).alias("_level"),
                      levels.is_wobbler(pl.col("charge_level")).alias("_wobbler"))
    level = pl.col("_level")
    out = df.select(
        "count_id",
        "person_id",
        "case_id",
        pl.col("case_id").alias("cycle_id"),
        pl.col("_county").alias("county"),
        pl.col("case_number").alias("case_numbers"),
        pl.col("_case").alias("case_number"),
        pl.col("_count").alias("count_number"),
        pl.lit("COURT").alias("step_type"),
        pl.col("_event").alias("event_date"),
        pl.col("_offense_text").alias("offense_text"),
        pl.col("comment").alias("comment_text"),
        pl.col("_code").alias("code"),
        pl.col("_section").alias("section"),
        pl.col("_subsection").alias("subsection"),
        pl.col("_comment_sections").alias("comment_sections"),
        level.alias("level"),
        (level == "F").fill_null(False).alias("is_felony"),
        pl.col("_disposition").alias("disposition"),
        pl.col("disposition").alias("disposition_text"),
        pl.col("_convicted").alias("is_conviction"),
        sentence_end.alias("sentence_end"),
        pl.lit(None, dtype=pl.Int64).alias("row_index"),
        "source", "source_file", "source_line",
        # extras
        "courthouse",
        "charge_description",
        pl.col("_defendant_suffix").alias("defendant_suffix"),
        pl.col("_case_base").alias("case_number_base"),
        pl.col("_wobbler").alias("is_wobbler"),
        "charge_level",
        pl.col("_offense_date").alias("offense_date"),
        pl.col("_filed_date").alias("filed_date"),
        pl.col("_disposition_date").alias("disposition_date"),
        "disposition_code",
        "sentence_length",
        "sentence_unit",
        pl.col("_statute_source").alias("statute_source"),
        pl.col("_person_key").alias("person_key"),
    )
    return model.conform(out, {**model.COUNT, **COUNT_EXTRAS}, extra=False)


# ---------------------------------------------------------------------------------------------
# Field quality (check-layout): how each field normalized, counts only


def field_quality(rows: pl.DataFrame, layout: Layout, *, case_number_pattern: str | None = None) -> pl.DataFrame:
    """Per mapped field: rows where it is missing, valid, invalid (counts only, no values).

    Dates: invalid = present but unreadable (``invalid_fields``). Identifiers, levels, case
    numbers, counts and statutes: invalid = present but the normalizer rejects it (or the case
    number does not fit ``case_number_pattern``). Name: invalid = no surname. Dispositions:
    invalid = neither the code table nor the description rules could classify it.
    """
    from pipelines.normalize.sections import parse_statute  # noqa: PLC0415

    c = pl.col("_value")
    validators: dict[str, pl.Expr] = {
        "case_number": case_numbers.matches_pattern(case_numbers.normalize_case_number(c), case_number_pattern),
        "cii": ids.normalize_cii(c).is_not_null(),
        "ssn": ids.normalize_ssn(c).is_not_null(),
        "dl_number": ids.normalize_dl(c).is_not_null(),
        "fbi": ids.normalize_fbi(c).is_not_null(),
        "gender": ids.normalize_gender(c).is_not_null(),
        "charge_level": levels.normalize_level(c).is_not_null(),
        "charge": parse_statute(c).struct.field("section").is_not_null(),
        "count_number": c.str.contains(r"^\d{1,6}$"),
        "name": _surname_present(c),
        "sentence_length": c.str.contains(r"^\d{1,5}\s*[A-Za-z]*$"),
        "sentence_unit": c.str.to_uppercase().is_in(list(_UNIT)),
    }
    out = []
    for fname in layout.fields:
        if fname in DATE_FIELDS:
            invalid = int(rows.select(pl.col("invalid_fields").list.contains(fname).sum()).item() or 0)
            valid = int(rows[fname].is_not_null().sum())
            out.append({"field": fname, "missing": rows.height - valid - invalid, "valid": valid, "invalid": invalid})
            continue
        if fname in ("disposition", "disposition_code"):
            present = rows[fname].is_not_null()
            ok = (rows["disposition_class"] != "unknown").fill_null(False)
            valid = int((present & ok).sum())
            out.append({"field": fname, "missing": int((~present).sum()), "valid": valid,
                        "invalid": int(present.sum()) - valid})
            continue
        values = rows.select(pl.col(fname).alias("_value"))
        present = int(values["_value"].is_not_null().sum())
        check = validators.get(fname)
        if check is None:
            valid = present
        else:
            counted = values.filter(c.is_not_null()).group_by("_value").agg(pl.len().alias("_n"))
            valid = int(counted.filter(check.fill_null(False))["_n"].sum() or 0)
        out.append({"field": fname, "missing": rows.height - present, "valid": valid, "invalid": present - valid})
    return pl.DataFrame(out, schema={"field": pl.String, "missing": pl.Int64, "valid": pl.Int64, "invalid": pl.Int64})
