"""Fuzz targets: each takes raw bytes and exercises one reader (or the normalizers) end to end.

A target returns quietly when the input is handled: read (with quarantine) or refused with the
reader's own error, ``pipelines.errors.InputError``. Anything else escapes and is a finding: an
exception of another type (a crash, a Polars error, a ConservationError), or a broken invariant
(AssertionError):

- rows read = rows accepted + rows quarantined, per file and in total, and the frames have those
  heights; every quarantined row has a reason;
- the canonical conversion (persons, counts) and the flow's whole-file checks accept whatever
  the reader accepted, with one count per (person, count) and one person per person key;
- normalizers keep one output per input and only produce values of their documented domain, and
  their fast paths agree with their general form.

Table-shaped inputs (Excel, Parquet, SQL) are decoded from the bytes by ``decode_table`` so that
the fuzzer explores cell values and types rather than zip or Parquet framing; one mode byte also
feeds the raw bytes, or a damaged copy of a valid file, to the reader.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import model
from pipelines.errors import InputError
from pipelines.normalize import case_numbers, dates, dispositions, ids, levels, names, sections
from pipelines.sources import checks
from pipelines.sources.court import Layout, court_counts, court_persons, read_court
from pipelines.sources.doj import doj_counts, doj_persons, read_doj

COUNTY = "LOS ANGELES"
AS_OF = date(2020, 7, 1)
GENERIC_COLUMNS = (
    "court_case_number", "courthouse", "count_number", "person_key", "defendant_name", "dob", "gender", "race",
    "cii", "ssn", "dl_number", "charge", "charge_level", "charge_description", "offense_date",
    "disposition_code", "disposition", "disposition_date", "sentence_length", "sentence_unit", "comment",
)

_SCRATCH: Path | None = None


def scratch() -> Path:
    """A private temporary folder for this process (removed at exit)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = Path(tempfile.mkdtemp(prefix="autoclear-fuzz-"))
        atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
    return _SCRATCH


# ---------------------------------------------------------------------------------------------
# Invariants shared by every reader


def _conserved(stats: pl.DataFrame, rows: pl.DataFrame, quarantine: pl.DataFrame) -> None:
    for file, read, accepted, quarantined in stats.select(
        "source_file", "rows_read", "rows_accepted", "rows_quarantined"
    ).iter_rows():
        assert read == accepted + quarantined, f"{file}: {read} read != {accepted} accepted + {quarantined} quarantined"
        assert min(read, accepted, quarantined) >= 0
    assert rows.height == int(stats["rows_accepted"].sum() or 0), "accepted rows lost or added"
    assert quarantine.height == int(stats["rows_quarantined"].sum() or 0), "quarantined rows lost or added"
    assert quarantine["reason"].null_count() == 0, "a quarantined row without a reason"
    assert rows["source_line"].null_count() == 0, "an accepted row without its line"
    assert quarantine.schema == pl.Schema(model.QUARANTINE)


def _whole_file_check(check: Callable[[], None]) -> None:
    with contextlib.suppress(InputError):  # a refused file is a handled outcome
        check()


# ---------------------------------------------------------------------------------------------
# DOJ research file


def fuzz_doj(data: bytes) -> None:
    """The DOJ reader on arbitrary bytes; the first byte picks strict or quarantine mode."""
    mode = "strict" if data[:1] and data[0] & 1 else "quarantine"
    path = scratch() / "research.dat"
    path.write_bytes(data[1:])
    try:
        read = read_doj([path], mode=mode)
    except InputError:
        return
    _conserved(read.stats, read.rows, read.quarantine)
    if mode == "strict":
        assert read.quarantine.height == 0, "strict mode quarantined instead of refusing"
    counts = doj_counts(read.rows)
    persons = doj_persons(read.rows)
    assert counts.height == read.rows.select("SUBJECT_ID", "CNT_ORDER").n_unique() if read.rows.height else True
    assert persons.height == read.rows["SUBJECT_ID"].n_unique()
    assert counts["count_id"].is_unique().all() and persons["person_id"].is_unique().all()
    _whole_file_check(lambda: checks.check_doj_read(read.stats, counts, county=COUNTY))


# ---------------------------------------------------------------------------------------------
# Court extracts: text layouts

# A headerless pipe-delimited layout located by index, without quoting: the other delimited path.
_PIPE_LAYOUT = Layout.model_validate({
    "name": "fuzz_pipe", "kind": "delimited", "delimiter": "|", "quote_char": None, "header": False,
    "fields": {
        "case_number": {"index": 0}, "count_number": {"index": 1}, "name": {"index": 2, "format": "LAST/FIRST/MIDDLE"},
        "dob": {"index": 3, "format": "MM/DD/YY"}, "charge": {"index": 4}, "disposition": {"index": 5},
        "disposition_date": {"index": 6, "format": "MMDDYYYY"}, "comment": {"index": 7},
    },
})


