"""The DOJ research file: read it (with quarantine) and turn it into canonical persons and counts.

    read = read_doj(["county.dat"])                    # DojRead(rows, quarantine, stats)
    persons = doj_persons(read.rows)                   # model.PERSON, one row per SUBJECT_ID
    counts = doj_counts(read.rows)                     # model.COUNT + extras, one per count
    loaded = load_doj(["county.dat"])                  # the same three steps, rows released early

The file (DOMAIN.md section 3) is comma-separated with double-quote quoting and exactly 95 fields
per row; a header row (starting with ``RECORD_ID``) is optional and may end with a stray comma.

How a file is read, without a Python loop over rows. A well-formed file (the usual case) is
scanned once in blocks for the byte checks of step 1 below (NUL bytes, quotes at field edges, lines,
commas), in reused buffers, then parsed whole by Polars, which reads the file itself in parallel
(``_read_file_quickly``); the parse and the separator count finish the proof. Otherwise (or when
``raw_lines`` are asked for) the file is cut into blocks of whole lines (about 64 MB; two are
worked on at once), and each block is:

1. parsed directly with Polars ``read_csv`` (every column String, values exactly as written,
   empty fields ``""``) when that is provably safe: no NUL byte, every quote at a field edge,
   exactly 94 separators per line, one row per line and DOJ's END_OF_REC marker on every row
   (see ``_read_block_quickly``). This is the common case and needs no per-line work. Otherwise:
2. read as one text column of physical lines (``read_csv`` with a separator byte that does not
   occur and no quoting); each line is checked with one regular expression for "exactly 95
   well-formed CSV fields". Bad lines are explained (field count, unterminated quote, quote
   inside an unquoted field, NUL byte) and quarantined, or fail the file in strict mode. Empty
   lines carry no data and are skipped (counted in ``stats.blank_lines``), as the incumbent did.
   The good lines are then parsed as in 1.

Invalid UTF-8 (old Latin-1 files) is replaced, never fatal; such files are reported with encoding
``"latin-1 (lossy)"``. A quoted field spanning several lines is not supported: the DOJ format
has none, and each part is quarantined as an unterminated quote.

Garbage is rejected early, with bounded memory: a line longer than 4 MB, or 16 MB read without a
single DOJ row but with unreadable lines, stops the file with InputError (a 10 GB file of binary
data is refused after its first block, not read whole).

Memory: Polars keeps 16 bytes per string value, so the raw rows cost about 1 GB per 2M rows for
the 21 columns the canonical frames need (``columns=CANONICAL_INPUT_COLUMNS``) and about 4x that
for all 95. ``load_doj`` gives the rows back as soon as persons and counts no longer need them.

Persons and counts follow the incumbent tool's semantics (gogen data/doj_row.go, subject.go);
a DOJ file lists each person's rows together, so persons, counts and cases are runs of rows and
are found with prefix sums instead of hash grouping (files that are not in that order are
sorted first, with the same result).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from pipelines import model
from pipelines.errors import ConservationError, InputError
from pipelines.normalize.sections import find_statutes, parse_statute
from pipelines.sources.lines import BOM, absent_separator, read_lines, split_lines

SOURCE = "doj"
RAW_LINE = "raw_line"  # read_doj(raw_lines=True): the accepted line exactly as written
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
    raw_lines: bool = False,
) -> DojRead:
    """Read DOJ research files.

    ``mode="quarantine"`` (default): unreadable lines go to ``quarantine`` with reason, detail
    and raw text; the rest are read. ``mode="strict"``: the first unreadable line raises
    InputError naming file, line and field count (``kind="PARSING"``). A missing or unreadable
    file raises InputError (``kind="OTHER"``); a header that does not name the DOJ columns raises
    InputError in both modes. ``columns`` restricts ``rows`` to those DOJ columns (default: all).
    ``raw_lines=True`` adds column ``raw_line``: each accepted row's line exactly as written
    (without the line end), for writers that echo the input (the incumbent-compatible outputs).
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
        rows, quarantine, stat = _read_file(Path(path), mode, keep, raw_lines)
        frames.append(rows)
        quarantines.append(quarantine)
        stats.append(stat)

    rows = pl.concat(frames, how="vertical", rechunk=False) if frames else _empty_rows(keep, raw_lines)
    rows = rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_index"))
    quarantine = pl.concat(quarantines, how="vertical") if quarantines else model.empty(model.QUARANTINE)
    stats_frame = pl.DataFrame(stats, schema=STATS)
    if rows.height != stats_frame["rows_accepted"].sum() or quarantine.height != stats_frame["rows_quarantined"].sum():
        raise ConservationError("DOJ read: accepted/quarantined rows do not add up to the per-file counts")
    return DojRead(rows=rows, quarantine=quarantine, stats=stats_frame)


@dataclass
class DojCanonical:
    """What load_doj returns: the canonical frames, the quarantine and the per-file stats."""

    persons: pl.DataFrame
    counts: pl.DataFrame
    quarantine: pl.DataFrame
    stats: pl.DataFrame


def load_doj(paths: Sequence[str | Path], *, mode: Literal["quarantine", "strict"] = "quarantine") -> DojCanonical:
    """read_doj + doj_persons + doj_counts for callers that need only the canonical frames.

    The raw rows are given back as soon as each step is done with them, so the peak memory is
    about that of the rows or of the counts, not of both: the person columns go once each
    person's first row is taken, and the persons are worked out beside the counts.
    """
    read = read_doj(paths, mode=mode, columns=CANONICAL_INPUT_COLUMNS)
    quarantine, stats, holder = read.quarantine, read.stats, [read.rows]
    del read
    first = _first_rows(holder[0])
    holder[0] = holder[0].select(*_COUNT_COLUMNS, *model.LINEAGE, "row_index")  # person columns go
    with ThreadPoolExecutor(max_workers=1) as pool:
        persons = pool.submit(_persons, first)
        del first
        counts = _counts(holder)
        return DojCanonical(persons=persons.result(), counts=counts, quarantine=quarantine, stats=stats)


