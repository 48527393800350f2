"""Property-based tests (hypothesis) over the DOJ reader, every court layout kind and the normalizers.

Beyond "no crash but the reader's InputError, and rows read = accepted + quarantined" (checked by
the shared fuzz targets), the line-level properties say *which* rows go where: every line that
was damaged in its structure is quarantined with a structural reason, every intact line is
accepted (or, for court extracts, quarantined with a content reason), and nothing is lost.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.errors import InputError
from pipelines.sources.court import read_court
from pipelines.sources.doj import read_doj
from tests.fuzz import targets
from tests.fuzz.run import SEEDS

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed_lines(target: str, name: str, skip: int = 0) -> list[bytes]:
    data = (SEEDS / target / name).read_bytes()[skip:]
    return [line for line in data.replace(b"\r\n", b"\n").split(b"\n") if line]


DOJ_HEADER, *DOJ_ROWS = _seed_lines("doj", "seed-valid-quarantine", 1)
CSV_HEADER, *CSV_ROWS = _seed_lines("court_delimited", "seed-generic-csv", 1)
FIXED_ROWS = _seed_lines("court_fixed_width", "seed-legacy")

# A value that keeps a line's structure: no separator, quote, line end or control character.
_plain_value = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=',"\n\r\x00'),
                       max_size=12).map(str.encode)

# What can happen to one line: intact, or damaged in its structure.
INTACT, VALUE, BLANK = "intact", "value", "blank"
STRUCTURAL = ("drop_field", "add_field", "stray_quote", "control_char")


def _damage(line: bytes, kind: str, value: bytes, at: int) -> bytes:
    fields = line.split(b",")  # the seeds quote only "LAST,FIRST" names: split on the unquoted tail
    if kind == INTACT:
        return line
    if kind == BLANK:
        return b""
    if kind == VALUE:  # replace the last field's value (DOJ: END_OF_REC; court: comment)
        return b",".join([*fields[:-1], value or b"X"])
    if kind == "drop_field":
        return b",".join(fields[:-1])
    if kind == "add_field":
        return line + b",EXTRA"
    if kind == "stray_quote":
        return b",".join([*fields[:-1], b'AB"C'])
    return b",".join([*fields[:-1], b"A\x01B"])  # control_char


_line_plan = st.tuples(st.sampled_from([INTACT, INTACT, VALUE, BLANK, *STRUCTURAL]), _plain_value,
                       st.integers(0, 10))


@SETTINGS
@given(plan=st.lists(st.tuples(st.integers(0, len(DOJ_ROWS) - 1), _line_plan), min_size=1, max_size=12),
       header=st.booleans())
def test_doj_reader_quarantines_exactly_the_damaged_lines(tmp_path: Path, plan, header: bool) -> None:
    lines, damaged, kept = [], set(), set()
    first = 2 if header else 1
    for i, (row, (kind, value, at)) in enumerate(plan):
        kind = INTACT if kind == "control_char" else kind  # the DOJ reader accepts control bytes as text
        lines.append(_damage(DOJ_ROWS[row], kind, value, at))
        (damaged if kind in STRUCTURAL else kept if kind != BLANK else set()).add(first + i)
    data = b"\n".join(([DOJ_HEADER] if header else []) + lines) + b"\n"
    path = tmp_path / "plan.dat"
    path.write_bytes(data)
    read = read_doj([path])
    assert set(read.rows["source_line"].to_list()) == kept
    assert set(read.quarantine["source_line"].to_list()) == damaged
    assert set(read.quarantine["reason"].to_list()) <= {"field_count", "bad_quote", "unterminated_quote"}
    stats = read.stats.row(0, named=True)
    assert stats["rows_read"] == len(kept) + len(damaged) and stats["blank_lines"] == len(plan) - len(kept) - len(damaged)
    if damaged:
        with pytest.raises(InputError, match=rf"plan.dat, line {min(damaged)}:"):
            read_doj([path], mode="strict")
    else:
        assert read_doj([path], mode="strict").rows.height == len(kept)
    targets.fuzz_doj(b"\x00" + data)  # persons, counts and the whole-file checks take it too


@SETTINGS
@given(plan=st.lists(st.tuples(st.integers(0, len(CSV_ROWS) - 1), _line_plan), min_size=1, max_size=12))
def test_court_reader_accounts_for_every_line(tmp_path: Path, plan) -> None:
    lines, damaged, data_lines = [], set(), set()
    for i, (row, (kind, value, at)) in enumerate(plan):
        lines.append(_damage(CSV_ROWS[row], kind, value, at))
        if kind != BLANK:
            data_lines.add(2 + i)
        if kind in STRUCTURAL:
            damaged.add(2 + i)
    data = b"\n".join([CSV_HEADER, *lines]) + b"\n"
    path = tmp_path / "plan.csv"
    path.write_bytes(data)
    read = read_court([path], "generic_csv", county=targets.COUNTY, as_of=targets.AS_OF)
    accepted, quarantined = set(read.rows["source_line"].to_list()), set(read.quarantine["source_line"].to_list())
    assert accepted | quarantined == data_lines and not accepted & quarantined
    assert damaged <= quarantined
    structural = read.quarantine.filter(pl.col("source_line").is_in(list(damaged)))["reason"]
    assert set(structural.to_list()) <= {"field_count", "bad_quoting", "binary"}
    targets.fuzz_court_delimited(b"\x00" + data)


@SETTINGS
@given(plan=st.lists(st.tuples(st.integers(0, len(FIXED_ROWS) - 1), st.sampled_from(["intact", "short", "long", "binary", "blank"])),
                     min_size=1, max_size=10))
def test_fixed_width_reader_accounts_for_every_line(tmp_path: Path, plan) -> None:
    lines, broken, data_lines = [], set(), set()
    for i, (row, kind) in enumerate(plan):
        line = FIXED_ROWS[row].rstrip(b"\r")
        line = {"intact": line, "short": line[:40], "long": line.ljust(376) + b"X" * 5,
                "binary": line[:60] + b"\x02" + line[61:], "blank": b""}[kind]
        lines.append(line)
        if kind != "blank":
            data_lines.add(1 + i)
        if kind in ("short", "long", "binary"):
            broken.add(1 + i)
    path = tmp_path / "plan.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    read = read_court([path], "legacy_fixed_width", county=targets.COUNTY, as_of=targets.AS_OF)
    accepted, quarantined = set(read.rows["source_line"].to_list()), set(read.quarantine["source_line"].to_list())
    assert accepted | quarantined == data_lines and not accepted & quarantined
    assert broken <= quarantined
    targets.fuzz_court_fixed_width(path.read_bytes())


# ---- table kinds: mixed cell types, as hand-kept spreadsheets and loose databases have them -----

_cell = st.one_of(
    st.none(), st.just(""), st.text(max_size=15), st.integers(-(2**31), 2**31 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.dates(date(1850, 1, 1), date(2090, 12, 31)),
)


def _tables(draw_cell):
    columns = list(targets.GENERIC_COLUMNS)

    def pick(column: str):
        return st.one_of(draw_cell, st.sampled_from(targets._POOL[column]))

    row = st.tuples(*[pick(c) for c in columns]).map(list)
    return st.tuples(st.sets(st.sampled_from(columns), max_size=2), st.lists(row, max_size=8))


def _apply(dropped: set[str], rows: list[list]) -> tuple[list[str], list[list]]:
    keep = [i for i, c in enumerate(targets.GENERIC_COLUMNS) if c not in dropped]
    return [targets.GENERIC_COLUMNS[i] for i in keep], [[r[i] for i in keep] for r in rows]


@settings(SETTINGS, max_examples=12)
@given(table=_tables(_cell))
def test_excel_extracts_never_crash_and_conserve_rows(table) -> None:
    targets.check_excel(*_apply(*table))


@settings(SETTINGS, max_examples=15)
@given(table=_tables(_cell), kinds=st.lists(st.integers(0, 4), min_size=21, max_size=21))
def test_parquet_extracts_never_crash_and_conserve_rows(table, kinds) -> None:
    targets.check_parquet(*_apply(*table), kinds)


@settings(SETTINGS, max_examples=10)
@given(table=_tables(_cell))
def test_sql_extracts_never_crash_and_conserve_rows(table) -> None:
    targets.check_sql(*_apply(*table))


# ---- normalizers ---------------------------------------------------------------------------------

_pool_values = st.sampled_from([v for values in targets._POOL.values() for v in values])
_value = st.one_of(st.none(), st.text(max_size=20), _pool_values,
                   st.tuples(_pool_values, st.text(max_size=3)).map("".join))


@settings(SETTINGS, max_examples=15)
@given(values=st.lists(_value, min_size=1, max_size=20))
def test_normalizers_keep_one_value_per_input_within_their_domain(values) -> None:
    targets.check_normalizers(values)