def _check_court(read: Any) -> None:
    _conserved(read.stats, read.rows, read.quarantine)
    counts = court_counts(read.rows, county=COUNTY)
    persons = court_persons(read.rows, county=COUNTY)
    assert counts.height <= read.rows.height, "more counts than accepted rows"
    assert counts["count_id"].is_unique().all() and persons["person_id"].is_unique().all()
    assert counts.filter(pl.col("case_number").is_null()).height == 0, "a count without a case number"
    _whole_file_check(lambda: checks.check_court_read(read.stats, counts, None, county=COUNTY))


def _read_court_file(data: bytes, suffix: str, layout: Layout | str) -> None:
    path = scratch() / f"extract{suffix}"
    path.write_bytes(data)
    try:
        read = read_court([path], layout, county=COUNTY, as_of=AS_OF)
    except InputError:
        return
    _check_court(read)


def fuzz_court_delimited(data: bytes) -> None:
    """A delimited extract; the first byte picks the layout (generic CSV, San Francisco, pipes)."""
    layouts: list[Layout | str] = ["generic_csv", "sf_cms", _PIPE_LAYOUT]
    pick = layouts[data[0] % len(layouts)] if data else layouts[0]
    _read_court_file(data[1:], ".csv", pick)


def fuzz_court_fixed_width(data: bytes) -> None:
    """A fixed-width extract in the legacy layout (Latin-1, 376-character records)."""
    _read_court_file(data, ".txt", "legacy_fixed_width")


# ---------------------------------------------------------------------------------------------
# Table-shaped inputs, decoded from bytes


class ByteReader:
    """Consumes bytes as small integers, texts and numbers; past the end everything is zero."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk.ljust(n, b"\0")

    def text(self, limit: int = 24) -> str:
        return self.take(self.byte() % (limit + 1)).decode("utf-8", errors="replace")


# Plausible values per generic column, so that the fuzzer reaches the accepted-row paths.
_POOL: dict[str, tuple[str, ...]] = {
    "court_case_number": ("BA336486", "GA039399-01", "KA057009", "13F07014", "93WF1745", "SS102036B", "0000", " "),
    "courthouse": ("CENTRAL", "PASADENA", "POMONA"),
    "count_number": ("1", "2", "01", "-1", "1.5", "999999", "x"),
    "person_key": ("P001", "P002", "38987134", ""),
    "defendant_name": ("GARCIA LOPEZ, MARIA ELENA", "O'BRIEN, SEAN JR", "SMITH", ",", "DE LA CRUZ,JOSE", "/"),
    "dob": ("1970-03-14", "03/14/1970", "19700314", "0000-00-00", "2070-01-01", "1970-02-30"),
    "gender": ("M", "F", "X", "U", "male"),
    "race": ("HISPANIC", "BLACK", "WHITE"),
    "cii": ("A12345678", "12345679", "000000000", "1"),
    "ssn": ("765894322", "123-45-6789", "000000000", "987654321"),
    "dl_number": ("F1234567 CA", "A2483491", "X"),
    "charge": ("11357(C)HS", "HS 11358", "11360(A)HS", "H&S11350(A)", "PC 484", "11359", ""),
    "charge_level": ("F", "M", "I", "FEL", "MISD", "W", "?"),
    "charge_description": ("POSSESS MARIJUANA", "SALE MARIJUANA"),
    "offense_date": ("2001-01-02", "1/2/2001", "2001-13-01", "1899-12-31", "2001-01-02T10:00:00"),
    "disposition_code": ("C", "D", "GP", "190", " 190"),
    "disposition": ("CONVICTED-JAIL", "DISMISSED PER PLEA", "GUILTY PLEA", "NOT GUILTY", "PENDING", ""),
    "disposition_date": ("2001-04-20", "2001-4-20", "04/20/2001", "2001/04/20", "2030-01-01", ""),
    "sentence_length": ("30", "3", "0", "-5", "1e9", "99999999999999999999"),
    "sentence_unit": ("D", "M", "Y", "H", ""),
    "comment": (":CHRG 11359 HS", "ALSO 11357(B) HS", "SEE 11360", ""),
}


def _cell(r: ByteReader, column: str) -> Any:
    tag = r.byte() % 8
    pool = _POOL[column]
    if tag == 0:
        return None
    if tag == 1:
        return ""
    if tag in (2, 7):
        value = pool[r.byte() % len(pool)]
        if tag == 7 and value:  # a typing slip: one character replaced
            at = r.byte() % len(value)
            value = value[:at] + chr(r.byte() % 128) + value[at + 1:]
        return value
    if tag == 3:
        return r.text()
    if tag == 4:
        return struct.unpack("<i", r.take(4))[0]
    if tag == 5:
        return struct.unpack("<d", r.take(8))[0]
    return date(1900, 1, 1) + timedelta(days=struct.unpack("<H", r.take(2))[0] % 60_000)


def decode_table(r: ByteReader) -> tuple[list[str], list[list[Any]]]:
    """A header and rows of cells (None, text, int, float, date) decoded from the bytes.

    The header is the generic layout's, with a column sometimes dropped or renamed (a missing
    column is the reader's InputError); cells mix types as a hand-kept spreadsheet does."""
    header = list(GENERIC_COLUMNS)
    flags = r.byte()
    if flags & 1:
        header.pop(r.byte() % len(header))
    if flags & 2:
        at = r.byte() % len(header)
        header[at] = f"  {header[at].upper()} "
    rows = [[_cell(r, c.strip().lower()) for c in header] for _ in range(r.byte() % 12)]
    return header, rows