# ---------------------------------------------------------------------------------------------
# Reading one file, in blocks of whole lines (bounded memory; two blocks are worked at once)

_BLOCK_BYTES = 64 << 20
# Garbage is rejected early, before it is read whole: a line longer than this, or this many bytes
# read without a single DOJ row (but with unreadable lines), stops the file with InputError.
_MAX_LINE_BYTES = 4 << 20
_GARBAGE_BYTES = 16 << 20


def _empty_rows(keep: list[str], raw_lines: bool = False) -> pl.DataFrame:
    raw = {RAW_LINE: pl.String} if raw_lines else {}
    return pl.DataFrame(schema={**{c: pl.String for c in keep}, **model.LINEAGE, **raw})


def _too_long(name: str) -> InputError:
    return InputError(
        f"a line longer than {_MAX_LINE_BYTES >> 20} MB (a DOJ row is about 1 KB): binary data or not a "
        "DOJ research file; reading stopped", file=name, kind="PARSING",
    )


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in blocks of about _BLOCK_BYTES that end at a line end (or the file end).

    A line longer than _MAX_LINE_BYTES raises InputError at once: garbage without line ends is
    never read whole into memory."""
    buffer = bytearray(_BLOCK_BYTES)
    view = memoryview(buffer)
    with path.open("rb") as f:
        while n := f.readinto(buffer):
            cut = buffer.rfind(b"\n", 0, n) + 1
            if n < _BLOCK_BYTES:  # the file's last block
                cut = n
            elif cut == 0:  # one line longer than a block: grow it, within limits
                if n > _MAX_LINE_BYTES:
                    raise _too_long(path.name)
                rest = f.readline(_MAX_LINE_BYTES - n + 1)
                if n + len(rest) > _MAX_LINE_BYTES:
                    raise _too_long(path.name)
                yield bytes(view[:n]) + rest
                continue
            yield bytes(view[:cut])
            f.seek(cut - n, 1)  # the next block starts after this one's last line end


def _lines(data: bytes) -> tuple[pl.DataFrame, bool]:
    """The lines of a block as one String column "line" (null for an empty line), and whether
    invalid UTF-8 had to be replaced."""
    n_lines = data.count(b"\n") + (not data.endswith(b"\n"))
    sep = absent_separator(data)
    frame = None
    if sep is not None:
        frame, lossy = read_lines(data, sep, "line", empty_is_null=True)
        if frame.width != 1 or frame.height != n_lines:
            frame = None
    if frame is None:  # every candidate separator byte occurs (not a text file): split it here
        frame, lossy = split_lines(data, "line")
    return frame, lossy


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


def _parse(source: bytes | io.BytesIO | Path, *, skip_lines: int, keep: list[str], lossy: bool) -> pl.DataFrame:
    """Well-formed 95-field lines -> the kept DOJ columns as String, values exactly as written."""
    index = {c: i for i, c in enumerate(model.DOJ_COLUMNS)}
    return pl.read_csv(
        source,
        has_header=False,
        skip_lines=skip_lines,
        schema={c: pl.String for c in model.DOJ_COLUMNS},
        columns=[index[c] for c in keep],
        empty_string_is_null=False,
        encoding="utf8-lossy" if lossy else "utf8",  # strict UTF-8 parses faster
        raise_if_empty=False,
    ).select(keep)


@dataclass
class _Block:
    rows: pl.DataFrame  # kept columns + source_line
    quarantine: pl.DataFrame  # model.QUARANTINE
    lines: int  # physical lines in the block
    blank: int
    has_header: bool
    lossy: bool


_SCAN_CHUNK = 1 << 18  # bytes compared at a time (stays in cache)
_QUOTE, _COMMA, _LF, _CR = 0x22, 0x2C, 0x0A, 0x0D


def _scan(arr: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(positions of the quotes, number of commas, number of line feeds) in `arr`, in one pass
    over cache-sized chunks (numpy releases the GIL; no block-sized temporaries)."""
    mask = np.empty(min(_SCAN_CHUNK, len(arr)), dtype=bool)
    quotes, commas, line_feeds = [], 0, 0
    for at in range(0, len(arr), _SCAN_CHUNK):
        part = arr[at:at + _SCAN_CHUNK]
        m = mask[:len(part)]
        np.equal(part, _QUOTE, out=m)
        found = np.flatnonzero(m)
        if len(found):
            quotes.append(found + at)
        np.equal(part, _COMMA, out=m)
        commas += int(np.count_nonzero(m))
        np.equal(part, _LF, out=m)
        line_feeds += int(np.count_nonzero(m))
    return (np.concatenate(quotes) if quotes else np.empty(0, dtype=np.intp)), commas, line_feeds


def _quotes_at_field_edges(arr: np.ndarray, quotes: np.ndarray) -> bool:
    """Whether every quote of `arr` (which starts at a line start) opens or closes a field: taken
    in order, each opening quote follows a comma or a line start and each closing one is followed
    by a comma or a line end (LF, CR LF), or the two are a doubled quote inside a quoted field."""
    if len(quotes) % 2:
        return False
    if len(quotes) == 0:
        return True
    n = len(arr)
    opens, closes = quotes[0::2], quotes[1::2]
    before = np.where(opens > 0, arr[np.maximum(opens - 1, 0)], _LF)
    after = np.where(closes + 1 < n, arr[np.minimum(closes + 1, n - 1)], _LF)
    after_cr = np.where(closes + 2 < n, arr[np.minimum(closes + 2, n - 1)], _LF)
    escaped_open = np.concatenate(([False], opens[1:] == closes[:-1] + 1))
    escaped_close = np.concatenate((closes[:-1] + 1 == opens[1:], [False]))
    ok_open = (before == _COMMA) | (before == _LF) | escaped_open
    ok_close = (after == _COMMA) | (after == _LF) | ((after == _CR) & (after_cr == _LF)) | escaped_close
    return bool(ok_open.all() and ok_close.all())


