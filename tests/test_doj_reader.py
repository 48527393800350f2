"""The DOJ research-file reader and its canonical persons and counts."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import model
from pipelines.errors import AutoclearError, InputError
from pipelines.sources.doj import (
    CANONICAL_INPUT_COLUMNS,
    COUNT_EXTRAS,
    LATIN1_LOSSY,
    RAW_LINE,
    STATS,
    doj_counts,
    doj_persons,
    load_doj,
    read_doj,
)

HEADER = ",".join(model.DOJ_COLUMNS)


def doj_line(**fields: str) -> str:
    """One 95-field DOJ row, empty except for the given columns, quoted like DOJ does."""
    values = [fields.pop(c, "") for c in model.DOJ_COLUMNS]
    assert not fields, f"not DOJ columns: {fields}"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def person(subject: str = "100", name: str = "DOE,JOHN Q", **fields: str) -> dict:
    # END_OF_REC carries DOJ's end-of-record marker, as in real files (the reader's fast path).
    return {"SUBJECT_ID": subject, "PRI_NAME": name, "PRI_DOB": "19700101",
            "STP_ORI_CNTY_NAME": "SACRAMENTO", "END_OF_REC": "#", **fields}


def write(tmp_path: Path, name: str, lines: list[str], *, header: bool = True) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines] if header else lines) + "\n")
    return path


def rows_of(tmp_path: Path, *rows: dict) -> pl.DataFrame:
    return read_doj([write(tmp_path, "rows.dat", [doj_line(**r) for r in rows])]).rows


# ---------------------------------------------------------------------------------------------
# Parsing fixtures (../shared/fixtures/gogen/parsing)


def test_bad_field_count_strict_names_file_line_and_field_count(gogen_fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_doj([gogen_fixtures / "parsing" / "bad_field_count.csv"], mode="strict")
    e = err.value
    assert (e.file, e.line, e.kind) == ("bad_field_count.csv", 2, "PARSING")
    assert "94 fields, expected 95" in str(e)
    assert "bad_field_count.csv" in str(e) and "line 2" in str(e)


def test_bad_field_count_quarantine(gogen_fixtures: Path) -> None:
    # Every one of the fixture's 37 data rows has 94 fields (the header has 94 names too):
    # counted with Python's csv module, independently of the reader.
    read = read_doj([gogen_fixtures / "parsing" / "bad_field_count.csv"])
    assert read.rows.height == 0
    assert read.quarantine.height == 37
    assert set(read.quarantine["reason"]) == {"field_count"}
    assert set(read.quarantine["detail"]) == {"94 fields, expected 95"}
    assert read.quarantine["source_line"].to_list() == list(range(2, 39))
    stats = read.stats.row(0, named=True)
    assert (stats["rows_read"], stats["rows_accepted"], stats["rows_quarantined"]) == (37, 0, 37)


def test_one_short_row_is_quarantined_and_the_rest_read(gogen_fixtures: Path, tmp_path: Path) -> None:
    lines = (gogen_fixtures / "configurable" / "input.csv").read_text().splitlines()
    short = lines[5][: lines[5].rindex(",")]  # drop the last field of data line 5 (file line 6)
    path = write(tmp_path, "one_short.dat", [*lines[1:5], short, *lines[6:]])
    read = read_doj([path])
    assert read.quarantine.height == 1
    q = read.quarantine.row(0, named=True)
    assert (q["source_file"], q["source_line"], q["reason"], q["detail"]) == (
        "one_short.dat", 6, "field_count", "94 fields, expected 95")
    assert q["raw"] == short
    assert read.rows.height == 37
    with pytest.raises(InputError, match="line 6: 94 fields, expected 95"):
        read_doj([path], mode="strict")


def test_extra_comma_header_and_no_header_read_the_same_rows(gogen_fixtures: Path) -> None:
    with_header = read_doj([gogen_fixtures / "parsing" / "extra_comma.csv"], mode="strict")
    without = read_doj([gogen_fixtures / "parsing" / "no_headers.csv"], mode="strict")
    assert with_header.stats["has_header"].to_list() == [True]
    assert without.stats["has_header"].to_list() == [False]
    assert with_header.rows.height == without.rows.height == 38
    assert with_header.rows.select(model.DOJ_COLUMNS).equals(without.rows.select(model.DOJ_COLUMNS))
    assert with_header.rows["source_line"].to_list() == list(range(2, 40))
    assert without.rows["source_line"].to_list() == list(range(1, 39))
    first = without.rows.row(0, named=True)
    assert first["PRI_NAME"] == "SKYWALKER,LUKE S"
    assert first["OFFENSE_TOC"] == "F" and first["OFFENSE_QUAL_LST"] == "              "  # untrimmed
    assert first["RECORD_ID"] == ""  # empty stays empty, not null


# ---------------------------------------------------------------------------------------------
# The two fixture inputs with independently produced results


# Persons: distinct SUBJECT_ID values of input.csv. Convictions: the sum over subjects of
# expected.csv's "# of convictions on record", plus one for subject 313457 in configurable, who
# has no cannabis conviction (so no such column) and one conviction (187 PC, CONVICTED-PROBATION,
# read by hand). Case numbers: the rows of expected.csv with a "Case Number".
FIXTURE_COUNTS = {
    "configurable": {"rows": 38, "persons": 13, "convictions": 30, "with_case_number": 16},
    "los_angeles": {"rows": 35, "persons": 10, "convictions": 28, "with_case_number": 13},
}


@pytest.mark.parametrize("fixture", sorted(FIXTURE_COUNTS))
def test_fixture_inputs(gogen_fixtures: Path, fixture: str) -> None:
    want = FIXTURE_COUNTS[fixture]
    read = read_doj([gogen_fixtures / fixture / "input.csv"], mode="strict")
    assert read.rows.height == want["rows"]
    persons, counts = doj_persons(read.rows), doj_counts(read.rows)
    assert persons.height == want["persons"]
    assert persons["person_id"].n_unique() == want["persons"]
    assert int(counts["is_conviction"].sum()) == want["convictions"]

    expected = pl.read_csv(gogen_fixtures / fixture / "expected.csv", infer_schema=False).with_row_index("row_index")
    convictions = expected.filter(pl.col("Date of Conviction").is_not_null()).with_columns(pl.col("row_index").cast(pl.Int64))
    assert convictions["Case Number"].is_not_null().sum() == want["with_case_number"]
    got = convictions.join(counts, on="row_index", how="left")
    assert got["is_conviction"].all()  # each expected conviction row is a count's conviction row
    assert got["event_date"].dt.strftime("%m/%d/%Y").to_list() == got["Date of Conviction"].to_list()
    assert got["case_numbers"].to_list() == got["Case Number"].to_list()


def test_fixture_counts_details(gogen_fixtures: Path) -> None:
    counts = doj_counts(read_doj([gogen_fixtures / "configurable" / "input.csv"]).rows)
    by_id = {r["count_id"]: r for r in counts.iter_rows(named=True)}
    c = by_id["doj:18675309:101001006000"]  # 11358 HS, CONVICTED-PROBATION 6 M on 1981-04-11
    assert (c["code"], c["section"], c["subsection"]) == ("HS", "11358", "")
    assert c["case_numbers"] == "NULL  ; 140192; 140193"
    assert c["case_number"] == "140192"  # "NULL" is not a case number
    assert c["sentence_end"] == date(1981, 10, 11)  # 6 x 732 h = 183 days
    assert c["case_id"] == "doj:18675309:101001" and c["cycle_id"] == "doj:18675309:101"
    assert c["count_number"] == 6 and c["county"] == "SACRAMENTO" and c["is_felony"]
    comment = by_id["doj:23675654:101001012000"]  # SEE COMMENT FOR CHARGE -> the comment
    assert comment["offense_text"] == "11358 HS" and comment["comment_sections"] == []
    other = by_id["doj:23675654:101001013000"]  # 11358 HS with comment naming 11359 HS
    assert other["comment_sections"] == ["HS 11359"]
    reg = by_id["doj:17954908:101001009000"]
    assert reg["step_type"] == "REGISTRATION" and reg["is_pc290_registration"]
    assert by_id["doj:18675309:101001004000"]["step_type"] == "DECEASED"
    assert counts.columns == [*model.COUNT, *COUNT_EXTRAS]
    assert counts.schema == pl.Schema({**model.COUNT, **COUNT_EXTRAS})


# ---------------------------------------------------------------------------------------------
# Reader behaviour


def test_latin1_bytes_never_crash(tmp_path: Path) -> None:
    line = doj_line(**person(name="PEÑA,JOSÉ"))
    path = tmp_path / "old.dat"
    path.write_bytes((HEADER + "\n" + line + "\n").encode("latin-1"))
    read = read_doj([path], mode="strict")
    assert read.rows.height == 1
    assert read.stats["encoding"].to_list() == [LATIN1_LOSSY]
    assert read.rows["PRI_NAME"][0].startswith("PE")
    assert doj_persons(read.rows)["first_name"][0].startswith("JOS")


def test_names_are_normalized_like_court_names(tmp_path: Path) -> None:
    # doj_persons uses the shared name normalizer: accents removed, hyphens in surnames become
    # blanks, the suffix apart (pipelines/normalize/names.py).
    rows = rows_of(tmp_path, person(name="PEÑA-GARCÍA JR,JOSÉ MARÍA"))
    p = doj_persons(rows).row(0, named=True)
    assert (p["last_name"], p["first_name"], p["middle_name"], p["name_suffix"]) == ("PENA GARCIA", "JOSE", "MARIA", "JR")
    assert p["name_raw"] == "PEÑA-GARCÍA JR,JOSÉ MARÍA"


def test_several_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.dat", [doj_line(**person("1")), doj_line(**person("2"))])
    b = write(tmp_path, "b.dat", [doj_line(**person("3"))], header=False)
    read = read_doj([a, b])
    assert read.rows["row_index"].to_list() == [0, 1, 2]
    assert read.rows["source_file"].to_list() == ["a.dat", "a.dat", "b.dat"]
    assert read.rows["source_line"].to_list() == [2, 3, 1]
    assert read.rows["source"].unique().to_list() == ["doj"]
    assert read.stats["source_file"].to_list() == ["a.dat", "b.dat"]
    assert read.rows.schema == pl.Schema({**{c: pl.String for c in model.DOJ_COLUMNS}, **model.LINEAGE, "row_index": pl.Int64})


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.dat"
    header_only.write_text(HEADER + "\n")
    read = read_doj([empty, header_only])
    assert read.rows.height == 0 and read.quarantine.height == 0
    assert read.stats.schema == pl.Schema(STATS)
    assert read.stats.select("rows_read", "has_header").rows() == [(0, False), (0, True)]
    assert doj_counts(read.rows).height == 0
    assert doj_persons(read.rows).height == 0


def test_no_files() -> None:
    read = read_doj([])
    assert read.rows.height == 0 and read.stats.height == 0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_doj([tmp_path / "nope.dat"])
    assert err.value.kind == "OTHER" and err.value.file == "nope.dat"


def test_bad_rows_of_every_kind(tmp_path: Path) -> None:
    good = doj_line(**person())
    lines = [
        good,
        good.replace("DOE,JOHN Q", "DOE,JOHN\x00Q"),  # NUL byte
        good.replace('"DOE,JOHN Q"', '"DOE,JOHN Q'),  # unterminated quote
        good.replace(',"DOE,JOHN Q"', ""),  # 94 fields
        good.replace('"DOE,JOHN Q"', 'D"O"E'),  # quote inside an unquoted field (95 fields)
        good + ",",  # 96 fields
        "",  # empty line: skipped, counted
        "   ",  # one field
        good,
    ]
    path = write(tmp_path, "bad.dat", lines)
    read = read_doj([path])
    assert read.rows["source_line"].to_list() == [2, 10]
    reasons = dict(zip(read.quarantine["source_line"], read.quarantine["reason"], strict=True))
    assert reasons == {3: "nul_byte", 4: "unterminated_quote", 5: "field_count", 6: "bad_quote",
                       7: "field_count", 9: "field_count"}
    stats = read.stats.row(0, named=True)
    assert (stats["rows_read"], stats["rows_accepted"], stats["rows_quarantined"], stats["blank_lines"]) == (8, 2, 6, 1)
    with pytest.raises(InputError, match="line 3: NUL byte"):
        read_doj([path], mode="strict")


def test_crlf_and_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "crlf.dat"
    line = doj_line(**person(COMMENT_TEXT='SAID "HI", THEN 11359 HS'))
    path.write_bytes((HEADER + "\r\n" + line + "\r\n").encode())
    rows = read_doj([path], mode="strict").rows
    assert rows["COMMENT_TEXT"].to_list() == ['SAID "HI", THEN 11359 HS']
    assert rows["END_OF_REC"].to_list() == ["#"]  # the \r of the line end is not part of the value


def test_header_naming_other_columns_is_refused(tmp_path: Path) -> None:
    names = list(model.DOJ_COLUMNS)
    names[3], names[4] = names[4], names[3]
    path = tmp_path / "swapped.dat"
    path.write_text(",".join(names) + "\n" + doj_line(**person()) + "\n")
    with pytest.raises(InputError, match="column 4"):
        read_doj([path])


def test_columns_subset(tmp_path: Path) -> None:
    path = write(tmp_path, "a.dat", [doj_line(**person())])
    read = read_doj([path], columns=CANONICAL_INPUT_COLUMNS)
    assert read.rows.columns == [*CANONICAL_INPUT_COLUMNS, *model.LINEAGE, "row_index"]
    assert doj_counts(read.rows).height == 1
    with pytest.raises(ValueError, match="not DOJ columns"):
        read_doj([path], columns=["NOPE"])


_JUNK = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from([b",", b'"', b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xa9", b"x",
                              b"RECORD_ID", b" ", b"\x1f", b"\t"]), max_size=200).map(b"".join),
    st.integers(min_value=1, max_value=3).map(lambda n: ("\n".join([doj_line(**person())] * n)).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(_JUNK, min_size=1, max_size=3).map(b"".join), mode=st.sampled_from(["quarantine", "strict"]))
def test_appended_bytes_never_break_the_reader(tmp_path: Path, junk: bytes, mode: str) -> None:
    good = [doj_line(**person(str(i))) for i in range(3)]
    path = tmp_path / "fuzz.dat"
    path.write_bytes(("\n".join([HEADER, *good]) + "\n").encode() + junk)
    try:
        read = read_doj([path], mode=mode)
    except AutoclearError:
        assert mode == "strict"
        return
    stats = read.stats.row(0, named=True)
    assert stats["rows_read"] == stats["rows_accepted"] + stats["rows_quarantined"]
    assert read.rows.height == stats["rows_accepted"] and read.quarantine.height == stats["rows_quarantined"]
    assert read.rows["SUBJECT_ID"].head(3).to_list() == ["0", "1", "2"]
    assert read.rows["source_line"].head(3).to_list() == [2, 3, 4]
    doj_counts(read.rows)
    doj_persons(read.rows)


# ---------------------------------------------------------------------------------------------
# Canonical counts: gogen's semantics


def test_conviction_is_first_convicted_row_and_later_rows_extend_the_sentence(tmp_path: Path) -> None:
    key = {"CNT_ORDER": "001002003000", "STP_TYPE_DESCR": "COURT ACTION", "OFFENSE_DESCR": "11359 HS-SALE"}
    rows = rows_of(
        tmp_path,
        person(**key, DISP_DESCR="PENDING", STP_EVENT_DATE="20000101"),
        person(**key, DISP_DESCR="CONVICTED-JAIL", STP_EVENT_DATE="20150131", SENT_LENGTH="1", SENT_TIME_CODE="M"),
        person(**key, DISP_DESCR="CONVICTED-PROBATION", STP_EVENT_DATE="20990101", SENT_LENGTH="2", SENT_TIME_CODE="D"),
        person(**key, DISP_DESCR="NO DISP", SENT_LENGTH="5", SENT_TIME_CODE="Y"),  # not convicted: ignored
        person(**key, DISP_DESCR="CONVICTED", SENT_LENGTH="9X", SENT_TIME_CODE="Y"),  # not a number: 0
    )
    counts = doj_counts(rows)
    assert counts.height == 1
    c = counts.row(0, named=True)
    assert c["is_conviction"] and c["row_index"] == 1 and c["source_line"] == 3
    assert c["event_date"] == date(2015, 1, 31)
    # 1 month = 732 h (30.5 days) + 2 days -> 2015-03-02 12:00 + 2 days -> 2015-03-04
    assert c["sentence_end"] == date(2015, 3, 4)
    assert c["count_number"] == 3 and c["disposition"] == "convicted"


@pytest.mark.parametrize(
    ("length", "unit", "end"),
    [("10", "Y", date(2018, 4, 18)), ("1", "Y", date(2009, 4, 11)), ("6", "M", date(2008, 10, 10)),
     ("90", "D", date(2008, 7, 9)), ("", "D", date(2008, 4, 10)), ("3", "W", date(2008, 4, 10)),
     ("+2", "D", date(2008, 4, 12)), ("-2", "D", date(2008, 4, 8)), (" 2", "D", date(2008, 4, 10))],
)
def test_sentence_units(tmp_path: Path, length: str, unit: str, end: date) -> None:
    rows = rows_of(tmp_path, person(CNT_ORDER="001001001000", DISP_DESCR="CONVICTED-JAIL",
                                     STP_EVENT_DATE="20080410", SENT_LENGTH=length, SENT_TIME_CODE=unit))
    assert doj_counts(rows)["sentence_end"].to_list() == [end]


def test_count_without_conviction_is_its_first_row(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        person(CNT_ORDER="001001001000", STP_TYPE_DESCR="ARREST/DETAINED/CITED", STP_EVENT_DATE="19990101"),
        person(CNT_ORDER="001001001000", STP_TYPE_DESCR="ARREST/DETAINED/CITED", STP_EVENT_DATE="19990202"),
        person(CNT_ORDER="001002001000", STP_TYPE_DESCR="COURT ACTION", DISP_DESCR="DISMISSED/FURTHERANCE OF JUSTICE"),
        person(CNT_ORDER="001002002000", STP_TYPE_DESCR="COURT ACTION", DISP_DESCR="ACQUITTED"),
        person(CNT_ORDER="001002003000", STP_TYPE_DESCR="COURT ACTION", DISP_DESCR="NOT GUILTY"),
        person(CNT_ORDER="001003001000", STP_TYPE_DESCR="PROBATION"),
    )
    counts = doj_counts(rows)
    assert counts["row_index"].to_list() == [0, 2, 3, 4, 5]
    assert counts["event_date"][0] == date(1999, 1, 1)
    assert counts["disposition"].to_list() == ["unknown", "dismissed", "acquitted", "acquitted", "unknown"]
    assert counts["step_type"].to_list() == ["ARREST", "COURT", "COURT", "COURT", "OTHER"]
    assert not counts["is_conviction"].any() and counts["sentence_end"].null_count() == 5


def test_felony_and_level(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        person(CNT_ORDER="001001001000", CONV_STAT_DESCR="FELONY", OFFENSE_TOC="M"),
        person(CNT_ORDER="001001002000", CONV_STAT_DESCR="", OFFENSE_TOC="F"),
        person(CNT_ORDER="001001003000", CONV_STAT_DESCR="MISDEMEANOR", OFFENSE_TOC="F"),
        person(CNT_ORDER="001001004000", CONV_STAT_DESCR="", OFFENSE_TOC="I"),
        person(CNT_ORDER="001001005000", CONV_STAT_DESCR="INFRACTION"),
        person(CNT_ORDER="001001006000", CONV_STAT_DESCR=" ", OFFENSE_TOC="F"),  # not blank: gogen says no
        person(CNT_ORDER="001001007000"),
    )
    counts = doj_counts(rows)
    assert counts["is_felony"].to_list() == [True, True, False, False, False, False, False]
    assert counts["level"].to_list() == ["F", "F", "M", "I", "I", None, None]


def test_case_numbers_over_all_rows_in_order_of_first_appearance(tmp_path: Path) -> None:
    court = {"STP_TYPE_DESCR": "COURT ACTION"}
    rows = rows_of(
        tmp_path,
        person(CNT_ORDER="001001001000", STP_TYPE_DESCR="ARREST/DETAINED/CITED", OFN="A1"),  # not court
        person(CNT_ORDER="001001002000", OFN="NULL  ", **court),
        person(CNT_ORDER="001001003000", OFN="BA123", **court),
        person(CNT_ORDER="001001004000", OFN="", **court),
        person(CNT_ORDER="001001005000", OFN="NULL  ", **court),
        person(CNT_ORDER="001002001000", OFN="BA999", **court),  # another case (step 002)
        person("200", CNT_ORDER="001001001000", OFN="BA555", **court),  # another person
    )
    counts = doj_counts(rows)
    assert counts["case_numbers"].to_list() == ["NULL  ; BA123"] * 5 + ["BA999", "BA555"]
    assert counts["case_number"].to_list() == ["BA123"] * 5 + ["BA999", "BA555"]
    assert counts["case_id"].to_list()[-2:] == ["doj:100:001002", "doj:200:001001"]


def test_case_number_is_normalized_like_court_numbers(tmp_path: Path) -> None:
    court = {"STP_TYPE_DESCR": "COURT ACTION"}
    rows = rows_of(tmp_path, person(CNT_ORDER="001001001000", OFN="NULL", **court),
                   person(CNT_ORDER="001001002000", OFN=" ga 039399 - 1 ", **court))
    counts = doj_counts(rows)
    assert counts["case_numbers"].to_list() == ["NULL;  ga 039399 - 1 "] * 2
    assert counts["case_number"].to_list() == ["GA039399-01"] * 2


def test_offense_text_and_comment_sections(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        person(CNT_ORDER="001001001000", OFFENSE_DESCR="  ", COMMENT_TEXT=":CHRG 11358 HS-CULTIVATE"),
        person(CNT_ORDER="001001002000", OFFENSE_DESCR="SEE COMMENT FOR CHARGE", COMMENT_TEXT="11357(B) HS"),
        person(CNT_ORDER="001001003000", OFFENSE_DESCR="11357(B) HS-POSSESS", COMMENT_TEXT="11357(D) - NOT (B)"),
        person(CNT_ORDER="001001004000", OFFENSE_DESCR="11358 HS -CULTIVATE", COMMENT_TEXT="11358 - SAME; ALSO H&S 11360(A)"),
        person(CNT_ORDER="001001005000", OFFENSE_DESCR="466 PC-TOOLS", COMMENT_TEXT="11358 - DIFFERENT"),
        person(CNT_ORDER="001001006000", OFFENSE_DESCR="GIBBERISH"),
    )
    counts = doj_counts(rows)
    assert counts["offense_text"].to_list() == [":CHRG 11358 HS", "11357(B) HS", "11357(B) HS", "11358 HS ", "466 PC", "GIBBERISH"]
    assert counts["section"].to_list() == ["11358", "11357", "11357", "11358", "466", None]
    assert counts["subsection"].to_list() == ["", "(b)", "(b)", "", "", None]
    assert counts["comment_sections"].to_list() == [[], [], ["11357(d)"], ["HS 11360(a)"], ["11358"], []]


def test_persons(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        person("7", name="O'BRIEN,MARY ANN", CII_NUMBER="A1234567", PRI_SSN="123-45-6788", PRI_CDL="d1234567 ",
               GENDER="F", RACE_DESCR="WHITE", FBI_NUMBER=" 123ab ", STP_ORI_CNTY_NAME="LOS ANGELES"),
        person("7", name="OTHER,NAME", STP_ORI_CNTY_NAME="SACRAMENTO"),
        person("8", name="SMITH,JOHN III", CII_NUMBER="1008675309", PRI_SSN="000000000", GENDER="Q", PRI_DOB="19701340"),
    )
    persons = doj_persons(rows)
    assert persons.schema == pl.Schema(model.PERSON)
    a, b = persons.iter_rows(named=True)  # one per SUBJECT_ID, from its first row
    assert (a["person_id"], a["source_person_key"], a["last_name"], a["first_name"], a["middle_name"]) == (
        "doj:7", "7", "OBRIEN", "MARY", "ANN")
    assert (a["cii"], a["ssn"], a["cdl"], a["fbi"], a["gender"], a["race"], a["county"]) == (
        "001234567", "123456788", "D1234567", "123AB", "F", "WHITE", "LOS ANGELES")
    assert a["dob"] == date(1970, 1, 1) and a["source_line"] == 2
    assert (b["last_name"], b["first_name"], b["middle_name"], b["name_suffix"]) == ("SMITH", "JOHN", None, "III")
    assert (b["cii"], b["ssn"], b["gender"], b["dob"]) == ("1008675309", None, None, None)


def test_person_ids_match_the_shared_normalizers(tmp_path: Path) -> None:
    # DOJ and court persons must normalize identifiers the same way, or linkage would miss.
    from pipelines.normalize import ids

    raw = {"CII_NUMBER": "A-123-456-78", "PRI_SSN": "555 12 3456", "PRI_CDL": "b7654321 ca", "FBI_NUMBER": "12ab34",
           "GENDER": "male"}
    got = doj_persons(rows_of(tmp_path, person(**raw))).row(0, named=True)
    want = pl.select(
        ids.normalize_cii(pl.lit(raw["CII_NUMBER"])).alias("cii"), ids.normalize_ssn(pl.lit(raw["PRI_SSN"])).alias("ssn"),
        ids.normalize_dl(pl.lit(raw["PRI_CDL"])).alias("cdl"), ids.normalize_fbi(pl.lit(raw["FBI_NUMBER"])).alias("fbi"),
        ids.normalize_gender(pl.lit(raw["GENDER"])).alias("gender"),
    ).row(0, named=True)
    assert {k: got[k] for k in want} == want
    assert got["cii"] == "012345678"


def test_file_containing_every_separator_candidate(tmp_path: Path) -> None:
    # Every control byte occurs, so no spare separator byte exists for the line read: the reader
    # splits the lines itself and still parses them.
    controls = "".join(chr(b) for b in range(1, 32) if chr(b) not in "\n\r") + "\x7f"
    path = write(tmp_path, "controls.dat", [doj_line(**person(COMMENT_TEXT=controls)), doj_line(**person("2"))])
    read = read_doj([path], mode="strict")
    assert read.rows["COMMENT_TEXT"].to_list() == [controls, ""]
    assert read.rows["source_line"].to_list() == [2, 3]


@pytest.mark.parametrize("block", [64, 1000, 5000])
def test_small_blocks_read_the_same(gogen_fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    # Files are read in blocks of whole lines; block edges must not change anything.
    import pipelines.sources.doj as doj

    lines = (gogen_fixtures / "configurable" / "input.csv").read_text().splitlines()
    lines[7] = lines[7] + ","  # a bad row in the middle
    path = tmp_path / "blocks.dat"
    path.write_text("\n".join(lines + ["", lines[3]]))  # blank line; last line without line end
    whole = read_doj([path])
    monkeypatch.setattr(doj, "_BLOCK_BYTES", block)
    parts = read_doj([path])
    assert parts.rows.equals(whole.rows)
    assert parts.quarantine.equals(whole.quarantine)
    assert parts.stats.equals(whole.stats)
    assert whole.rows.height == 38 and whole.quarantine["source_line"].to_list() == [8]
    assert whole.stats["blank_lines"].to_list() == [1]
    assert whole.rows["source_line"][-1] == 41


def test_row_order_does_not_change_counts_or_persons(gogen_fixtures: Path) -> None:
    # Counts and persons are found from runs of rows when a file is in record order, and by
    # sorting otherwise: a shuffled frame (same row_index values) must give the same result.
    rows = read_doj([gogen_fixtures / "los_angeles" / "input.csv"]).rows
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=7)
    assert doj_counts(shuffled).equals(doj_counts(rows))
    assert doj_persons(shuffled).equals(doj_persons(rows))
    interleaved = pl.concat([rows.filter(pl.col("row_index") % 2 == 0), rows.filter(pl.col("row_index") % 2 == 1)])
    assert doj_counts(interleaved).equals(doj_counts(rows))


def test_load_doj_is_read_persons_counts(gogen_fixtures: Path) -> None:
    path = gogen_fixtures / "configurable" / "input.csv"
    read = read_doj([path])
    loaded = load_doj([path])
    assert loaded.persons.equals(doj_persons(read.rows))
    assert loaded.counts.equals(doj_counts(read.rows))
    assert loaded.stats.equals(read.stats) and loaded.quarantine.equals(read.quarantine)


def test_raw_lines_are_the_accepted_lines_as_written(tmp_path: Path) -> None:
    good = [doj_line(**person("1")), doj_line(**person("2", COMMENT_TEXT='X "Y", Z'))]
    path = write(tmp_path, "raw.dat", [good[0], good[0] + ",", good[1]])
    read = read_doj([path], raw_lines=True, columns=["SUBJECT_ID"])
    assert read.rows.columns == ["SUBJECT_ID", *model.LINEAGE, RAW_LINE, "row_index"]
    assert read.rows[RAW_LINE].to_list() == good
    assert read.rows["source_line"].to_list() == [2, 4]
    assert RAW_LINE not in read_doj([path]).rows.columns


# The fast path (a block parsed without checking each line) must agree with the line-by-line
# check on every input: each file below is read both ways.
_LINE = doj_line(**person())
_TRICKY = {
    "good": [_LINE, _LINE],
    "96 fields": [_LINE, _LINE + ",y"],
    "trailing comma": [_LINE, _LINE + ","],
    "94 fields": [_LINE, _LINE.replace(',"DOE,JOHN Q"', "")],
    "94 + 96 fields": [_LINE.replace(',"DOE,JOHN Q"', ""), _LINE + ",y"],
    "quote inside a field": [_LINE, _LINE.replace('"DOE,JOHN Q"', 'D"OE'), _LINE],
    "stray quotes": [_LINE, _LINE.replace('"DOE,JOHN Q"', 'D"O"E')],
    "unterminated": [_LINE, _LINE.replace('"DOE,JOHN Q"', '"DOE,JOHN Q'), _LINE],
    "escaped quotes": [_LINE.replace('"DOE,JOHN Q"', '"DO""E,JOHN"')] * 2,
    "quoted field over two lines": [_LINE.replace('"DOE,JOHN Q"', '"DOE'), 'JOHN"' + _LINE[_LINE.index('"DOE,JOHN Q"') + 12:], _LINE],
    "blank line": [_LINE, "", _LINE],
    "no marker": [_LINE, _LINE[:-1]],
    "NUL": [_LINE, _LINE.replace("DOE", "D\x00E")],
    "CRLF": [_LINE + "\r", _LINE + "\r"],
    "quoted comma in an unread column": [_LINE, doj_line(**person(REQ_NAME="ROE,RICHARD"))],
    "quoted comma in a later comment": [_LINE, doj_line(**person(COMMENT_TEXT="A, B"))],
    "96 fields, the last quoted with a comma": [_LINE, _LINE + ',"y,z"'],
    "no quotes": [doj_line(**person(name="DOE JOHN"))] * 2,
    "no quotes, 96 fields": [doj_line(**person(name="DOE JOHN")), doj_line(**person(name="DOE JOHN")) + ",y"],
}
_COLUMN_CHOICES = {"all": None, "canonical": CANONICAL_INPUT_COLUMNS, "subject": ("SUBJECT_ID",)}


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, **kw):
    """The file read by each path: whole (Polars reads the file), in blocks (each parsed
    directly when safe), and line by line (each line checked). The two fast paths must agree
    with the line check; the first returned is the default read, the second the line check."""
    import pipelines.sources.doj as doj

    fast = read_doj([path], **kw)
    with monkeypatch.context() as m:
        m.setattr(doj, "_read_file_quickly", lambda *a, **k: None)
        blocks = read_doj([path], **kw)
        m.setattr(doj, "_read_block_quickly", lambda *a, **k: None)
        checked = read_doj([path], **kw)
    assert blocks.rows.equals(checked.rows)
    assert blocks.quarantine.equals(checked.quarantine)
    assert blocks.stats.equals(checked.stats)
    return fast, checked


@pytest.mark.parametrize("case", sorted(_TRICKY))
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("columns", sorted(_COLUMN_CHOICES))
def test_fast_path_agrees_with_the_line_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, header: bool,
                                              columns: str) -> None:
    path = write(tmp_path, "tricky.dat", _TRICKY[case], header=header)
    for raw_lines in (True, False):  # raw lines are read in blocks; without them, whole when safe
        fast, checked = _both_ways(path, monkeypatch, raw_lines=raw_lines, columns=_COLUMN_CHOICES[columns])
        assert fast.rows.equals(checked.rows)
        assert fast.quarantine.equals(checked.quarantine)
        assert fast.stats.equals(checked.stats)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.sampled_from(sorted({line for ls in _TRICKY.values() for line in ls})),
                                st.text(alphabet=',"x#\r', max_size=120)), min_size=1, max_size=8),
       columns=st.sampled_from(sorted(_COLUMN_CHOICES)))
def test_fast_path_agrees_on_random_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str],
                                          columns: str) -> None:
    path = write(tmp_path, "random.dat", lines)
    fast, checked = _both_ways(path, monkeypatch, columns=_COLUMN_CHOICES[columns])
    assert fast.rows.equals(checked.rows)
    assert fast.quarantine.equals(checked.quarantine)


@pytest.mark.parametrize("case", ["good", "quoted comma in an unread column", "quoted comma in a later comment",
                                  "escaped quotes", "CRLF", "no quotes"])
@pytest.mark.parametrize("columns", sorted(_COLUMN_CHOICES))
def test_well_formed_blocks_take_the_fast_path(tmp_path: Path, case: str, columns: str) -> None:
    import pipelines.sources.doj as doj

    data = write(tmp_path, "good.dat", _TRICKY[case]).read_bytes()
    keep = list(_COLUMN_CHOICES[columns] or model.DOJ_COLUMNS)
    block = doj._read_block_quickly(data, True, name="good.dat", keep=keep, raw_lines=False)
    assert block is not None and block.rows.height == len(_TRICKY[case])


@pytest.mark.parametrize("columns", sorted(_COLUMN_CHOICES))
def test_well_formed_files_are_read_whole(tmp_path: Path, columns: str) -> None:
    import pipelines.sources.doj as doj

    lines = [_LINE, doj_line(**person(COMMENT_TEXT="A, B")), _LINE.replace('"DOE,JOHN Q"', '"DO""E,JOHN"')]
    path = write(tmp_path, "good.dat", lines)
    keep = list(_COLUMN_CHOICES[columns] or model.DOJ_COLUMNS)
    block = doj._read_file_quickly(path, "good.dat", keep)
    # The comma in a comment on a later line is in a column the first line does not quote: when
    # that column is read its commas are counted; otherwise the file is read in blocks.
    assert (block is not None) == ("COMMENT_TEXT" in keep)
    if block is not None:
        assert block.rows["source_line"].to_list() == [2, 3, 4]


@pytest.mark.parametrize("block", [2000, 3000, 5000, "file size", "one line"])
def test_whole_file_scan_in_small_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int | str) -> None:
    # The whole-file scan reads blocks of whole lines into reused buffers; block edges (and a
    # file ending exactly at one) must not change anything.
    import pipelines.sources.doj as doj

    lines = [doj_line(**person(str(i), name=f"DOE{i},JOHN", COMMENT_TEXT='SAID "HI", LEFT' * (i % 3 == 0)))
             for i in range(40)]
    path = write(tmp_path, "good.dat", lines)
    expected = read_doj([path])
    size = {"file size": path.stat().st_size, "one line": 3}.get(block, block)
    monkeypatch.setattr(doj, "_BLOCK_BYTES", size)
    keep = list(model.DOJ_COLUMNS)
    whole = doj._read_file_quickly(path, path.name, keep)
    assert (whole is not None) == (block != "one line")  # a line longer than a block: read in blocks
    got = read_doj([path])
    assert got.rows.equals(expected.rows) and got.stats.equals(expected.stats)
    assert got.rows.height == 40 and got.rows["source_line"].to_list() == list(range(2, 42))