def _damage(valid: bytes, r: ByteReader) -> bytes:
    """A valid file with a few bytes overwritten and maybe cut short."""
    out = bytearray(valid)
    for _ in range(r.byte() % 8):
        if out:
            out[int.from_bytes(r.take(3), "little") % len(out)] = r.byte()
    if r.byte() & 1 and out:
        del out[int.from_bytes(r.take(3), "little") % len(out):]
    return bytes(out)


def _excel_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    import xlsxwriter  # noqa: PLC0415

    path = scratch() / "build.xlsx"
    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(i, j, value, date_format)
            elif value is not None:
                sheet.write(i, j, value)
    book.close()
    return path.read_bytes()


def check_excel(header: list[str], rows: list[list[Any]]) -> None:
    """Write the table as an .xlsx workbook and read it through generic_xlsx."""
    _read_court_file(_excel_bytes(header, rows), ".xlsx", "generic_xlsx")


def fuzz_court_excel(data: bytes) -> None:
    """An Excel extract: raw bytes, a decoded table, or a damaged copy of one (first byte)."""
    mode, rest = (data[0] % 3, data[1:]) if data else (1, b"")
    if mode == 0:
        _read_court_file(rest, ".xlsx", "generic_xlsx")
        return
    r = ByteReader(rest)
    header, rows = decode_table(r)
    valid = _excel_bytes(header, rows)
    _read_court_file(valid if mode == 1 else _damage(valid, r), ".xlsx", "generic_xlsx")


def _column(values: list[Any], kind: int) -> pl.Series:
    """One Parquet column of a single type (kind 0 text, 1 int, 2 float, 3 date, 4 all null)."""
    def as_kind(v: Any) -> Any:
        if v is None or kind == 4:
            return None
        if kind == 0:
            return v.isoformat() if isinstance(v, date) else str(v)
        if kind == 1:
            return v if isinstance(v, int) else None
        if kind == 2:
            return float(v) if isinstance(v, int | float) else None
        return v if isinstance(v, date) else None
    dtype = (pl.String, pl.Int64, pl.Float64, pl.Date, pl.String)[kind]
    return pl.Series([as_kind(v) for v in values], dtype=dtype)


def check_parquet(header: list[str], rows: list[list[Any]], kinds: list[int]) -> bytes:
    """Write the table as Parquet (one type per column, ``kinds``) and read it through generic_parquet."""
    path = scratch() / "build.parquet"
    frame = pl.DataFrame({
        name: _column([row[j] for row in rows], kinds[j % len(kinds)] if kinds else 0)
        for j, name in enumerate(dict.fromkeys(header))
    })
    frame.write_parquet(path)
    valid = path.read_bytes()
    _read_court_file(valid, ".parquet", "generic_parquet")
    return valid


def fuzz_court_parquet(data: bytes) -> None:
    """A Parquet extract: raw bytes, a decoded table, or a damaged copy of one (first byte)."""
    mode, rest = (data[0] % 3, data[1:]) if data else (1, b"")
    if mode == 0:
        _read_court_file(rest, ".parquet", "generic_parquet")
        return
    r = ByteReader(rest)
    header, rows = decode_table(r)
    kinds = [r.byte() % 5 for _ in header]
    valid = check_parquet(header, rows, kinds)
    if mode == 2:
        _read_court_file(_damage(valid, r), ".parquet", "generic_parquet")


