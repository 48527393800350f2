"""Reading court extracts: quarantine with reasons, conservation, encodings, overlapping
refreshes, derived ids. A malformed extract never crashes the reader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.errors import InputError
from pipelines.model import QUARANTINE
from pipelines.sources.court import STATS, court_counts, court_persons, load_layout, read_court

AS_OF = date(2024, 7, 1)
HEADER = ("court_case_number,courthouse,count_number,person_key,defendant_name,dob,gender,race,cii,ssn,dl_number,"
          "charge,charge_level,charge_description,offense_date,disposition_code,disposition,disposition_date,"
          "sentence_length,sentence_unit,comment")


def row(case="BA336486", count="1", key="P1", name='"GARCIA LOPEZ, MARIA ELENA"', dob="1970-03-14",
        charge="11357(C)HS", dispo="CONVICTED-JAIL", dispo_date="2001-04-20", comment="", extra="") -> str:
    return (f"{case},CENTRAL,{count},{key},{name},{dob},F,HISPANIC,A12345678,,,{charge},M,POSS,2001-01-02,,"
            f"{dispo},{dispo_date},30,D,{comment}{extra}")


def malformed_bytes() -> bytes:
    lines = [
        HEADER,
        row(),                                                            # 2 accepted
        row(count="2", charge="11360(A)HS"),                              # 3 accepted
        row(case="GA039399-01", extra=",EXTRA"),                          # 4 field_count
        row(case="KA057009", dispo_date="2019-13-45"),                    # 5 bad_date
        "",                                                               # 6 blank
        row(case=""),                                                     # 7 missing_case_number
        row(case="KA057010", charge="", comment=":CHRG 11358 HS"),        # 8 accepted (charge in comment)
        row(case="KA057011", charge="", comment="NO STATUTE HERE"),       # 9 missing_charge
        row(case="KA057012", name='"GARCIA, MARIA'),                      # 10 bad_quoting
        row(count="2"),                                                   # 11 duplicate_count (of 3)
        row(case="KA057013", dob="1999-02-30"),                           # 12 accepted, dob nulled
        row(case="KA057014", count="X"),                                  # 13 bad_count_number
        row(case="KA057015", name='""'),                                  # 14 missing_name
    ]
    data = ("\r\n".join(lines) + "\r\n").encode()
    data += b"\x00\x01\xff\xfe\x80 garbage \x02\x03,,,\r\n"              # 15 binary
    data += row(case="KA057016", name='"MU\xd1OZ, ANGEL"').encode("latin-1") + b"\r\n"  # 16 accepted, lossy
    return data


@pytest.fixture()
def malformed(tmp_path: Path) -> Path:
    path = tmp_path / "malformed.csv"
    path.write_bytes(malformed_bytes())
    return path


def test_malformed_extract_quarantines_with_reasons(malformed: Path) -> None:
    read = read_court([malformed], "generic_csv", county="los_angeles", as_of=AS_OF)
    stats = read.stats.row(0, named=True)
    assert read.stats.schema == pl.Schema(STATS)
    assert (stats["rows_read"], stats["rows_accepted"], stats["rows_quarantined"], stats["blank_lines"]) == (14, 5, 9, 1)
    assert stats["rows_read"] == stats["rows_accepted"] + stats["rows_quarantined"]
    assert stats["encoding"] == "utf-8 (lossy)"
    assert read.quarantine.schema == pl.Schema(QUARANTINE)
    assert read.quarantine.select("source_line", "reason").rows() == [
        (4, "field_count"), (5, "bad_date"), (7, "missing_case_number"), (9, "missing_charge"), (10, "bad_quoting"),
        (11, "duplicate_count"), (13, "bad_count_number"), (14, "missing_name"), (15, "binary")]
    details = dict(read.quarantine.select("reason", "detail").rows())
    assert details["field_count"] == "22 fields, expected 21"
    assert details["duplicate_count"] == "same case and count number as line 3"
    assert details["bad_date"] == "disposition_date is not a valid YYYY-MM-DD date"
    # Raw text is kept for every quarantined row (the line as written), never in the detail.
    raws = dict(read.quarantine.select("source_line", "raw").rows())
    assert raws[5].startswith("KA057009,CENTRAL") and "GARCIA" not in details["bad_date"]
    assert raws[15].startswith("\ufffd\ufffd") or "\x00" in raws[15]
    assert read.quarantine["source_file"].unique().to_list() == ["malformed.csv"]
    # Accepted rows: the invalid DOB became null and is reported as such.
    accepted = read.rows.sort("source_line")
    assert accepted["source_line"].to_list() == [2, 3, 8, 12, 16]
    assert accepted.filter(pl.col("source_line") == 12)["dob"].to_list() == [None]
    assert accepted.filter(pl.col("source_line") == 12)["invalid_fields"].to_list() == [["dob"]]
    counts = court_counts(read.rows, county="los_angeles")
    assert counts.filter(pl.col("case_number") == "KA057010")["section"].to_list() == ["11358"]


def test_reasons_helper_and_lineage(malformed: Path) -> None:
    read = read_court([malformed], "generic_csv", county="los_angeles", as_of=AS_OF)
    assert read.reasons()["rows"].sum() == read.quarantine.height
    assert set(read.rows["source"].to_list()) == {"court"}
    assert read.rows["source_file"].to_list() == ["malformed.csv"] * 5


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_court([tmp_path / "nope.csv"], "generic_csv", county="los_angeles")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="no header"):
        read_court([empty], "generic_csv", county="los_angeles")
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER + "\n")
    read = read_court([header_only], "generic_csv", county="los_angeles")
    assert read.stats.select("rows_read", "rows_accepted", "rows_quarantined").row(0) == (0, 0, 0)
    assert court_counts(read.rows, county="los_angeles").height == 0
    assert court_persons(read.rows, county="los_angeles").height == 0


def test_a_file_that_is_all_binary(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(HEADER.encode() + b"\n" + bytes(range(256)) * 40 + b"\n" + bytes(range(255, -1, -1)) * 3)
    read = read_court([path], "generic_csv", county="los_angeles")
    stats = read.stats.row(0, named=True)
    assert stats["rows_read"] == stats["rows_quarantined"] == read.quarantine.height > 0
    assert set(read.quarantine["reason"].to_list()) <= {"binary", "field_count", "bad_quoting"}


def test_overlapping_refreshes_later_file_wins(tmp_path: Path) -> None:
    first = tmp_path / "extract_01.csv"
    second = tmp_path / "extract_02.csv"
    first.write_text("\n".join([HEADER, row(), row(count="2", charge="11360(A)HS", dispo="PENDING", dispo_date="")]))
    second.write_text("\n".join([HEADER, row(count="2", charge="11360(A)HS", dispo="DISMISSED", dispo_date="2002-01-01"),
                                 row(case="GA039399-01", key="P2")]))
    read = read_court([first, second], "generic_csv", county="los_angeles", as_of=AS_OF)
    assert read.stats["rows_read"].to_list() == [2, 2]
    counts = court_counts(read.rows, county="los_angeles")
    assert counts["count_id"].to_list() == ["court:LOS ANGELES:BA336486:1", "court:LOS ANGELES:BA336486:2",
                                            "court:LOS ANGELES:GA039399-01:1"]
    refreshed = counts.filter(pl.col("count_number") == 2, pl.col("case_number") == "BA336486").row(0, named=True)
    assert (refreshed["disposition"], refreshed["source_file"]) == ("dismissed", "extract_02.csv")
    assert counts["count_id"].is_unique().all()


SF_LIKE = """
name: no_keys
kind: delimited
fields:
  case_number: {column: case}
  charge: {column: charge}
  name: {column: name, format: LAST/FIRST/MIDDLE}
  dob: {column: dob, format: MMDDYY}
  disposition: {column: dispo}
  disposition_date: {column: date, format: MMDDYY}
