"""Reading a text file's physical lines as one Polars String column: parse it as CSV with a field
separator the file never holds and no quoting. Shared by the DOJ and court readers and the
incumbent-compatible writer, which echoes the DOJ lines."""

from __future__ import annotations

import mmap

import polars as pl

BOM = b"\xef\xbb\xbf"

# Candidate separators, most unlikely in text first: the ASCII separator controls, then the others.
LINE_SEPARATORS: tuple[str, ...] = tuple(
    chr(b) for b in (0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C), 0x7F)
)


def absent_separator(data: bytes | mmap.mmap) -> str | None:
    """The first candidate separator that does not occur in `data`; None when every one does (not
    a text file: the caller splits the lines itself)."""
    return next((s for s in LINE_SEPARATORS if data.find(s.encode()) < 0), None)


def read_lines(data: bytes, separator: str, column: str, *, empty_is_null: bool) -> tuple[pl.DataFrame, bool]:
    """`data`'s lines as one String column (a carriage return before the line feed is kept), read with a
    `separator` the data does not hold (see absent_separator); and whether bytes that are not
    valid UTF-8 had to be replaced (tried strictly first: strict UTF-8 reads faster)."""
    def read(encoding: str) -> pl.DataFrame:
        return pl.read_csv(data, has_header=False, separator=separator, quote_char=None, infer_schema=False,
                           encoding=encoding, raise_if_empty=False, new_columns=[column],
                           empty_string_is_null=empty_is_null)

    try:
        return read("utf8"), False
    except pl.exceptions.ComputeError as e:
        if "utf" not in str(e).lower():
            raise
        return read("utf8-lossy"), True


def split_lines(data: bytes, column: str) -> tuple[pl.DataFrame, bool]:
    """`data`'s lines split here, for data that holds every candidate separator (not a text file):
    one String column without line ends (CR LF or LF); and whether bytes that are not valid
    UTF-8 had to be replaced (a U+FFFD written in the file itself is not a replacement)."""
    text = data.decode("utf-8", errors="replace")
    lossy = "\ufffd" in text and text.encode("utf-8") != data
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frame = pl.DataFrame({column: lines}, schema={column: pl.String})
    return frame.with_columns(pl.col(column).str.strip_suffix("\r")), lossy