def check_sql(header: list[str], rows: list[list[Any]]) -> None:
    """Load the table into SQLite (cells keep their mixed types) and read it through generic_sql."""
    db = scratch() / "cms.sqlite"
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        columns = list(dict.fromkeys(header))
        conn.execute(f"CREATE TABLE cms_charges ({', '.join(chr(34) + c + chr(34) for c in columns)})")
        def cell(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v.isoformat() if isinstance(v, date) else v
        conn.executemany(
            f"INSERT INTO cms_charges VALUES ({', '.join('?' for _ in columns)})",
            [[cell(row[header.index(c)]) for c in columns] for row in rows],
        )
    os.environ["AUTOCLEAR_CMS_URL"] = f"sqlite:///{db}"
    try:
        read = read_court([], "generic_sql", county=COUNTY, as_of=AS_OF)
    except InputError:
        return
    _check_court(read)


def fuzz_court_sql(data: bytes) -> None:
    """A CMS database table (SQLite file) read through the generic_sql layout's query."""
    header, rows = decode_table(ByteReader(data))
    check_sql(header, rows)


# ---------------------------------------------------------------------------------------------
# Normalizers


def check_normalizers(values: list[str | None]) -> None:
    """Every normalizer on the values: one output per input, values in their domain, and the
    fast paths agreeing with the general ones."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    v = pl.col("v")
    n = frame.height

    for fmt in names.NAME_FORMATS:
        parsed = frame.select(names.parse_name(v, fmt).alias("p")).unnest("p")
        assert parsed.height == n
        for part in ("last_name", "first_name", "middle_name"):
            blank = parsed.filter(pl.col(part).is_not_null() & (pl.col(part).str.strip_chars() == ""))
            assert blank.height == 0, f"{fmt}: a blank {part} instead of null"

    for fmt in dates.DATE_FORMATS:
        parsed = frame.select(dates.parse_date(v, fmt, pivot_year=2020).alias("d"))["d"]
        assert parsed.len() == n
        years = parsed.drop_nulls().dt.year()
        assert years.len() == 0 or (years.min() >= dates.EARLIEST_YEAR and years.max() <= 2021), fmt
        if fmt not in dates.TWO_DIGIT_YEAR_FORMATS:
            fast = frame.select(dates.parse_four_digit_year(v, fmt, latest_year=2021).alias("d"))["d"]
            assert fast.equals(parsed), f"{fmt}: the fast path disagrees with parse_date"

    keys = case_numbers.case_number_keys(frame, "v")
    assert keys.height == n
    general = frame.select(case_numbers.normalize_case_number(v).alias("n"))["n"]
    assert keys["normalized"].equals(general), "case_number_keys disagrees with normalize_case_number"

    out = frame.select(
        ids.normalize_cii(v).alias("cii"), ids.normalize_ssn(v).alias("ssn"), ids.normalize_dl(v).alias("dl"),
        ids.normalize_fbi(v).alias("fbi"), ids.normalize_gender(v).alias("gender"),
        levels.normalize_level(v).alias("level"), levels.is_wobbler(v).alias("wobbler"),
        dispositions.classify_disposition(v, v).alias("disposition"),
        dispositions.classify_disposition(None, v).alias("by_text"),
        sections.parse_statute(v).alias("statute"), sections.find_statutes(v).alias("found"),
    )
    assert out.height == n
    # CII: 9 digits (zero-padded), or 10 when written so (normalize/ids.py); never all zeros.
    assert out.filter(~pl.col("cii").str.contains(r"^\d{9,10}$") | pl.col("cii").str.contains(r"^0+$")).height == 0
    assert out.filter(~pl.col("ssn").str.contains(r"^\d{9}$")).height == 0
    assert out["gender"].drop_nulls().is_in(["M", "F", "X"]).all()
    assert out["level"].drop_nulls().is_in(list(model.LEVELS)).all()
    assert out["disposition"].is_in(list(model.DISPOSITIONS)).all() and out["by_text"].null_count() == 0
    for value, statute, found in zip(values[:8], out["statute"][:8], out["found"][:8], strict=False):
        one = sections.parse_statute_text(value)
        assert (one is None) == (statute is None or statute["section"] is None), "parse_statute_text disagrees"
        assert sections.find_statutes_text(value) == (found.to_list() if found is not None else [])


def fuzz_normalizers(data: bytes) -> None:
    """Values split from the bytes (NUL separates them; a lone 0xFF byte is a null)."""
    parts = data.split(b"\0")[:64]
    check_normalizers([None if p == b"\xff" else p.decode("utf-8", errors="replace") for p in parts])


TARGETS: dict[str, Callable[[bytes], None]] = {
    "doj": fuzz_doj,
    "court_delimited": fuzz_court_delimited,
    "court_fixed_width": fuzz_court_fixed_width,
    "court_excel": fuzz_court_excel,
    "court_parquet": fuzz_court_parquet,
    "court_sql": fuzz_court_sql,
    "normalizers": fuzz_normalizers,
}
