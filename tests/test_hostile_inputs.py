"""Hostile and broken input files: each gives a clear error or a quarantine, never a crash, and
nothing downstream is delivered from a refused input (the flow runs, and the outbox and the
ledger are checked).

Cases: truncated files, a file re-saved by a spreadsheet program, wrong encodings, a court
extract from another county's court, a DOJ file for another county, empty files, 10 GB files of
garbage (sparse files: holes take no disk; refused after reading little of them, in bounded
memory), and the same file given twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.errors import AutoclearError, InputError
from pipelines.sources.court import read_court
from pipelines.sources.doj import doj_counts, read_doj
from tests.fuzz.inputs import sparse_file, spreadsheet_saved, truncated

ROOT = Path(__file__).resolve().parents[1]
COMPUTE_AT = "2020-07-01"
GB = 1 << 30


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> dict[str, Path]:
    """A small generated Los Angeles county, and San Diego's files (another county)."""
    from pipelines.synth import generate_county

    base = tmp_path_factory.mktemp("hostile")
    la = generate_county(rows=500, seed=21, county="LOS ANGELES", out=base / "la")
    sd = generate_county(rows=400, seed=22, county="SAN DIEGO", out=base / "sd")
    return {"doj": la.doj_files[0], "court": la.court_files[0], "sd_doj": sd.doj_files[0],
            "sd_court": sd.court_files[0], "base": base}


def _nothing_delivered(work: Path) -> None:
    """No delivery folder in the outbox, no delivery assembled, nothing in the ledger."""
    outbox = work / "outbox"
    if outbox.exists():
        folders = [p for p in outbox.rglob("*") if p.is_dir() and p.name != ".staging" and ".staging" not in p.parts]
        assert folders == [], f"delivered from a refused input: {folders}"
    assert list(work.rglob("delivery_rows.parquet")) == []
    ledger = work / "ledger.sqlite"
    if ledger.exists():
        from pipelines.ledger import Ledger

        with Ledger(f"sqlite:///{ledger}") as store:
            assert store.history("LOS ANGELES") == []


def _refused(tmp_path: Path, doj: list[Path], court: list[Path], match: str) -> AutoclearError:
    """Run the whole flow on the inputs; it must stop with an error matching `match` and deliver nothing."""
    from pipelines.flow import RunSpec, run_county

    work = tmp_path / "work"
    spec = RunSpec(county="los_angeles", doj=[str(p) for p in doj], court=[str(p) for p in court],
                   compute_at=COMPUTE_AT, workdir=str(work))
    with pytest.raises(AutoclearError, match=match) as err:
        run_county(spec)
    _nothing_delivered(work)
    return err.value


# ---- truncated files ---------------------------------------------------------------------------


def test_truncated_doj_file_quarantines_the_cut_row_and_names_its_line(county, tmp_path) -> None:
    data = county["doj"].read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(truncated(data, 0.5))
    read = read_doj([cut])
    last_line = cut.read_bytes().count(b"\n") + 1
    assert read.quarantine.select("source_line", "reason").rows() in (
        [(last_line, "field_count")], [(last_line, "unterminated_quote")])
    stats = read.stats.row(0, named=True)
    assert stats["rows_read"] == stats["rows_accepted"] + 1 == last_line - 1  # header, then one row per line
    # The cut row reaches nothing downstream: no count comes from its line.
    assert last_line not in doj_counts(read.rows)["source_line"].to_list()
    with pytest.raises(InputError, match=rf"cut.dat, line {last_line}: .*fields, expected 95"):
        read_doj([cut], mode="strict")


