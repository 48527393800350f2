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
   names split into parts (normalize/names.py), dispositions classified with the layout's code
   table, required fields checked; a row missing a case number, a charge (when the comment names
   no statute either) or a name, or with an invalid required date, is quarantined.

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
# written, with the parsed parts beside it), the disposition class, then lineage.
ROW_SCHEMA: dict[str, pl.DataType] = {
    **{f: pl.String for f in CANONICAL_FIELDS},
    "name_suffix": pl.String,
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
# Structure layer: one frame per file with source_line, raw, _reason, _detail and source columns

_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]|\x{FFFD}{3,}"
# Separator bytes for reading whole lines as one column: the first one absent from the data.
_LINE_SEPARATORS = [chr(b) for b in (0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C), 0x7F)]


@dataclass
class _Structured:
    frame: pl.DataFrame  # source_line, raw, _reason, _detail, + source columns (String)
    columns: dict[str, str]  # locator key ("c:<name>" / "i:<index>" / "p:<start>:<end>") -> frame column
    blank_lines: int
    encoding: str


def _decoded_source(path: Path, layout: Layout) -> tuple[Path | io.BytesIO, str, bool]:
    """The file as UTF-8 for Polars: (source, encoding label, lossy)."""
    if layout.encoding == "utf-8":
        return path, "utf-8", False
    text = path.read_bytes().decode(layout.encoding, errors="replace")
    lossy = "\ufffd" in text
    return io.BytesIO(text.encode("utf-8")), layout.encoding, lossy


def _read_lines(source: Path | io.BytesIO) -> tuple[pl.DataFrame, bool]:
    """Physical lines as one String column ``raw`` (``\\r`` stripped); (frame, lossy utf-8)."""
    data = source.getvalue() if isinstance(source, io.BytesIO) else None
    if data is None:
        with open(source, "rb") as f:
            data = f.read()
    if not data:
        return pl.DataFrame(schema={"raw": pl.String}), False
    sep = next((s for s in _LINE_SEPARATORS if s.encode() not in data), None)
    if sep is None:  # every candidate byte occurs: not really text; split in Python once
        text = data.decode("utf-8", errors="replace")
        parts = text.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        frame = pl.DataFrame({"raw": parts}, schema={"raw": pl.String})
        return frame.with_columns(pl.col("raw").str.strip_suffix("\r")), "\ufffd" in text

    def read(encoding: str) -> pl.DataFrame:
        return pl.read_csv(
            io.BytesIO(data), has_header=False, separator=sep, quote_char=None, infer_schema=False,
            encoding=encoding, raise_if_empty=False, new_columns=["raw"], empty_string_is_null=False,
        )

    try:
        frame, lossy = read("utf8"), False
    except pl.exceptions.ComputeError as exc:
        if "utf" not in str(exc).lower():
            raise
        frame, lossy = read("utf8-lossy"), True
    return frame.with_columns(pl.col("raw").fill_null("").str.strip_suffix("\r")), lossy