"""


def test_without_count_numbers_or_person_keys(tmp_path: Path) -> None:
    layout = tmp_path / "no_keys.yaml"
    layout.write_text(SF_LIKE)
    data = tmp_path / "x.csv"
    data.write_text("\n".join([
        "case,charge,name,dob,dispo,date",
        "100,11359HS,DOE/JANE,010170,GUILTY,020305",
        "200,11357HS,ROE/RICK,010160,GUILTY,020305",
        "100,11360HS,DOE/JANE,010170,DISMISSED,020305",
        "100,11358HS,DOE/JOHN,050575,GUILTY,020305",   # a co-defendant without a suffix
    ]))
    read = read_court([data], layout, county="sacramento", as_of=AS_OF)
    counts = court_counts(read.rows, county="sacramento").sort("source_line")
    assert counts["count_id"].to_list() == ["court:SACRAMENTO:100:1", "court:SACRAMENTO:200:1",
                                            "court:SACRAMENTO:100:2", "court:SACRAMENTO:100:3"]
    assert counts["person_id"].to_list() == ["court:SACRAMENTO:100#1", "court:SACRAMENTO:200#1",
                                             "court:SACRAMENTO:100#1", "court:SACRAMENTO:100#2"]
    persons = court_persons(read.rows, county="sacramento")
    assert persons.height == 3 and persons["source_person_key"].is_null().all()
    assert sorted(persons["dob"].to_list()) == [date(1960, 1, 1), date(1970, 1, 1), date(1975, 5, 5)]


def test_century_rule_follows_compute_at(tmp_path: Path) -> None:
    layout = tmp_path / "no_keys.yaml"
    layout.write_text(SF_LIKE)
    data = tmp_path / "x.csv"
    data.write_text("case,charge,name,dob,dispo,date\n100,11359HS,DOE/JANE,010110,GUILTY,020315\n")
    recent = read_court([data], layout, county="sacramento", as_of=date(2024, 1, 1)).rows.row(0, named=True)
    old = read_court([data], layout, county="sacramento", as_of=date(2014, 1, 1)).rows.row(0, named=True)
    # 2024: event 2015, DOB 1910 (2010 would make a 5-year-old); 2014: an event in "15" is 1915.
    assert (recent["disposition_date"], recent["dob"]) == ("2015-02-03", "1910-01-01")
    assert (old["disposition_date"], old["dob"]) == ("1915-02-03", "1910-01-01")


def test_fixed_width_bad_lines(tmp_path: Path) -> None:
    layout = load_layout("legacy_fixed_width")
    good = "BA336486".ljust(15) + "CENTRAL".ljust(20) + "1".ljust(3) + "P1".ljust(12) + "DOE/JANE".ljust(50) + \
        "19700314" + "F" + " " * 20 + " " * 10 + " " * 9 + " " * 15 + "11359 HS".ljust(20)
    lines = [good, good + " " * 400, "BA1", good.replace("DOE", "D\x01E"), "", good.replace("19700314", "19701399").replace("CENTRAL             1", "CENTRAL             2")]
    path = tmp_path / "legacy.txt"
    path.write_bytes("\n".join(lines).encode("latin-1"))
    read = read_court([path], layout, county="los_angeles", as_of=AS_OF)
    assert read.quarantine.select("source_line", "reason").rows() == [(2, "line_length"), (3, "line_length"),
                                                                       (4, "binary")]
    assert read.stats.select("rows_read", "rows_accepted", "blank_lines").row(0) == (5, 2, 1)
    assert read.rows["invalid_fields"].to_list() == [[], ["dob"]]


# ---- property: arbitrary damage never crashes and always conserves rows ------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=120),
    st.text(max_size=120).map(str.encode),
    st.sampled_from([row().encode(), row(extra=",X").encode(), row(name='"A').encode(), b"", b'"', b",,,,"]),
), max_size=25))
def test_property_damaged_files_never_crash(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "damaged.csv"
    path.write_bytes(HEADER.encode() + b"\n" + b"\n".join(lines))
    read = read_court([path], "generic_csv", county="los_angeles", as_of=AS_OF)
    stats = read.stats.row(0, named=True)
    assert stats["rows_read"] == stats["rows_accepted"] + stats["rows_quarantined"]
    assert read.rows.height == stats["rows_accepted"] and read.quarantine.height == stats["rows_quarantined"]
    assert read.quarantine["reason"].null_count() == 0 and read.quarantine["raw"].null_count() == 0
    court_counts(read.rows, county="los_angeles")
    court_persons(read.rows, county="los_angeles")


def test_a_county_with_several_layouts_reads_each_file_through_the_one_it_fits(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_court_layouts import write_fixed_width, write_generic_csv  # noqa: PLC0415

    from pipelines.config import load_county
    from pipelines.sources.court import choose_layout

    csv_file = write_generic_csv(tmp_path / "extract.csv")
    fixed = write_fixed_width(tmp_path / "legacy.txt")
    layouts = load_county("los_angeles").court_layouts  # generic_csv, legacy_fixed_width
    assert choose_layout(fixed, layouts).name == "legacy_fixed_width"
    assert choose_layout(csv_file, layouts).name == "generic_csv"
    read = read_court([csv_file, fixed], layouts, county="los_angeles", as_of=AS_OF)
    assert read.stats.select("layout", "rows_accepted").rows() == [("generic_csv", 5), ("legacy_fixed_width", 5)]
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="fits none of the layouts generic_csv, legacy_fixed_width"):
        read_court([other], layouts, county="los_angeles")


def test_byte_order_mark_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "excel_saved.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\r\n" + row() + "\r\n").encode())
    read = read_court([path], "generic_csv", county="los_angeles", as_of=AS_OF)
    assert read.stats.select("rows_read", "rows_accepted").row(0) == (1, 1)
    assert read.rows.select("case_number", "comment").row(0) == ("BA336486", None)


@pytest.mark.parametrize("padded_line", [3, 1500])
def test_padded_values_are_trimmed_wherever_they_are(tmp_path: Path, padded_line: int) -> None:
    # A clean file is proven clean by one pattern and not trimmed; a padded value, in the first
    # lines or far after them, still makes its column trimmed, and an empty quoted value is null.
    lines = [HEADER] + [row(case=f"BA{100000 + i}") for i in range(1600)]
    lines[padded_line - 1] = row(case="  PD100001 ", name='" GARCIA, MARIA "', dispo_date="2001-04-20 ")
    lines[padded_line] = row(case="PD100002", charge='""', comment=":CHRG 11358 HS")
    path = tmp_path / "padded.csv"
    path.write_text("\n".join(lines) + "\n")
    read = read_court([path], "generic_csv", county="los_angeles", as_of=AS_OF)
    assert read.quarantine.height == 0 and read.rows.height == 1600
    padded = read.rows.filter(pl.col("source_line") == padded_line).row(0, named=True)
    assert (padded["case_number"], padded["name"], padded["disposition_date"]) == ("PD100001", "GARCIA, MARIA", "2001-04-20")
    assert read.rows.filter(pl.col("source_line") == padded_line + 1)["charge"].item() is None
    clean = read.rows.filter(pl.col("source_line") == 2).row(0, named=True)
    assert (clean["case_number"], clean["name"], clean["charge"]) == ("BA100000", "GARCIA LOPEZ, MARIA ELENA", "11357(C)HS")