@pytest.mark.parametrize("layout", ["generic_csv", "sf_cms", "legacy_fixed_width"])
def test_truncated_court_extract_quarantines_the_cut_row(layout, tmp_path) -> None:
    from pipelines.synth import generate_county

    gen = generate_county(rows=120, seed=23, county="LOS ANGELES", court_layout=layout, out=tmp_path / "gen")
    whole = gen.court_files[0].read_bytes()
    cut = tmp_path / f"cut{gen.court_files[0].suffix}"
    # Cut inside a record: in the name for fixed width (a record cut after its charge is read with the
    # fields it has: the layout accepts records whose trailing blanks were trimmed).
    cut_at = whole.rfind(b"\n", 0, len(whole) // 2) + (60 if layout == "legacy_fixed_width" else 30)
    cut.write_bytes(whole[:cut_at])
    read = read_court([cut], layout, county="los_angeles", as_of=pl.Series([COMPUTE_AT]).str.to_date()[0])
    full = read_court([gen.court_files[0]], layout, county="los_angeles")
    last_line = cut.read_bytes().count(b"\n") + 1
    assert read.quarantine["source_line"].to_list() == [last_line]
    expected = {"generic_csv": {"field_count", "bad_quoting"}, "sf_cms": {"field_count", "bad_quoting"},
                "legacy_fixed_width": {"missing_charge"}}[layout]
    assert read.quarantine["reason"].to_list()[0] in expected
    assert read.rows.height == full.rows.filter(pl.col("source_line") < last_line).height


@pytest.mark.parametrize("kind", ["xlsx", "parquet"])
def test_truncated_workbook_or_parquet_file_is_a_clear_input_error(kind, tmp_path) -> None:
    from tests.fuzz.targets import _excel_bytes, check_parquet, decode_table, ByteReader  # noqa: I001
    from tests.fuzz.seeds import table_bytes

    header, rows = decode_table(ByteReader(table_bytes(5)))
    data = _excel_bytes(header, rows) if kind == "xlsx" else check_parquet(header, rows, [0] * len(header))
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(data[: len(data) // 2])
    layout = {"xlsx": "generic_xlsx", "parquet": "generic_parquet"}[kind]
    with pytest.raises(InputError, match=r"cut\.(xlsx|parquet): not (an Excel workbook|a readable Parquet file)"):
        read_court([cut], layout, county="los_angeles")


# ---- a file re-saved by a spreadsheet program --------------------------------------------------


@pytest.mark.slow
def test_spreadsheet_saved_doj_file_is_blocked_before_delivery(county, tmp_path) -> None:
    saved = tmp_path / "doj_resaved.csv"
    saved.write_text(spreadsheet_saved(county["doj"].read_text(encoding="utf-8")), encoding="utf-8")
    # The reader accepts its rows (95 fields each) but the values are mangled; the input
    # checkpoint names the damage (CNT_ORDER in scientific notation, dates M/D/YYYY).
    err = _refused(tmp_path, [saved], [county["court"]], "doj_input")
    assert "cnt_order_format" in str(err) and "conviction_date_readable" in str(err)


def test_spreadsheet_saved_court_extract_is_refused(county, tmp_path) -> None:
    saved = tmp_path / "extract_resaved.csv"
    saved.write_text(spreadsheet_saved(county["court"].read_text(encoding="utf-8")), encoding="utf-8")
    err = _refused(tmp_path, [county["doj"]], [saved],
                   r"extract_resaved\.csv: (none of its .* rows is a readable court row|.* rows are unreadable)")
    assert err.kind == "UNREADABLE"
    read = read_court([saved], "generic_csv", county="los_angeles")
    assert "bad_date" in read.quarantine["reason"].to_list()  # the reason the rows were refused


# ---- wrong encoding ----------------------------------------------------------------------------


def test_utf16_doj_file_is_refused(county, tmp_path) -> None:
    wide = tmp_path / "doj_utf16.dat"
    wide.write_bytes(county["doj"].read_text(encoding="utf-8").encode("utf-16"))
    err = _refused(tmp_path, [wide], [county["court"]], r"doj_utf16\.dat: none of its .* rows is a readable DOJ row")
    assert err.kind == "UNREADABLE"


def test_utf16_court_extract_is_refused(county, tmp_path) -> None:
    wide = tmp_path / "extract_utf16.csv"
    wide.write_bytes(county["court"].read_text(encoding="utf-8").encode("utf-16"))
    _refused(tmp_path, [county["doj"]], [wide], r"extract_utf16\.csv: fits none of the layouts")


def test_latin1_files_are_read_and_marked_lossy(county, tmp_path) -> None:
    """Latin-1 where UTF-8 is declared: rows are read, and the stats say the text was repaired."""
    lines = county["doj"].read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace(',"', ',"MUÑOZ-', 1)  # the first row's name (quoted: it holds a comma)
    text = "\n".join(lines)
    assert "Ñ" in text
    old = tmp_path / "doj_latin1.dat"
    old.write_bytes(text.encode("latin-1", errors="replace"))
    read = read_doj([old])
    assert read.stats["encoding"].to_list() == ["latin-1 (lossy)"] and read.quarantine.height == 0
    court_text = county["court"].read_text(encoding="utf-8")
    assert any(ch in court_text for ch in "ÁÉÍÓÚÑ"), "the generated extract has accented names"
    court = tmp_path / "extract_latin1.csv"
    court.write_bytes(court_text.encode("latin-1"))
    read = read_court([court], "generic_csv", county="los_angeles")
    assert read.stats["encoding"].to_list() == ["utf-8 (lossy)"]


# ---- another county ----------------------------------------------------------------------------


def test_doj_file_for_another_county_is_refused(county, tmp_path) -> None:
    err = _refused(tmp_path, [county["sd_doj"]], [county["court"]],
                   r"san_diego_doj_01\.dat: .* court events are in LOS ANGELES and .* in SAN DIEGO")
    assert err.kind == "COUNTY"


def test_court_extract_from_another_county_is_refused(county, tmp_path) -> None:
    other = tmp_path / "other_court.csv"
    other.write_bytes(county["sd_court"].read_bytes())
    err = _refused(tmp_path, [county["doj"]], [other],
                   r"other_court\.csv: none of its .* case numbers is among the DOJ file's .* court cases in LOS ANGELES")
    assert err.kind == "COUNTY"


# ---- empty files -------------------------------------------------------------------------------


def test_empty_doj_file_is_refused(county, tmp_path) -> None:
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    header_only = tmp_path / "header_only.dat"
    header_only.write_bytes(county["doj"].read_bytes().split(b"\n")[0] + b"\n")
    _refused(tmp_path / "a", [empty], [county["court"]], r"empty\.dat: holds no DOJ rows")
    _refused(tmp_path / "b", [county["doj"], header_only], [county["court"]], r"header_only\.dat: holds no DOJ rows")


def test_empty_court_extract_is_refused(county, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _refused(tmp_path / "a", [county["doj"]], [empty], r"empty\.csv: fits none of the layouts")
    header_only = tmp_path / "header_only.csv"
    header_only.write_bytes(county["court"].read_bytes().split(b"\n")[0] + b"\n")
    _refused(tmp_path / "b", [county["doj"]], [header_only], r"header_only\.csv: holds no court rows")


# ---- garbage, small and 10 GB ------------------------------------------------------------------


def test_garbage_input_is_refused_by_the_cli_with_a_clear_message(county, tmp_path) -> None:
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(os.urandom(200_000))
    work = tmp_path / "work"
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "autoclear"), "run", "--county", "los_angeles", "--doj", str(garbage),
         "--court", str(county["court"]), "--compute-at", COMPUTE_AT, "--workdir", str(work)],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "error: garbage.dat: none of its" in proc.stderr and "Traceback" not in proc.stderr
    _nothing_delivered(work)


def _probe(kind: str, layout: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz.inputs", "probe", kind, layout, str(path)],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# (file builder, reader, layout, expected message). Holes read as zero bytes: binary garbage.
GARBAGE = {
    "doj_no_line_ends": (lambda p: sparse_file(p, 10 * GB), "doj", "-", "a line longer than 4 MB"),
    "doj_binary_lines": (lambda p: sparse_file(p, 10 * GB, newline_every=1 << 20), "doj", "-",
                         r"no DOJ row in the first \d+ MB"),
    "court_csv_no_line_ends": (lambda p: sparse_file(p, 10 * GB), "court", "generic_csv",
                               "no line end in the first 1 MB"),
    "court_csv_random_head": (lambda p: sparse_file(p, 10 * GB, head=os.urandom(2 << 20)), "court", "sf_cms",
                              "has no column|cannot be split"),
    "court_fixed_width_random_head": (lambda p: sparse_file(p, 10 * GB, head=os.urandom(2 << 20)), "court",
                                      "legacy_fixed_width", "lines hold control characters"),
    "court_county_layouts": (lambda p: sparse_file(p, 10 * GB), "court", "generic_csv+legacy_fixed_width",
                             "fits none of the layouts"),
    "court_xlsx": (lambda p: sparse_file(p, 10 * GB, head=b"PK\x03\x04"), "court", "generic_xlsx",
                   "not an Excel workbook"),
    "court_parquet": (lambda p: sparse_file(p, 10 * GB, head=b"PAR1"), "court", "generic_parquet",
                      "not a readable Parquet file"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(GARBAGE))
def test_10_gb_of_garbage_is_refused_early_in_bounded_memory(case, tmp_path) -> None:
    build, kind, layout, message = GARBAGE[case]
    suffix = {"generic_xlsx": ".xlsx", "generic_parquet": ".parquet"}.get(layout, ".dat")
    path = build(tmp_path / f"huge{suffix}")
    assert path.stat().st_size == 10 * GB
    assert path.stat().st_blocks * 512 < 64 << 20, "the test file must stay sparse"
    result = _probe(kind, layout, path)
    assert result["error_type"] == "InputError", result
    assert path.name in result["error"]
    import re

    assert re.search(message, result["error"]), result["error"]
    assert result["read_mb"] < 512, f"read {result['read_mb']} MB of a 10 GB file before refusing it"
    assert result["peak_rss_mb"] < 1500, f"peak memory {result['peak_rss_mb']} MB"


# ---- the same file twice -----------------------------------------------------------------------


def test_the_same_file_twice_is_refused(county, tmp_path) -> None:
    err = _refused(tmp_path / "a", [county["doj"], county["doj"]], [county["court"]],
                   r"los_angeles_doj_01\.dat: the same file is given twice")
    assert err.kind == "DUPLICATE"
    copy = tmp_path / "resent_copy.dat"
    copy.write_bytes(county["doj"].read_bytes())
    _refused(tmp_path / "b", [county["doj"], copy], [county["court"]],
             r"resent_copy\.dat: has the same contents as los_angeles_doj_01\.dat")
    court_copy = tmp_path / "extract_again.csv"
    court_copy.write_bytes(county["court"].read_bytes())
    _refused(tmp_path / "c", [county["doj"]], [county["court"], court_copy],
             r"extract_again\.csv: has the same contents as extract_01\.csv")
