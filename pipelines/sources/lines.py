"""Reading a text file's physical lines as one Polars String column: parse it as CSV with a field
separator the file never holds and no quoting. Shared by the DOJ and court readers and the
incumbent-compatible writer, which echoes the DOJ lines."""

from __future__ import annotations

import mmap

BOM = b"\xef\xbb\xbf"

# Candidate separators, most unlikely in text first: the ASCII separator controls, then the others.
LINE_SEPARATORS: tuple[str, ...] = tuple(
    chr(b) for b in (0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C), 0x7F)
)


def absent_separator(data: bytes | mmap.mmap) -> str | None:
    """The first candidate separator that does not occur in `data`; None when every one does (not
    a text file: the caller splits the lines itself)."""
    return next((s for s in LINE_SEPARATORS if data.find(s.encode()) < 0), None)