def _numbered(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.with_row_index("source_line", offset=1).with_columns(pl.col("source_line").cast(pl.Int64))


def _field_regex(delim: str, quote: str | None) -> str:
    d = _escape(delim)
    if quote is None:
        return f"[^{d}\\x00]*"
    q = _escape(quote)
    return f"(?:[^{d}{q}\\x00]*|{q}(?:[^{q}\\x00]|{q}{q})*{q})"


def _escape(ch: str) -> str:
    return "\\" + ch if not ch.isalnum() else ch


def _split_header(line: str, layout: Layout) -> list[str]:
    import csv  # noqa: PLC0415 (one line, once per file)

    reader = csv.reader(
        [line], delimiter=layout.delimiter, quotechar=layout.quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if layout.quote_char else csv.QUOTE_NONE,
    )
    return next(reader, [])


def _norm_header(name: str) -> str:
    return " ".join(name.split()).upper()


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


def _structure_delimited(path: Path, layout: Layout) -> _Structured:
    name = path.name
    source, encoding, lossy_decode = _decoded_source(path, layout)
    lines, lossy = _read_lines(source)
    lossy = lossy or lossy_decode
    lines = _numbered(lines)
    header_lines = layout.skip_rows + (1 if layout.header else 0)
    header_names: list[str] | None = None
    if layout.header:
        if lines.height <= layout.skip_rows:
            raise InputError("the file has no header row", file=name, line=layout.skip_rows + 1, kind="LAYOUT")
        header_names = _split_header(lines["raw"][layout.skip_rows], layout)
    lines = lines.slice(header_lines)

    # Which source positions are needed: index of each named column, or given indexes.
    by_name = _locate_columns(header_names, layout, name) if header_names is not None else {}
    needed: dict[str, int] = {f"c:{col}": i for col, i in by_name.items()}
    for spec in layout.fields.values():
        for i in spec.indexes:
            needed[f"i:{i}"] = i
    marker_index = None
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
    good_line = f"^{field}(?:{d}{field}){count_re}$"
    raw = pl.col("raw")
    flags = lines.select(
        blank=raw.str.strip_chars() == "",
        binary=raw.str.contains(_CONTROL),
        good=raw.str.contains(good_line),
    )
    blank = flags["blank"]
    good = flags["good"] & ~flags["binary"]
    blank_lines = int(blank.sum())
    lines = lines.with_columns(_blank=blank, _good=good)

    # Reasons for the lines that are not good.
    if layout.quote_char is not None:
        q = _escape(layout.quote_char)
        unquoted = raw.str.replace_all(f'{q}[^{q}]*{q}', "")
        open_quote = unquoted.str.contains(layout.quote_char, literal=True)
    else:
        unquoted, open_quote = raw, pl.lit(False)
    n_fields = unquoted.str.count_matches(layout.delimiter, literal=True) + 1
    want = f"expected {expected}" if expected is not None else f"at least {minimum}"
    reason = (
        pl.when(pl.col("_good")).then(None)
        .when(raw.str.contains(_CONTROL)).then(pl.lit("binary"))
        .when(open_quote).then(pl.lit("bad_quoting"))
        .when((n_fields != expected) if expected is not None else (n_fields < minimum)).then(pl.lit("field_count"))
        .otherwise(pl.lit("bad_quoting"))
    )
    detail = (
        pl.when(reason == "binary").then(pl.lit("control characters or undecodable bytes (binary data)"))
        .when(reason == "field_count").then(pl.format("{} fields, " + want, n_fields))
        .when(reason == "bad_quoting").then(pl.lit("unterminated quote, or a quote inside an unquoted field"))
    )
    lines = lines.filter(~pl.col("_blank")).with_columns(reason.alias("_reason"), detail.alias("_detail"))

    n_good = int(lines["_good"].sum())
    positions = sorted(set(needed.values()))
    width = expected if expected is not None else minimum
    schema = {f"f{i}": pl.String for i in range(width)}
    parse_opts = dict(
        has_header=False, schema=schema, columns=positions, empty_string_is_null=False,
        separator=layout.delimiter, quote_char=layout.quote_char, raise_if_empty=False,
        truncate_ragged_lines=expected is None,
    )
    if n_good == 0:
        parsed = pl.DataFrame(schema={f"f{i}": pl.String for i in positions})
    elif n_good == lines.height and blank_lines == 0:
        # Every data line is good: parse the source itself (fast path).
        src = source if isinstance(source, Path) else io.BytesIO(source.getvalue())
        parsed = pl.read_csv(src, skip_lines=header_lines, encoding="utf8-lossy", **parse_opts)
    else:
        buffer = io.BytesIO()
        lines.filter(pl.col("_good")).select("raw").write_csv(
            buffer, include_header=False, quote_style="never", separator="\x1f"
        )
        buffer.seek(0)
        parsed = pl.read_csv(buffer, encoding="utf8", **parse_opts)
    if parsed.height != n_good:
        raise ConservationError(f"{name}: {n_good} well-formed lines but {parsed.height} rows parsed")
    parsed = parsed.select([f"f{i}" for i in positions])

    good_part = pl.concat([lines.filter(pl.col("_good")).drop("_good", "_blank"), parsed], how="horizontal")
    bad_part = lines.filter(~pl.col("_good")).drop("_good", "_blank")
    frame = pl.concat([good_part, bad_part], how="diagonal").sort("source_line")
    columns = {key: f"f{i}" for key, i in needed.items()}
    label = layout.encoding + (" (lossy)" if lossy else "")
    return _Structured(frame, columns, blank_lines, label)


def _structure_fixed_width(path: Path, layout: Layout) -> _Structured:
    source, encoding, lossy_decode = _decoded_source(path, layout)
    lines, lossy = _read_lines(source)
    lines = _numbered(lines).slice(layout.skip_rows + (1 if layout.header else 0))
    raw = pl.col("raw")
    blank = raw.str.strip_chars() == ""
    blank_lines = int(lines.select(blank.sum()).item() or 0)
    lines = lines.filter(~blank)
    specs = [s for s in layout.fields.values() if s.start is not None]
    last_start = max((s.start for s in specs), default=1)
    length = raw.str.len_chars()
    too_long = (length > layout.record_length) if layout.record_length is not None else pl.lit(False)
    reason = (
        pl.when(raw.str.contains(_CONTROL)).then(pl.lit("binary"))
        .when(too_long | (length < last_start)).then(pl.lit("line_length"))
    )
    limit = f"{last_start}-{layout.record_length}" if layout.record_length else f"at least {last_start}"
    detail = (
        pl.when(reason == "binary").then(pl.lit("control characters or undecodable bytes (binary data)"))
        .when(reason == "line_length").then(pl.format("{} characters, expected " + limit, length))
    )
    columns: dict[str, str] = {}
    exprs = []
    for spec in specs:
        key = f"p:{spec.start}:{spec.end}"
        if key not in columns:
            columns[key] = f"p{len(columns)}"
            exprs.append(raw.str.slice(spec.start - 1, spec.end - spec.start + 1).alias(columns[key]))
    frame = lines.with_columns(reason.alias("_reason"), detail.alias("_detail"), *exprs)
    label = layout.encoding + (" (lossy)" if (lossy or lossy_decode) else "")
    return _Structured(frame, columns, blank_lines, label)


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
    table = _as_text(table)
    columns = _table_columns(table, layout, file, first_line)
    data_cols = table.columns
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols]) \
        if data_cols else pl.lit(True)
    frame = table.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias("source_line"),
        blank.alias("_blank"),
    )
    blank_lines = int(frame["_blank"].sum())
    raw = pl.struct(data_cols).struct.json_encode() if data_cols else pl.lit("{}")
    renamed = {src: f"t{i}" for i, src in enumerate(dict.fromkeys(columns.values()))}
    frame = frame.filter(~pl.col("_blank")).select(
        "source_line", raw.alias("raw"),
        pl.lit(None, dtype=pl.String).alias("_reason"), pl.lit(None, dtype=pl.String).alias("_detail"),
        *[pl.col(src).alias(dst) for src, dst in renamed.items()],
    )
    return _Structured(frame, {k: renamed[v] for k, v in columns.items()}, blank_lines, encoding)