def _commas_in_quotes(arr: np.ndarray, quotes: np.ndarray) -> int:
    """Commas inside quoted fields (quotes as checked by _quotes_at_field_edges). Costs a gather
    of every quoted byte: only used when the cheap count (commas in the parsed values) cannot
    decide."""
    opens, closes = quotes[0::2], quotes[1::2]
    spans = closes - opens
    inside = np.repeat(opens, spans) + (np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans))
    return int(np.count_nonzero(arr[inside] == _COMMA))


def _comma_columns(data: bytes, start: int, columns: list[str]) -> list[str]:
    """Of `columns`, those whose field has a comma in the line at data[start:] (a guess at the
    columns holding the block's quoted commas: DOJ quotes the same fields on every line)."""
    end = data.find(b"\n", start)
    line = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace")
    try:
        fields = next(csv.reader([line]), [])
    except csv.Error:  # e.g. a field over the csv module's size limit: no guess
        return []
    return [c for c, v in zip(model.DOJ_COLUMNS, fields, strict=False) if "," in v and c in columns]


def _commas_in_values(rows: pl.DataFrame, columns: list[str]) -> int:
    if not columns:
        return 0
    return int(rows.select(pl.sum_horizontal(pl.col(columns).str.count_matches(",", literal=True).cast(pl.Int64).sum())).item())


def _parse_whole_rows(source: bytes | Path, *, has_header: bool, keep: list[str], n_rows: int) -> pl.DataFrame | None:
    """The kept columns plus END_OF_REC of `source` parsed as they stand, or None unless Polars reads
    it as valid UTF-8 with exactly one row per line and a non-empty END_OF_REC on every row (so no
    line has fewer than 95 fields; the callers prove there are not more)."""
    wanted = keep if "END_OF_REC" in keep else [*keep, "END_OF_REC"]
    try:
        rows = _parse(source, skip_lines=int(has_header), keep=[c for c in model.DOJ_COLUMNS if c in wanted],
                      lossy=False)
    except pl.exceptions.PolarsError:
        return None
    if rows.height != n_rows or (rows["END_OF_REC"] == "").any():
        return None
    return rows


def _proven_block(rows: pl.DataFrame, *, has_header: bool) -> _Block:
    """A _Block of rows every line of which was proven well formed (no quarantine, no blank line)."""
    n_lines = rows.height + has_header
    rows = rows.rechunk().with_columns(pl.int_range(1 + has_header, 1 + n_lines, dtype=pl.Int64).alias("source_line"))
    return _Block(rows=rows, quarantine=model.empty(model.QUARANTINE), lines=n_lines, blank=0,
                  has_header=has_header, lossy=False)


def _read_block_quickly(data: bytes, first: bool, *, name: str, keep: list[str], raw_lines: bool) -> _Block | None:
    """The block parsed directly, without checking each line, when that is provably safe; else None.

    Safe when: no NUL byte; every quote sits at a field edge (so the quoted fields are the ones
    Polars reads as quoted); the block is valid UTF-8 and Polars parses it with the 95-column
    schema without error, one row per line (no quoted field runs over a line end); every row's
    last field, END_OF_REC, is non-empty - a line with fewer than 95 fields cannot have that,
    Polars pads missing fields with "" - so every line has at least 94 separators; and the block
    holds exactly 94 separators per line, so none has more. Separators are the block's commas
    minus those inside quoted fields, and a quoted field's commas are in its parsed value: so
    when (commas in the block) - (commas in some of the parsed values) == 94 x lines, no line has
    more than 94 separators (those values are a subset of the fields: the difference is at least
    the number of separators, itself at least 94 x lines). The values counted are those of the
    columns with a comma on the block's first line (cheap, and right for DOJ files, which quote
    the same fields on every line); when that does not add up, the commas inside quotes are
    counted from the bytes instead. DOJ writes an end-of-record marker, so this is the common
    case; on any doubt the lines are checked.
    """
    if b"\0" in data:
        return None
    has_header = first and data.startswith(b"RECORD_ID")
    body = 0
    if has_header:
        header_end = data.find(b"\n")
        body = len(data) if header_end < 0 else header_end + 1
        _check_header(data[:body].decode("utf-8", "replace").rstrip("\r\n"), name)
    if body == len(data):
        return None
    arr = np.frombuffer(data, dtype=np.uint8, offset=body)
    quotes, commas, line_feeds = _scan(arr)
    n_rows = line_feeds + (not data.endswith(b"\n"))
    if not _quotes_at_field_edges(arr, quotes):
        return None
    rows = _parse_whole_rows(data, has_header=has_header, keep=keep, n_rows=n_rows)
    if rows is None:
        return None
    separators = (model.DOJ_FIELD_COUNT - 1) * n_rows
    if commas != separators and not (
        len(quotes)
        and (commas - _commas_in_values(rows, _comma_columns(data, body, rows.columns)) == separators
             or commas - _commas_in_quotes(arr, quotes) == separators)
    ):
        return None
    rows = rows.select(keep)
    if raw_lines:
        lines, _ = _lines(data)
        rows = rows.with_columns(lines["line"].slice(int(has_header)).alias(RAW_LINE))
    return _proven_block(rows, has_header=has_header)


