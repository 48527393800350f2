"""Builders of hostile and broken input files, and a child-process probe for huge ones.

    spreadsheet_saved(text)        as a spreadsheet program re-saves a CSV
    truncated(data)                cut in the middle of a line
    sparse_file(path, size, ...)   a file of `size` bytes that takes almost no disk (holes)

``python -m tests.fuzz.inputs probe KIND LAYOUT PATH`` reads PATH with the DOJ reader (KIND doj)
or the court reader (KIND court, LAYOUT a layout name or ``a+b`` for a county's list) and prints
one JSON line: the error (or none), the bytes the process read (``rchar`` from /proc/self/io)
and its peak resident memory (``VmHWM``), so a test can show that a 10 GB file was refused after
reading little of it, in bounded memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

_YYYYMMDD = re.compile(r"(?:19|20)\d{6}")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _as_spreadsheet_cell(value: str) -> str:
    """One cell as a spreadsheet shows and saves it: numbers lose leading zeros, long numbers
    become scientific notation, dates are reformatted M/D/YYYY."""
    if _YYYYMMDD.fullmatch(value):
        return f"{int(value[4:6])}/{int(value[6:8])}/{value[:4]}"
    iso = _ISO.fullmatch(value)
    if iso:
        return f"{int(iso[2])}/{int(iso[3])}/{iso[1]}"
    if value.isdigit() and len(value) >= 12:
        return f"{float(value):.2E}"
    if value.isdigit() and len(value) > 1 and value.startswith("0"):
        return str(int(value))
    return value


def spreadsheet_saved(text: str) -> str:
    """A CSV text as a spreadsheet program re-saves it: header kept, every data cell reformatted
    as displayed, quotes only where needed, Windows line ends."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for i, row in enumerate(rows):
        writer.writerow(row if i == 0 else [_as_spreadsheet_cell(v) for v in row])
    return out.getvalue()


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    """The first `fraction` of the bytes, moved so that the cut is inside a line (not at its end)."""
    cut = int(len(data) * fraction)
    while cut < len(data) and data[cut - 1:cut] in (b"\n", b"\r", b","):
        cut += 1
    line_start = data.rfind(b"\n", 0, cut) + 1
    return data[: max(cut, line_start + 5)]


def sparse_file(path: Path, size: int, *, head: bytes = b"", newline_every: int | None = None) -> Path:
    """A file of `size` bytes: `head` at the start, then holes (zero bytes that take no disk),
    with a line end every `newline_every` bytes if given (each costs one disk block)."""
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(head)
        if newline_every:
            for offset in range(newline_every, size, newline_every):
                f.seek(offset)
                f.write(b"\n")
    return path


def _probe(kind: str, layout: str, path: str) -> dict:
    from pipelines.errors import AutoclearError  # noqa: PLC0415

    result: dict = {"error": None, "error_type": None}
    try:
        if kind == "doj":
            from pipelines.sources.doj import read_doj  # noqa: PLC0415

            read = read_doj([path])
            result["rows"] = read.rows.height
        else:
            from pipelines.sources.court import read_court  # noqa: PLC0415

            layouts = layout.split("+")
            read = read_court([path], layouts if len(layouts) > 1 else layouts[0], county="los_angeles")
            result["rows"] = read.rows.height
    except AutoclearError as exc:
        result.update(error=str(exc), error_type=type(exc).__name__)
    io_stats = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    result["read_mb"] = int(io_stats["rchar"]) >> 20
    result["peak_rss_mb"] = int(status["VmHWM"].split()[0]) >> 10
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "probe":
        print(json.dumps(_probe(*sys.argv[2:5])), flush=True)
    else:
        sys.exit("usage: python -m tests.fuzz.inputs probe doj|court LAYOUT PATH")