def _structure_excel(path: Path, layout: Layout) -> _Structured:
    import fastexcel  # noqa: PLC0415 (heavy; only for Excel layouts)

    try:
        reader = fastexcel.read_excel(str(path))
        sheet_names = reader.sheet_names
        sheet = layout.sheet if layout.sheet is not None else 0
        if isinstance(sheet, str) and sheet not in sheet_names:
            raise InputError(f"no sheet {sheet!r} (sheets: {', '.join(sheet_names)})", file=path.name, kind="LAYOUT")
        cells = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string").to_polars()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (calamine raises its own types for damaged files)
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


def _structure_parquet(path: Path, layout: Layout) -> _Structured:
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as exc:  # noqa: BLE001 (a damaged file raises various errors)
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=path.name, kind="OTHER") from exc
    wanted = {_norm_header(c) for spec in layout.fields.values() for c in spec.columns}
    keep = [c for c in schema if _norm_header(c) in wanted]
    table = pl.read_parquet(path, columns=keep)
    return _table_structured(table, layout, path.name, 1, "parquet")


# ---------------------------------------------------------------------------------------------
# Interpretation layer (every kind)


def _blank_null(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars()
    return pl.when(e != "").then(e)


def _field_expr(fname: str, spec: FieldSpec, columns: dict[str, str]) -> pl.Expr:
    if spec.value is not None:
        return pl.lit(spec.value, dtype=pl.String)
    keys = [f"c:{c}" for c in spec.columns] + [f"i:{i}" for i in spec.indexes]
    if spec.start is not None:
        keys = [f"p:{spec.start}:{spec.end}"]
    exprs = [_blank_null(pl.col(columns[k]).cast(pl.String)) for k in keys]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def _interpret(structured: _Structured, layout: Layout, *, file: str, as_of_year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted rows in ROW_SCHEMA, quarantine in model.QUARANTINE) for one file."""
    frame = structured.frame
    mapped = {fname: _field_expr(fname, spec, structured.columns) for fname, spec in layout.fields.items()}
    lf = frame.lazy().select(
        "source_line", "raw", "_reason", "_detail",
        *[expr.alias(f"_v_{fname}") for fname, expr in mapped.items()],
        *([pl.col(structured.columns["marker"]).alias("_marker")] if "marker" in structured.columns else []),
    )
    v = {fname: pl.col(f"_v_{fname}") for fname in mapped}
    null = pl.lit(None, dtype=pl.String)

    # Dates: events first (their year is the DOB pivot).
    table_kind = layout.kind in ("excel", "parquet", "sql")

    def parse(fname: str, pivot: int | pl.Expr, latest: int | pl.Expr | None = None) -> pl.Expr:
        parsed = dates.parse_date(v[fname], layout.date_format(fname), pivot_year=pivot, latest_year=latest)
        if table_kind and layout.date_format(fname) != "YYYY-MM-DD":
            # Real date cells arrive as ISO text whatever the layout says.
            parsed = pl.coalesce(parsed, dates.parse_date(v[fname], "YYYY-MM-DD", pivot_year=pivot, latest_year=latest))
        return parsed

    event_dates = {f: parse(f, as_of_year) for f in ("disposition_date", "filed_date", "offense_date") if f in v}
    lf = lf.with_columns(*[e.alias(f"_d_{f}") for f, e in event_dates.items()])
    if "dob" in v:
        anchor = pl.coalesce([pl.col(f"_d_{f}") for f in event_dates]) if event_dates else pl.lit(None, dtype=pl.Date)
        lf = lf.with_columns(parse("dob", dates.dob_pivot(anchor, as_of_year), as_of_year).alias("_d_dob"))
    date_fields = [f for f in DATE_FIELDS if f in v]

    # Names.
    if "name" in v:
        parts = names.parse_name(v["name"], layout.name_format())
        name_raw = v["name"]
    else:
        parts = names.name_from_parts(v["last_name"], v.get("first_name", null), v.get("middle_name"))
        name_raw = pl.concat_str([v[f] for f in NAME_PART_FIELDS if f in v], separator="/", ignore_nulls=True)
    lf = lf.with_columns(parts.alias("_name"), name_raw.alias("_name_raw"))

    case_norm = case_numbers.normalize_case_number(v["case_number"])
    count_text = v.get("count_number", null)
    count_ok = count_text.is_null() | count_text.str.contains(r"^\d{1,6}$")
    lf = lf.with_columns(case_norm.alias("_case"), count_ok.alias("_count_ok"))

    # Charge: blank charge is fine when the comment names a statute (checked on those rows only).
    charge_missing = v["charge"].is_null()
    if "comment" in v:
        from pipelines.normalize.sections import find_statutes  # noqa: PLC0415

        comment_statute = find_statutes(v["comment"]).list.len() > 0
        charge_missing = charge_missing & ~(pl.when(v["charge"].is_null()).then(comment_statute).otherwise(False))

    # Reasons, in priority order (the structure layer's reason wins).
    invalid_date = {f: dates.is_invalid(v[f], pl.col(f"_d_{f}")) for f in date_fields}
    checks: list[tuple[pl.Expr, str, pl.Expr]] = []
    if "marker" in structured.columns:
        checks.append((pl.col("_marker").str.strip_chars() != layout.end_marker.value, "end_marker",
                       pl.lit(f"the record does not end with {layout.end_marker.value!r} (truncated or shifted)")))
    checks += [
        (pl.col("_case").is_null(), "missing_case_number", pl.lit("no case number")),
        (charge_missing, "missing_charge", pl.lit("no charge, and no statute named in the comment")),
        (pl.col("_name").struct.field("last_name").is_null(), "missing_name", pl.lit("no defendant name")),
    ]
    for f in date_fields:
        if layout.invalid_policy(f) == "quarantine":
            checks.append((invalid_date[f], "bad_date",
                           pl.lit(f"{f} is not a valid {layout.date_format(f)} date")))
    checks.append((~pl.col("_count_ok"), "bad_count_number", pl.lit("count number is not a whole number")))
    for fname, spec in layout.fields.items():
        if spec.required and fname not in ("case_number", "charge", "name", "last_name") and fname in v:
            checks.append((v[fname].is_null(), f"missing_{fname}", pl.lit(f"no {fname}")))
    chain_r = pl.when(pl.col("_reason").is_not_null()).then(pl.col("_reason"))
    chain_d = pl.when(pl.col("_reason").is_not_null()).then(pl.col("_detail"))
    for cond, why, explain in checks:
        chain_r = chain_r.when(cond.fill_null(False)).then(pl.lit(why))
        chain_d = chain_d.when(cond.fill_null(False)).then(explain)
    lf = lf.with_columns(chain_r.otherwise(None).alias("_reason"), chain_d.otherwise(None).alias("_detail"))

    # Duplicate (case, count number) within the file: later rows are quarantined.
    if "count_number" in v:
        key = [pl.col("_case"), count_text.cast(pl.Int64, strict=False)]
        dup = (
            pl.col("_reason").is_null() & count_text.is_not_null()
            & (pl.int_range(pl.len()).over(key, order_by="source_line") > 0)
        )
        first_line = pl.col("source_line").min().over(key)
        lf = lf.with_columns(
            pl.when(dup).then(pl.lit("duplicate_count")).otherwise(pl.col("_reason")).alias("_reason"),
            pl.when(dup).then(pl.format("same case and count number as line {}", first_line))
            .otherwise(pl.col("_detail")).alias("_detail"),
        )

    interpreted = lf.collect()
    quarantine = interpreted.filter(pl.col("_reason").is_not_null()).select(
        pl.lit(SOURCE).alias("source"), pl.lit(file).alias("source_file"), "source_line",
        pl.col("_reason").alias("reason"), pl.col("_detail").alias("detail"), "raw",
    )
    accepted = interpreted.filter(pl.col("_reason").is_null())

    disposition_class = dispositions.classify_disposition(
        v.get("disposition_code"), v.get("disposition"), codes=layout.disposition_codes
    )
    invalid_list = pl.concat_list([pl.when(invalid_date[f]).then(pl.lit(f)) for f in date_fields]).list.drop_nulls() \
        if date_fields else pl.lit([], dtype=pl.List(pl.String))
    out = accepted.lazy().select(
        *[
            (
                dates.to_iso(pl.col(f"_d_{f}")) if f in DATE_FIELDS and f in v
                else pl.col("_name_raw") if f == "name"
                else pl.col("_name").struct.field(f) if f in NAME_PART_FIELDS
                else v.get(f, null)
            ).alias(f)
            for f in CANONICAL_FIELDS
        ],
        pl.col("_name").struct.field("name_suffix").alias("name_suffix"),
        disposition_class.alias("disposition_class"),
        invalid_list.alias("invalid_fields"),
        pl.lit(SOURCE).alias("source"), pl.lit(file).alias("source_file"), "source_line",
    )
    rows = out.collect()
    return model.conform(rows, ROW_SCHEMA, extra=False), model.conform(quarantine, model.QUARANTINE, extra=False)


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


def read_court(
    paths: Sequence[str | os.PathLike],
    layout: Layout | str | os.PathLike,
    *,
    county: str,
    as_of: date | None = None,
    on_file: Callable[[dict], None] | None = None,
) -> CourtRead:
    """Read court extracts through a layout, with quarantine and per-file conservation.

    ``layout`` is a Layout or a layout name/path. ``county`` (slug, display or DOJ name) fills
    rows that have no county of their own. ``as_of`` is the compute-at date: it sets the century
    of two-digit years (normalize/dates.py); default today — pass it for reproducible runs.
    For ``sql`` layouts ``paths`` must be empty: rows come from the layout's query (sql.py).
    ``on_file`` is called with each file's stats row as it completes (progress display).

    A file that cannot be read at all (missing, no header, header without the layout's columns,
    not a workbook) raises InputError naming file and reason. Rows that cannot be read go to
    ``quarantine``.
    """
    if not isinstance(layout, Layout):
        layout = load_layout(layout)
    as_of_year = (as_of or date.today()).year
    county_name = doj_county_name(county)
    rows_frames, quarantine_frames, stats = [], [], []

    def finish(structured: _Structured, file: str) -> None:
        rows, quarantine = _interpret(structured, layout, file=file, as_of_year=as_of_year)
        rows = rows.with_columns(pl.col("county").fill_null(county_name))
        read = structured.frame.height
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

    if layout.kind == "sql":
        if paths:
            raise InputError(f"layout {layout.name!r} reads a database: give no files", kind="LAYOUT")
        from pipelines.sources.sql import read_query  # noqa: PLC0415

        table, label = read_query(layout.sql, county=county_name)
        finish(_table_structured(table, layout, label, 1, "sql"), label)
    else:
        for p in paths:
            path = Path(p)
            if not path.is_file():
                raise InputError("no such file", file=path.name, kind="OTHER")
            try:
                structured = _structure(path, layout)
            except OSError as exc:
                raise InputError(f"cannot read the file ({exc.strerror or exc})", file=path.name, kind="OTHER") from exc
            finish(structured, path.name)

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

_IDENTITY_FIELDS = ("cii", "ssn", "cdl", "dob", "last_name", "first_name")


def _rows_lazy(rows: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    lf = rows.lazy()
    have = lf.collect_schema().names()
    return lf.with_columns(
        *[pl.lit(None, dtype=dtype).alias(c) for c, dtype in ROW_SCHEMA.items() if c not in have]
    )


def _with_ids(lf: pl.LazyFrame, county: str) -> pl.LazyFrame:
    """Add _pos, county, case_number (normalized) and parts, case_id, person_id."""
    county_name = doj_county_name(county)
    parts = case_numbers.case_number_parts(pl.col("case_number"))
    lf = lf.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"),
        pl.col("county").str.strip_chars().str.to_uppercase().fill_null(county_name).alias("_county"),
        parts.alias("_case_parts"),
    ).with_columns(
        pl.col("_case_parts").struct.field("normalized").alias("_case"),
    ).with_columns(
        pl.format("court:{}:{}", "_county", "_case").alias("case_id"),
    )
    # Person: the court's own key; else one per distinct (name, dob) within the case, numbered in
    # order of first appearance ("<case>#1"): deterministic, and no personal data in the id.
    ident = [pl.col("_case"), pl.col("last_name"), pl.col("first_name"), pl.col("dob")]
    first_seen = pl.col("_pos").min().over(ident)
    rank = first_seen.rank("dense").over("_case")
    derived = pl.format("{}#{}", "_case", rank.cast(pl.Int64))
    key = pl.col("person_key").str.strip_chars().str.to_uppercase()
    key = pl.when(key != "").then(key)
    return lf.with_columns(
        pl.format("court:{}:{}", "_county", pl.coalesce(key, derived)).alias("person_id"),
        key.alias("_person_key"),
    )


def court_persons(rows: pl.DataFrame | pl.LazyFrame, *, county: str) -> pl.DataFrame:
    """One ``model.PERSON`` row per court person (then ``PERSON_EXTRAS``), sorted by person_id.

    person_id is ``court:<COUNTY>:<person key>`` with the court's own person key, or, when the
    layout has none, ``court:<COUNTY>:<case number>#<n>`` (n-th distinct name + DOB in the case).
    Each attribute is the first non-null value in file order; ``conflicting_fields`` names
    identity fields (CII, SSN, licence, DOB, names) that carry more than one distinct value.
    """
    lf = _with_ids(_rows_lazy(rows), county)
    dl = ids.dl_parts(pl.col("dl_number"))
    lf = lf.with_columns(
        ids.normalize_cii(pl.col("cii")).alias("cii"),
        ids.normalize_ssn(pl.col("ssn")).alias("ssn"),
        dl.struct.field("dl_number").alias("cdl"),
        dl.struct.field("dl_state").alias("dl_state"),
        ids.normalize_fbi(pl.col("fbi")).alias("fbi"),
        pl.col("dob").str.to_date("%Y-%m-%d", strict=False).alias("dob"),
        ids.normalize_gender(pl.col("gender")).alias("gender"),
        pl.col("name").alias("name_raw"),
    )
    attrs = ["cii", "ssn", "cdl", "dl_state", "fbi", "name_raw", "last_name", "first_name", "middle_name",
             "name_suffix", "dob", "gender", "race", "source", "source_file", "source_line"]
    persons = (
        lf.sort("_pos")
        .group_by("person_id")
        .agg(
            pl.col("_person_key").drop_nulls().first().alias("source_person_key"),
            pl.col("_county").first().alias("county"),
            *[pl.col(a).drop_nulls().first().alias(a) for a in attrs],
            pl.len().cast(pl.Int64).alias("rows"),
            pl.concat_list(
                [pl.when(pl.col(f).drop_nulls().n_unique() > 1).then(pl.lit(f)) for f in _IDENTITY_FIELDS]
            ).list.drop_nulls().alias("conflicting_fields"),
        )
        .with_columns(names.name_keys(pl.col("last_name"), pl.col("first_name")))
        .sort("person_id")
        .collect()
    )
    return model.conform(persons, {**model.PERSON, **PERSON_EXTRAS}, extra=False)


_UNIT = {"D": "d", "DAY": "d", "DAYS": "d", "M": "mo", "MO": "mo", "MONTH": "mo", "MONTHS": "mo",
         "Y": "y", "YR": "y", "YRS": "y", "YEAR": "y", "YEARS": "y"}


def _sentence_offset() -> pl.Expr:
    """"<n>d" / "<n>mo" / "<n>y" from sentence_length (+ sentence_unit, or a unit letter after the
    number: "16M"); null when unreadable."""
    length = pl.col("sentence_length").str.strip_chars().str.to_uppercase()
    groups = length.str.extract_groups(r"^(\d{1,5})\s*([A-Z]*)$")
    number = groups.struct.field("1").cast(pl.Int64, strict=False)
    unit_text = pl.coalesce(
        pl.col("sentence_unit").str.strip_chars().str.to_uppercase(),
        pl.when(groups.struct.field("2") != "").then(groups.struct.field("2")),
    )
    unit = unit_text.replace_strict(_UNIT, default=None, return_dtype=pl.String)
    return pl.when(number.is_not_null() & unit.is_not_null()).then(pl.format("{}{}", number, unit))


def court_counts(rows: pl.DataFrame | pl.LazyFrame, *, county: str) -> pl.DataFrame:
    """One ``model.COUNT`` row per court count (then ``COUNT_EXTRAS``), sorted by count_id.

    - ids: case_id ``court:<COUNTY>:<normalized case number>``; count_id ``<case_id>:<n>`` where
      n is the extract's count number, else the rank of the charge within the case in the file's
      order; person_id as in court_persons; cycle_id = case_id; step_type ``COURT``.
    - Overlapping extracts: when several files hold the same count_id, the row from the file
      given last wins (files are expected in refresh order).
    - code/section/subsection from the charge (normalize/sections.py); when the charge is blank,
      from the first statute named in the comment. comment_sections lists the other statutes the
      comment names.
    - disposition from the layout's code table and the description (normalize/dispositions.py);
      is_conviction only for ``convicted``; event_date is the disposition date for convictions,
      else the disposition, filing or offense date; sentence_end = event_date + sentence (the
      event date itself when no sentence is readable; null when not a conviction).
    - level F/M/I and is_wobbler from the charge level (normalize/levels.py).
    """
    from pipelines.normalize.sections import find_statutes, parse_statute  # noqa: PLC0415

    lf = _with_ids(_rows_lazy(rows), county)
    # Count number: the extract's, else rank within (file, case) in line order.
    ordinal = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(["source_file", "case_id"], order_by="_pos")
    explicit = pl.col("count_number").str.strip_chars().cast(pl.Int64, strict=False)
    lf = lf.with_columns(pl.coalesce(explicit, ordinal).cast(pl.Int32).alias("_count"))
    lf = lf.with_columns(pl.format("{}:{}", "case_id", "_count").alias("count_id"))
    # Later files supersede earlier ones for the same count.
    file_rank = pl.col("_pos").min().over("source_file")
    lf = lf.with_columns(file_rank.alias("_file_rank")).sort("_file_rank", "_pos").unique(
        subset="count_id", keep="last", maintain_order=True
    )

    # Statutes on distinct texts only (charges repeat a lot).
    charge = pl.col("charge").str.strip_chars()
    lf = lf.with_columns(charge.alias("_charge"))
    charges = lf.select("_charge").unique().with_columns(parse_statute(pl.col("_charge")).alias("_st"))
    comments = (
        lf.select("comment").unique().filter(pl.col("comment").is_not_null())
        .with_columns(find_statutes(pl.col("comment")).alias("_comment_statutes"))
    )
    lf = lf.join(charges, on="_charge", how="left", nulls_equal=True).join(comments, on="comment", how="left")
    comment_first = pl.col("_comment_statutes").list.first()
    lf = lf.with_columns(
        pl.when(pl.col("_st").struct.field("section").is_null() & pl.col("_charge").is_null())
        .then(comment_first).alias("_comment_charge")
    )
    from_comment = (
        lf.select("_comment_charge").unique().filter(pl.col("_comment_charge").is_not_null())
        .with_columns(parse_statute(pl.col("_comment_charge")).alias("_st_c"))
    )
    lf = lf.join(from_comment, on="_comment_charge", how="left")
    use_comment = pl.col("_comment_charge").is_not_null()
    st = pl.when(use_comment).then(pl.col("_st_c")).otherwise(pl.col("_st"))
    lf = lf.with_columns(st.alias("_statute"))
    own = pl.col("_statute").struct.field("statute")

    disposition = pl.coalesce(
        pl.col("disposition_class"),
        dispositions.classify_disposition(pl.col("disposition_code"), pl.col("disposition")),
    )
    lf = lf.with_columns(
        disposition.alias("disposition"),
        pl.col("disposition").alias("disposition_text"),
        *[pl.col(f).str.to_date("%Y-%m-%d", strict=False).alias(f"_{f}") for f in ("disposition_date", "filed_date", "offense_date")],
    )
    convicted = dispositions.is_conviction(pl.col("disposition"))
    event_date = pl.when(convicted).then(pl.col("_disposition_date")).otherwise(
        pl.coalesce("_disposition_date", "_filed_date", "_offense_date")
    )
    level = levels.normalize_level(pl.col("charge_level"))
    offset = _sentence_offset()
    out = lf.select(
        "count_id",
        "person_id",
        "case_id",
        pl.col("case_id").alias("cycle_id"),
        pl.col("_county").alias("county"),
        pl.col("case_number").alias("case_numbers"),
        pl.col("_case").alias("case_number"),
        pl.col("_count").alias("count_number"),
        pl.lit("COURT").alias("step_type"),
        event_date.alias("event_date"),
        pl.when(use_comment).then(pl.col("_comment_charge")).otherwise(pl.col("_charge")).alias("offense_text"),
        pl.col("comment").alias("comment_text"),
        pl.col("_statute").struct.field("code").alias("code"),
        pl.col("_statute").struct.field("section").alias("section"),
        pl.col("_statute").struct.field("subsection").alias("subsection"),
        pl.col("_comment_statutes").fill_null([]).list.set_difference(pl.concat_list(own).list.drop_nulls())
        .alias("comment_sections"),
        level.alias("level"),
        (level == "F").fill_null(False).alias("is_felony"),
        "disposition",
        "disposition_text",
        convicted.alias("is_conviction"),
        pl.when(convicted & event_date.is_not_null()).then(
            pl.when(offset.is_not_null()).then(event_date.dt.offset_by(offset)).otherwise(event_date)
        ).alias("sentence_end"),
        pl.lit(None, dtype=pl.Int64).alias("row_index"),
        "source", "source_file", "source_line",
        # extras
        pl.col("courthouse"),
        pl.col("charge_description"),
        pl.col("_case_parts").struct.field("defendant_suffix").alias("defendant_suffix"),
        pl.col("_case_parts").struct.field("base").alias("case_number_base"),
        levels.is_wobbler(pl.col("charge_level")).alias("is_wobbler"),
        pl.col("charge_level"),
        pl.col("_offense_date").alias("offense_date"),
        pl.col("_filed_date").alias("filed_date"),
        pl.col("_disposition_date").alias("disposition_date"),
        pl.col("disposition_code"),
        pl.col("sentence_length"),
        pl.col("sentence_unit"),
        pl.when(use_comment).then(pl.lit("comment"))
        .when(pl.col("_statute").struct.field("section").is_not_null()).then(pl.lit("charge"))
        .alias("statute_source"),
        pl.col("_person_key").alias("person_key"),
    ).sort("count_id")
    return model.conform(out.collect(), {**model.COUNT, **COUNT_EXTRAS}, extra=False)


# ---------------------------------------------------------------------------------------------
# Field quality (check-layout): how each field normalized, counts only


def field_quality(rows: pl.DataFrame, layout: Layout, *, case_number_pattern: str | None = None) -> pl.DataFrame:
    """Per mapped field: rows where it is missing, valid, invalid (counts only, no values).

    Dates: invalid = present but unreadable (``invalid_fields``). Identifiers, levels, case
    numbers and statutes: invalid = present but the normalizer rejects it (or the case number does
    not fit ``case_number_pattern``). Names: invalid = no surname could be read.
    """
    from pipelines.normalize.sections import parse_statute  # noqa: PLC0415

    def present(c: str) -> pl.Expr:
        return pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "")

    valid: dict[str, pl.Expr] = {
        "case_number": case_numbers.matches_pattern(
            case_numbers.normalize_case_number(pl.col("case_number")), case_number_pattern
        ).fill_null(False),
        "cii": ids.normalize_cii(pl.col("cii")).is_not_null(),
        "ssn": ids.normalize_ssn(pl.col("ssn")).is_not_null(),
        "dl_number": ids.normalize_dl(pl.col("dl_number")).is_not_null(),
        "fbi": ids.normalize_fbi(pl.col("fbi")).is_not_null(),
        "gender": ids.normalize_gender(pl.col("gender")).is_not_null(),
        "charge_level": levels.normalize_level(pl.col("charge_level")).is_not_null(),
        "charge": parse_statute(pl.col("charge")).struct.field("section").is_not_null(),
        "count_number": pl.col("count_number").str.contains(r"^\s*\d{1,6}\s*$").fill_null(False),
        "disposition": pl.col("disposition_class") != "unknown",
        "disposition_code": pl.col("disposition_class") != "unknown",
        "name": pl.col("last_name").is_not_null(),
        "last_name": pl.col("last_name").is_not_null(),
        "first_name": pl.col("first_name").is_not_null(),
        "sentence_length": pl.col("sentence_length").str.contains(r"^\s*\d{1,5}\s*[A-Za-z]*\s*$").fill_null(False),
    }
    exprs = []
    for fname in layout.fields:
        if fname in DATE_FIELDS:
            is_present = present(fname) | pl.col("invalid_fields").list.contains(fname)
            ok = present(fname)
        else:
            is_present = present(fname)
            ok = valid.get(fname, pl.lit(True))
        exprs += [
            (~is_present).sum().alias(f"{fname}|missing"),
            (is_present & ok).sum().alias(f"{fname}|valid"),
            (is_present & ~ok).sum().alias(f"{fname}|invalid"),
        ]
    if not exprs or rows.height == 0:
        return pl.DataFrame(
            {"field": list(layout.fields), "missing": [0] * len(layout.fields), "valid": [0] * len(layout.fields),
             "invalid": [0] * len(layout.fields)},
            schema={"field": pl.String, "missing": pl.Int64, "valid": pl.Int64, "invalid": pl.Int64},
        )
    totals = rows.select(exprs).row(0, named=True)
    return pl.DataFrame(
        [
            {"field": f, "missing": totals[f"{f}|missing"], "valid": totals[f"{f}|valid"], "invalid": totals[f"{f}|invalid"]}
            for f in layout.fields
        ],
        schema={"field": pl.String, "missing": pl.Int64, "valid": pl.Int64, "invalid": pl.Int64},
    )