def _scan_block(buffer: bytearray, start: int, cut: int) -> tuple[int, int] | None:
    """_scan_file's checks on buffer[start:cut] (whole lines): (lines, commas), or None."""
    if buffer.find(b"\0", start, cut) >= 0:
        return None
    arr = np.frombuffer(buffer, dtype=np.uint8, count=cut)[start:]
    quotes, commas, line_feeds = _scan(arr)
    lines = line_feeds + (cut > start and buffer[cut - 1] != _LF)
    if not _quotes_at_field_edges(arr, quotes) or commas < (model.DOJ_FIELD_COUNT - 1) * lines:
        return None
    return lines, commas


def _scan_file(path: Path, name: str) -> tuple[bool, int, int, list[str]] | None:
    """For _read_file_quickly: (has_header, data lines, commas outside the header, the first data
    line's comma columns) when every block of the file passes _read_block_quickly's byte checks
    (no NUL byte, quotes at field edges) and holds at least 94 commas per line; else None, as soon
    as a block fails. The file is read into three reused buffers (memory stays bounded, no page
    is allocated twice) and two blocks are checked at once."""
    buffers = [bytearray(_BLOCK_BYTES) for _ in range(3)]
    has_header, columns, lines, commas, carry = False, [], 0, 0, 0
    pending: deque = deque()

    def done(future: Future) -> bool:
        nonlocal lines, commas
        result = future.result()
        if result is not None:
            lines, commas = lines + result[0], commas + result[1]
        return result is not None

    with path.open("rb") as f, ThreadPoolExecutor(max_workers=2) as pool:
        for i in itertools.count():
            buffer, view = buffers[i % 3], memoryview(buffers[i % 3])
            if carry:  # the previous block's last, unfinished line
                previous = buffers[(i - 1) % 3]
                buffer[:carry] = previous[len(previous) - carry:]
            n = carry + f.readinto(view[carry:])
            if n == 0:  # the file ends at a block end
                break
            last = n < len(buffer)
            cut = n if last else buffer.rfind(b"\n", 0, n) + 1
            if cut == 0:  # a line as long as a block: the block reader explains
                return None
            start = 0
            if i == 0:
                if buffer.startswith(BOM):
                    return None
                has_header = buffer.startswith(b"RECORD_ID")
                if has_header:
                    header_end = buffer.find(b"\n", 0, cut)
                    start = cut if header_end < 0 else header_end + 1
                    _check_header(bytes(view[:start]).decode("utf-8", "replace").rstrip("\r\n"), name)
                columns = _comma_columns(bytes(view[start:min(cut, start + _MAX_LINE_BYTES)]), 0, list(model.DOJ_COLUMNS))
            del view
            pending.append(pool.submit(_scan_block, buffer, start, cut))
            if len(pending) >= 2 and not done(pending.popleft()):
                return None
            if last:
                break
            carry = n - cut
        while pending:
            if not done(pending.popleft()):
                return None
    return has_header, lines, commas, columns


def _read_file_quickly(path: Path, name: str, keep: list[str]) -> _Block | None:
    """The whole file parsed by Polars in one go (it reads the file itself, in parallel), when
    that is provably safe, as one _Block; else None and the file is read in blocks. The proof is
    _read_block_quickly's, made for the whole file: _scan_file's byte checks, then the parse
    (valid UTF-8, one row per line, END_OF_REC on every row) and the separator count."""
    scanned = _scan_file(path, name)
    if scanned is None:
        return None
    has_header, n_rows, commas, comma_columns = scanned
    if n_rows == 0:
        return None
    rows = _parse_whole_rows(path, has_header=has_header, keep=keep, n_rows=n_rows)
    if rows is None:
        return None
    separators = (model.DOJ_FIELD_COUNT - 1) * n_rows
    if commas != separators and all(  # the first line's comma columns, then every column read
        commas - _commas_in_values(rows, columns) != separators
        for columns in ([c for c in comma_columns if c in rows.columns], rows.columns)
    ):
        return None
    return _proven_block(rows.select(keep), has_header=has_header)


class _BadLine(Exception):
    """Strict mode: the first unreadable line of a block (line numbered within the block)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message, self.line = message, line


def _read_block(data: bytes, first: bool, *, name: str, mode: str, keep: list[str],
                raw_lines: bool = False) -> _Block:
    """Check and parse one block of whole lines. Lines are numbered from 1 within the block
    (``source_line``; the caller adds the lines of the blocks before); `first`: the file's first
    block (may start with a BOM and a header)."""
    if first and data.startswith(BOM):
        data = data[len(BOM):]
    quick = _read_block_quickly(data, first, name=name, keep=keep, raw_lines=raw_lines)
    if quick is not None:
        return quick
    lines, lossy = _lines(data)
    n_lines = lines.height
    lines = lines.with_row_index("source_line", offset=1).with_columns(pl.col("source_line").cast(pl.Int64))

    has_header = first and n_lines > 0 and (lines["line"][0] or "").startswith("RECORD_ID")
    if has_header:
        _check_header(lines["line"][0], name)
        lines = lines.slice(1)

    flags = lines.select(
        blank=pl.col("line").is_null() | (pl.col("line") == ""),
        good=pl.col("line").str.contains(_GOOD_LINE).fill_null(False),
    )
    n_blank, n_good = int(flags["blank"].sum()), int(flags["good"].sum())

    bad = lines.filter(~flags["blank"] & ~flags["good"])
    if bad.height:
        reason, detail = _explain(pl.col("line"))
        bad = bad.select(
            pl.lit(SOURCE).alias("source"), pl.lit(name).alias("source_file"), "source_line",
            reason.alias("reason"), detail.alias("detail"), pl.col("line").alias("raw"),
        )
        if mode == "strict":
            first_bad = bad.row(0, named=True)
            raise _BadLine(f"{first_bad['detail']} ({first_bad['reason']})", first_bad["source_line"])
    quarantine = model.conform(bad, model.QUARANTINE, extra=False)

    if n_good == 0:
        rows = _empty_rows(keep)
    else:
        if n_good == lines.height:  # every line good: parse the block itself
            source_line, raw = lines["source_line"], lines["line"]
            del lines, flags
            rows = _parse(data, skip_lines=int(has_header), keep=keep, lossy=lossy)
        else:
            good = lines.filter(flags["good"])
            del lines, flags
            source_line, raw = good["source_line"], good["line"]
            buffer = io.BytesIO()
            good.select("line").write_csv(buffer, include_header=False, quote_style="never", separator="\x1f")
            del good
            rows = _parse(buffer.getvalue(), skip_lines=0, keep=keep, lossy=False)
        if rows.height != n_good:
            raise ConservationError(f"{name}: {n_good} good lines in a block but {rows.height} rows parsed")
        rows = rows.with_columns(source_line.alias("source_line"))
        if raw_lines:
            rows = rows.with_columns(raw.alias(RAW_LINE))
        del raw
    return _Block(rows=rows.rechunk(), quarantine=quarantine, lines=n_lines, blank=n_blank, has_header=has_header,
                  lossy=lossy)


def _read_blocks(path: Path, name: str, mode: str, keep: list[str], raw_lines: bool, take) -> None:
    """Read the file in blocks of whole lines, two worked on at once; `take` gets each one's
    (future of _read_block, size in bytes), in file order."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque = deque()
        first = True
        for data in _blocks(path):
            pending.append((pool.submit(_read_block, data, first, name=name, mode=mode, keep=keep,
                                        raw_lines=raw_lines), len(data)))
            first = False
            del data
            if len(pending) >= 2:
                take(pending.popleft())
        while pending:
            take(pending.popleft())


