"""Write the seed inputs of ``tests/fuzz/corpus/<target>/seed-*``: ``python -m tests.fuzz.seeds``.

Seeds are small valid inputs (a few rows of a generated county: fictional people) and a few
deliberately damaged ones, so that the fuzzer starts from inputs the readers accept. Findings
kept as regression tests are the other files in the corpus (``found-*``); this script never
touches them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.fuzz.targets import _POOL, GENERIC_COLUMNS

CORPUS = Path(__file__).resolve().parent / "corpus"


def table_bytes(n_rows: int, *, tag: int = 2, flags: int = 0, salt: int = 0) -> bytes:
    """decode_table input: every cell a pool value (tag 2) picked by position."""
    out = bytearray([flags, n_rows])
    for i in range(n_rows):
        for j, column in enumerate(GENERIC_COLUMNS):
            out += bytes([tag, (i + j + salt) % len(_POOL[column])])
    return bytes(out)


def _head(path: Path, lines: int) -> bytes:
    with path.open("rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def build() -> dict[str, dict[str, bytes]]:
    """Seed name -> bytes, per target."""
    from pipelines.synth import generate_county  # noqa: PLC0415 (heavy; only when writing seeds)

    seeds: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        la = generate_county(rows=60, seed=11, county="LOS ANGELES", out=base / "la")
        sf = generate_county(rows=60, seed=12, county="SAN FRANCISCO", court_layout="sf_cms", out=base / "sf")
        fw = generate_county(rows=60, seed=13, county="LOS ANGELES", court_layout="legacy_fixed_width",
                             out=base / "fw")
        doj = _head(la.doj_files[0], 7)
        lines = doj.split(b"\n")
        seeds["doj"] = {
            "seed-valid-quarantine": b"\x00" + doj,
            "seed-valid-strict": b"\x01" + doj,
            "seed-no-header": b"\x00" + b"\n".join(lines[1:]),
            "seed-short-row": b"\x00" + lines[0] + b"\n" + lines[1].rsplit(b",", 1)[0] + b"\n" + lines[2] + b"\n",
            "seed-open-quote": b"\x00" + lines[0] + b"\n" + lines[1].replace(b",", b',"', 1) + b"\n",
            "seed-crlf-bom": b"\x00\xef\xbb\xbf" + doj.replace(b"\n", b"\r\n"),
        }
        csv_head = _head(la.court_files[0], 8)
        sf_head = _head(sf.court_files[0], 8)
        pipe = b"BA336486|1|GARCIA/MARIA/E|031470|11357(C)HS|CONVICTED|04202001|\nKA057009|2|MUNOZ/ANGEL|070490|HS 11358|GUILTY PLEA|02012015|ALSO 11357(B) HS\n"
        seeds["court_delimited"] = {
            "seed-generic-csv": b"\x00" + csv_head,
            "seed-sf-cms": b"\x01" + sf_head,
            "seed-pipes": b"\x02" + pipe,
            "seed-generic-csv-truncated": b"\x00" + csv_head[: len(csv_head) * 2 // 3 - 7],
        }
        seeds["court_fixed_width"] = {
            "seed-legacy": _head(fw.court_files[0], 6),
            "seed-legacy-short-lines": b"\n".join(line.rstrip() for line in _head(fw.court_files[0], 4).split(b"\n")),
        }
    seeds["court_excel"] = {"seed-table": b"\x01" + table_bytes(5), "seed-damaged": b"\x02" + table_bytes(3) + b"\x03" * 12,
                            "seed-renamed-header": b"\x01" + table_bytes(3, flags=2)}
    seeds["court_parquet"] = {"seed-table-text": b"\x01" + table_bytes(5) + bytes(len(GENERIC_COLUMNS)),
                              "seed-table-typed": b"\x01" + table_bytes(4, salt=1) + bytes([0, 1, 1, 0, 0, 3, 0, 0] * 3),
                              "seed-damaged": b"\x02" + table_bytes(2) + bytes(21) + b"\x05" * 16}
    seeds["court_sql"] = {"seed-table": table_bytes(5), "seed-mixed-types": table_bytes(4, tag=5) + table_bytes(2)}
    seeds["normalizers"] = {
        f"seed-{column}": b"\0".join(v.encode() for v in values) for column, values in _POOL.items()
    }
    return seeds


def main() -> None:
    for target, files in build().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(files)} seeds in {folder}")


if __name__ == "__main__":
    main()