def _read_file(path: Path, mode: str, keep: list[str], raw_lines: bool = False
               ) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    name = path.name
    if not path.is_file():
        raise InputError("no such file", file=name, kind="OTHER")
    blocks: list[_Block] = []
    offsets: list[int] = []  # lines of the file before each block
    garbage_bytes = 0  # bytes read while no block has yielded a row but some had unreadable lines

    def take(done: tuple) -> None:
        nonlocal garbage_bytes
        offset = offsets[len(blocks)]
        try:
            block = done[0].result()
        except _BadLine as e:
            raise InputError(e.message, file=name, line=offset + e.line, kind="PARSING") from None
        size = done[1]
        blocks.append(block)
        offsets.append(offset + block.lines)
        if garbage_bytes >= 0:
            garbage_bytes = -1 if block.rows.height else garbage_bytes + size * (block.quarantine.height > 0)
        if garbage_bytes >= _GARBAGE_BYTES:
            bad = sum(b.quarantine.height for b in blocks)
            raise InputError(
                f"no DOJ row in the first {garbage_bytes >> 20} MB ({bad:,} unreadable lines): binary data or "
                "not a DOJ research file; reading stopped", file=name, line=1, kind="PARSING",
            )

    offsets.append(0)
    try:
        whole = None if raw_lines else _read_file_quickly(path, name, keep)
        if whole is not None:
            blocks.append(whole)
            offsets.append(whole.lines)
        else:
            _read_blocks(path, name, mode, keep, raw_lines, take)
    except OSError as e:
        raise InputError(f"cannot read the file ({e.strerror or e})", file=name, kind="OTHER") from e


    def numbered(frame: pl.DataFrame, offset: int) -> pl.DataFrame:  # block line numbers -> file line numbers
        return frame.with_columns(pl.col("source_line") + offset) if offset and frame.height else frame

    has_header = bool(blocks) and blocks[0].has_header
    rows_read = sum(b.lines - b.blank for b in blocks) - has_header
    accepted = sum(b.rows.height for b in blocks)
    quarantine = (pl.concat([numbered(b.quarantine, off) for b, off in zip(blocks, offsets, strict=False)])
                  if blocks else model.empty(model.QUARANTINE))
    stat = {"source_file": name, "rows_read": rows_read, "rows_accepted": accepted,
            "rows_quarantined": quarantine.height, "has_header": has_header,
            "encoding": LATIN1_LOSSY if any(b.lossy for b in blocks) else UTF8,
            "blank_lines": sum(b.blank for b in blocks)}
    if rows_read != accepted + quarantine.height:
        raise ConservationError(f"{name}: {rows_read} rows read != {accepted} accepted + {quarantine.height} quarantined")
    frames = [numbered(b.rows, off) for b, off in zip(blocks, offsets, strict=False) if b.rows.height]
    rows = pl.concat(frames, rechunk=False) if frames else _empty_rows(keep, raw_lines)
    rows = rows.select(
        *keep, pl.lit(SOURCE).alias("source"), pl.lit(name).alias("source_file"),
        pl.col("source_line").cast(pl.Int64), *([RAW_LINE] if raw_lines else []),
    )
    return rows, quarantine, stat


# ---------------------------------------------------------------------------------------------
# Canonical conversion (the incumbent tool's semantics, gogen data/doj_row.go and subject.go)


def _date(expr: pl.Expr) -> pl.Expr:
    """YYYYMMDD -> Date; anything else -> null."""
    return pl.when(expr.str.len_bytes() == 8).then(expr.str.strptime(pl.Date, "%Y%m%d", strict=False))


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.strip_chars() != "").then(expr)


# Sentence units in hours, as gogen computes them: a year is the duration from 2011-03-04 to
# 2012-03-04 (366 days, it spans Feb 29 2012) and a month is that year / 12 (30.5 days).
_HOURS_PER_UNIT = {"D": 24, "M": 366 * 24 // 12, "Y": 366 * 24}
# Sentence parts are capped at 10,000 years so dates stay in range (gogen overflowed instead).
_MAX_SENTENCE_HOURS = 10_000 * 366 * 24


def _sentence_part_hours() -> pl.Expr:
    """SENT_LENGTH x unit of SENT_TIME_CODE, in hours. Like Go's Atoi, the length is an optional
    sign and digits ("+5", "05"); anything else ("5 ", "") counts 0 - so does Polars' cast."""
    length = pl.col("SENT_LENGTH").cast(pl.Int64, strict=False).fill_null(0)
    code = pl.col("SENT_TIME_CODE")
    unit = pl.lit(0, dtype=pl.Int64)
    for letter, hours in _HOURS_PER_UNIT.items():
        unit = pl.when(code == letter).then(pl.lit(hours, dtype=pl.Int64)).otherwise(unit)
    return (length.clip(-_MAX_SENTENCE_HOURS, _MAX_SENTENCE_HOURS) * unit).clip(-_MAX_SENTENCE_HOURS, _MAX_SENTENCE_HOURS)


def _charge_written() -> pl.Expr:
    """The charge as written: OFFENSE_DESCR, or COMMENT_TEXT when the offense is blank or says
    SEE COMMENT FOR CHARGE."""
    offense = pl.col("OFFENSE_DESCR")
    in_comment = offense.str.strip_chars().is_in(["", "SEE COMMENT FOR CHARGE"])
    return pl.when(in_comment).then(pl.col("COMMENT_TEXT")).otherwise(offense)


def _offense_text(written: pl.Expr) -> pl.Expr:
    """gogen's CodeSection: the charge as written (_charge_written) up to the first "-", untrimmed."""
    return written.str.split_exact("-", 1).struct.field("field_0")


def _step_type() -> pl.Expr:
    step = pl.col("STP_TYPE_DESCR")
    return (
        pl.when(step.str.starts_with("ARREST")).then(pl.lit("ARREST"))
        .when(step == "COURT ACTION").then(pl.lit("COURT"))
        .when(step == "REGISTRATION").then(pl.lit("REGISTRATION"))
        .when(step == "DECEASED").then(pl.lit("DECEASED"))
        .otherwise(pl.lit("OTHER"))
    )


def _narrow(rows: pl.DataFrame | pl.LazyFrame, names: Sequence[str]) -> pl.DataFrame:
    """The given DOJ columns (nulls read as "") plus lineage and row_index, as a DataFrame."""
    frame = rows if isinstance(rows, pl.DataFrame) else rows.collect()
    missing = [c for c in [*names, *model.LINEAGE, "row_index"] if c not in frame.columns]
    if missing:
        raise ValueError(f"DOJ rows lack columns {missing}; read them with read_doj(columns=...) including these")
    # fill_null only where needed: a column selected as is costs no memory.
    return frame.select(
        *[pl.col(c).fill_null("") if frame[c].null_count() else pl.col(c) for c in names],
        *model.LINEAGE, "row_index",
    )


def _record_order(frame: pl.DataFrame, *, by_count: bool) -> tuple[pl.DataFrame, bool]:
    """`frame` with each person's rows together in row_index order (and, with by_count, CNT_ORDER
    never decreasing within a person), so that persons, counts and cases are runs of rows.

    DOJ files are written that way, so this is a check; otherwise the rows are sorted (and the
    second value says so). Runs let counts and cases be found with prefix sums instead of
    hash grouping, which is what makes 2M rows fast.
    """
    subject = pl.col("SUBJECT_ID")
    starts = (subject != subject.shift()).fill_null(True)
    checks = [
        (pl.col("row_index").diff().fill_null(1) > 0).all(),
        subject.filter(starts).is_unique().all(),  # no person has two runs
    ]
    if by_count:
        checks.append((starts | (pl.col("CNT_ORDER") >= pl.col("CNT_ORDER").shift())).fill_null(True).all())
    if all(frame.select(c.alias(f"_{i}") for i, c in enumerate(checks)).row(0)):
        return frame, False
    keys = ["SUBJECT_ID", "CNT_ORDER", "row_index"] if by_count else ["SUBJECT_ID", "row_index"]
    if not by_count:  # a person's place is that of their first row
        frame = frame.with_columns(pl.col("row_index").min().over("SUBJECT_ID").alias("_first"))
        keys = ["_first", "row_index"]
    return frame.sort(keys).drop("_first", strict=False), True


def _run_starts(*keys: pl.Expr) -> pl.Expr:
    """True on the first row of each run of equal keys."""
    changed = pl.lit(False)
    for key in keys:
        changed = changed | (key != key.shift())
    return changed.fill_null(True)


def _per_run(value: pl.Expr, start: pl.Expr, end: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(running total within the run, run total) of an integer `value`, for runs marked by start/end."""
    running = value.cum_sum()
    within = running - pl.when(start).then(running - value).forward_fill()
    return within, pl.when(end).then(within).backward_fill()


# The DOJ columns doj_counts reads (doj_persons reads the person ones).
_COUNT_COLUMNS = (
    "SUBJECT_ID", "STP_EVENT_DATE", "STP_TYPE_DESCR", "STP_ORI_CNTY_NAME", "CNT_ORDER", "OFN",
    "OFFENSE_DESCR", "OFFENSE_TOC", "DISP_DESCR", "CONV_STAT_DESCR", "SENT_LENGTH", "SENT_TIME_CODE",
    "COMMENT_TEXT",
)


def doj_counts(rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One canonical count per (SUBJECT_ID, CNT_ORDER): model.COUNT columns, then COUNT_EXTRAS.

    The conviction row of a count is its first row whose DISP_DESCR starts with CONVICTED (in
    row_index order); its sentence end is that row's STP_EVENT_DATE plus the sentence parts of
    every convicted row of the count. A count without a convicted row is its first row. Case
    numbers are the OFN values of the COURT ACTION rows of the case (SUBJECT_ID + first 6 digits
    of CNT_ORDER), over all rows, in order of first appearance, "; "-joined as written;
    case_number is the first of them that pipelines.normalize.case_numbers reads, normalized.
    In row_index order.
    """
    return _counts([rows])


def _counts(holder: list[pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame:
    """doj_counts on the frame in `holder`, which it takes out: when nothing else refers to the
    rows, their memory is given back as soon as the counts no longer need it."""
    frame, reordered = _record_order(_narrow(holder.pop(), _COUNT_COLUMNS), by_count=True)

    # Counts and cases are runs of rows (see _record_order); mark them once.
    subject, cnt_order = pl.col("SUBJECT_ID"), pl.col("CNT_ORDER")
    frame = frame.with_columns(
        _run_starts(subject, cnt_order).alias("_count_start"),
        pl.col("DISP_DESCR").str.starts_with("CONVICTED").alias("is_conviction"),
        _run_starts(subject, cnt_order.str.slice(0, 6)).cum_sum().cast(pl.Int64).alias("_case"),
    )
    start = pl.col("_count_start")
    end = start.shift(-1).fill_null(True)
    convicted = pl.col("is_conviction")
    rank, convictions_in_count = _per_run(convicted.cast(pl.Int32), start, end)
    _, sentence_hours = _per_run(_sentence_part_hours() * convicted.cast(pl.Int64), start, end)
    frame = frame.with_columns(
        ((convicted & (rank == 1)) | (start & (convictions_in_count == 0))).alias("_canonical"),
        sentence_hours.alias("_sentence_hours"),
    )

    # Case numbers: OFN of the case's COURT ACTION rows, first appearance first. Repeats of the
    # previous row's value are dropped first (cheap), so the hash step sees few rows. They are
    # worked out in a second thread, beside the rest of the counts.
    written = (
        frame.lazy()
        .filter((pl.col("STP_TYPE_DESCR") == "COURT ACTION") & (pl.col("OFN") != ""))
        .select("_case", "OFN")
        .filter(_run_starts(pl.col("_case"), pl.col("OFN")))
        .unique(maintain_order=True)
        .collect()
    )
    n_cases = int(frame["_case"].max() or 0) + 1
    holder.append(frame)
    del frame
    with ThreadPoolExecutor(max_workers=1) as pool:
        by_case = pool.submit(_case_numbers_by_case, written, n_cases)
        del written
        return _counts_rest(holder, by_case, reordered)


def _case_numbers_by_case(written: pl.DataFrame, n_cases: int) -> dict[str, pl.Series]:
    """case_numbers and case_number of each case, laid out by case (_case). `written`: the
    distinct (_case, OFN) of the COURT ACTION rows, in order of first appearance. The primary
    case number is the first one the shared normalizer reads (blank and "NULL" are not numbers)."""
    from pipelines.normalize.case_numbers import case_number_keys  # noqa: PLC0415

    keyed = case_number_keys(written, "OFN")
    del written
    # `keyed` is in case order. Most cases have one number: taken as they are; only the others
    # are joined with "; " by a group_by.
    case = pl.col("_case")
    alone = (case != case.shift()).fill_null(True) & (case != case.shift(-1)).fill_null(True)
    single = keyed.filter(alone)
    several = keyed.filter(~alone)
    per_case = pl.concat([
        single.select("_case", pl.col("OFN").alias("case_numbers"), pl.col("normalized").alias("case_number")),
        several.lazy()
        .group_by("_case", maintain_order=True)
        .agg(
            pl.col("OFN").str.join("; ").alias("case_numbers"),
            pl.col("normalized").drop_nulls().first().alias("case_number"),
        )
        .collect(),
    ])
    del keyed, single, several
    return {
        name: pl.Series(name, [None], dtype=pl.String).extend_constant(None, n_cases - 1).scatter(
            per_case["_case"], per_case[name]
        )
        for name in ("case_numbers", "case_number")
    }


def _counts_rest(holder: list[pl.DataFrame], by_case_done: Future, reordered: bool) -> pl.DataFrame:
    """_counts from the marked rows (in `holder`, taken out) on; by_case_done: _case_numbers_by_case."""
    frame = holder.pop()
    subject, cnt_order, convicted = pl.col("SUBJECT_ID"), pl.col("CNT_ORDER"), pl.col("is_conviction")
    counts = frame.drop("SENT_LENGTH", "SENT_TIME_CODE", "_count_start").filter("_canonical").drop("_canonical")
    del frame
    counts = counts.with_columns(_date(pl.col("STP_EVENT_DATE")).alias("_event_date"))

    # The offense text and its statute are functions of the charge as written (OFFENSE_DESCR, or
    # COMMENT_TEXT): worked out once per distinct charge (a few hundred), then joined on a narrow
    # frame and put side by side (the wide frame is never copied by a join).
    charges = counts.lazy().select(_charge_written().alias("_written"))
    statute = parse_statute(pl.col("offense_text"))
    offense_statutes = (
        charges.unique()
        .with_columns(_offense_text(pl.col("_written")).alias("offense_text"))
        .with_columns(
            statute.struct.field("code").alias("code"),
            statute.struct.field("section").alias("section"),
            statute.struct.field("subsection").alias("subsection"),
            statute.struct.field("statute").alias("_statute"),
        )
    )
    counts = counts.hstack(
        charges.join(offense_statutes, on="_written", how="left", nulls_equal=True, maintain_order="left")
        .drop("_written")
        .collect()
    )

    # Statutes named in comments, minus the count's own (with or without its code letters).
    own = pl.concat_list(
        pl.col("_statute"),
        pl.when(pl.col("section").is_not_null()).then(pl.col("section") + pl.col("subsection")),
    ).list.drop_nulls()
    commented = counts.lazy().with_row_index("_at").filter(pl.col("COMMENT_TEXT").str.strip_chars() != "")
    found = commented.select("COMMENT_TEXT").unique().with_columns(find_statutes(pl.col("COMMENT_TEXT")).alias("_found"))
    comment_sections = (
        commented.select("_at", "COMMENT_TEXT", "_statute", "section", "subsection")
        .join(found, on="COMMENT_TEXT", how="left")
        .select("_at", pl.col("_found").list.set_difference(own).alias("comment_sections"))
        .collect()
    )
    # Laid out by position (no join): most counts have no comment.
    at = pl.Series("_at", [None], dtype=pl.UInt32).extend_constant(None, counts.height)
    at = at.scatter(comment_sections["_at"], pl.int_range(comment_sections.height, dtype=pl.UInt32, eager=True))
    sections = comment_sections["comment_sections"].gather(at.head(counts.height))

    event_date = pl.col("_event_date")
    disp = pl.col("DISP_DESCR")
    conv_stat = pl.col("CONV_STAT_DESCR")
    is_felony = (conv_stat == "FELONY") | ((conv_stat == "") & (pl.col("OFFENSE_TOC") == "F"))
    level_text = pl.when(conv_stat != "").then(conv_stat).otherwise(pl.col("OFFENSE_TOC"))
    count_number = cnt_order.str.slice(6, 3).cast(pl.Int32, strict=False)
    by_case = by_case_done.result()
    out = counts.select(
        pl.concat_str(pl.lit("doj:"), subject, pl.lit(":"), cnt_order).alias("count_id"),
        pl.concat_str(pl.lit("doj:"), subject).alias("person_id"),
        pl.concat_str(pl.lit("doj:"), subject, pl.lit(":"), cnt_order.str.slice(0, 6)).alias("case_id"),
        pl.concat_str(pl.lit("doj:"), subject, pl.lit(":"), cnt_order.str.slice(0, 3)).alias("cycle_id"),
        pl.col("STP_ORI_CNTY_NAME").alias("county"),
        *[pl.lit(series).gather(pl.col("_case")).alias(name) for name, series in by_case.items()],
        pl.when(count_number >= 0).then(count_number).alias("count_number"),
        _step_type().alias("step_type"),
        event_date.alias("event_date"),
        "offense_text",
        pl.col("COMMENT_TEXT").alias("comment_text"),
        "code",
        "section",
        "subsection",
        pl.lit(sections).fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("comment_sections"),
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
        "is_conviction",
        # gogen adds exact durations to a midnight timestamp; the date part is the end date.
        pl.when(convicted).then(
            (event_date.cast(pl.Datetime("us")) + pl.duration(hours=pl.col("_sentence_hours"))).dt.date()
        ).alias("sentence_end"),
        "row_index",
        *model.LINEAGE,
        pl.col("STP_TYPE_DESCR").alias("step_type_text"),
        ((pl.col("STP_TYPE_DESCR") == "REGISTRATION") & pl.col("OFFENSE_DESCR").str.starts_with("290"))
        .alias("is_pc290_registration"),
        pl.col("OFN").alias("ofn"),
        cnt_order.alias("cnt_order"),
        subject.alias("subject_id"),
        pl.col("OFFENSE_DESCR").alias("offense_descr"),
        pl.col("CONV_STAT_DESCR").alias("conv_stat_descr"),
        pl.col("OFFENSE_TOC").alias("offense_toc"),
    )
    if reordered:
        out = out.sort("row_index")
    return model.conform(out, {**model.COUNT, **COUNT_EXTRAS}, extra=False)


def doj_persons(rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One model.PERSON row per SUBJECT_ID, from its first row (lowest row_index).

    person_id ``doj:<SUBJECT_ID>``; source_person_key SUBJECT_ID; names split from PRI_NAME
    (``LAST,FIRST M``) and CII, SSN, licence (PRI_CDL), FBI number and gender normalized by the
    shared normalizers (pipelines.normalize.names and .ids), exactly as court records are, so the
    two sources compare; dob from PRI_DOB (YYYYMMDD); race RACE_DESCR as written; county
    STP_ORI_CNTY_NAME of the first row. In order of the first row.
    """
    return _persons(_first_rows(rows))


_PERSON_COLUMNS = ("SUBJECT_ID", "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "PRI_SSN", "PRI_CDL",
                   "FBI_NUMBER", "RACE_DESCR", "STP_ORI_CNTY_NAME")


def _first_rows(rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Each person's first row (the person columns, lineage and row_index), in order of first row."""
    frame, _ = _record_order(_narrow(rows, _PERSON_COLUMNS), by_count=False)
    return frame.filter(_run_starts(pl.col("SUBJECT_ID")))


def _persons(first: pl.DataFrame) -> pl.DataFrame:
    """doj_persons from each person's first row (_first_rows)."""
    from pipelines.normalize import ids, names  # noqa: PLC0415

    first = names.parse_names(first, "PRI_NAME", "LAST,FIRST M")
    out = first.select(
        pl.concat_str(pl.lit("doj:"), "SUBJECT_ID").alias("person_id"),
        pl.col("SUBJECT_ID").alias("source_person_key"),
        ids.normalize_cii(pl.col("CII_NUMBER")).alias("cii"),
        ids.normalize_ssn(pl.col("PRI_SSN")).alias("ssn"),
        ids.normalize_dl(pl.col("PRI_CDL")).alias("cdl"),
        ids.normalize_fbi(pl.col("FBI_NUMBER")).alias("fbi"),
        _blank_to_null(pl.col("PRI_NAME")).alias("name_raw"),
        *names.NAME_PARTS,
        _date(pl.col("PRI_DOB")).alias("dob"),
        ids.normalize_gender(pl.col("GENDER")).alias("gender"),
        _blank_to_null(pl.col("RACE_DESCR")).alias("race"),
        _blank_to_null(pl.col("STP_ORI_CNTY_NAME")).alias("county"),
        *model.LINEAGE,
    )
    return model.conform(out, model.PERSON, extra=False)
