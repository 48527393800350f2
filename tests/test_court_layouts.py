"""Every layout kind reads the same charges to the same canonical counts; the real SF sample reads
as documented; layouts are validated with file, key and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import ROOT
from pipelines.errors import ConfigError, InputError
from pipelines.sources.court import (
    CANONICAL_FIELDS,
    ROW_SCHEMA,
    court_counts,
    court_persons,
    list_layouts,
    load_layout,
    read_court,
)

AS_OF = date(2024, 7, 1)
GENERIC_COLUMNS = (
    "court_case_number", "courthouse", "count_number", "person_key", "defendant_name", "dob", "gender", "race", "cii",
    "ssn", "dl_number", "charge", "charge_level", "charge_description", "offense_date", "disposition_code",
    "disposition", "disposition_date", "sentence_length", "sentence_unit", "comment",
)
# name parts are kept separately so each layout can write the name in its own form
SAMPLE = [
    dict(court_case_number="BA336486", courthouse="CENTRAL", count_number=1, person_key="P001",
         last="GARCIA LOPEZ", first="MARIA", middle="ELENA", suffix=None, dob=date(1970, 3, 14), gender="F",
         race="HISPANIC", cii="A12345678", ssn="765894322", dl_number="F1234567 CA", charge="11357(C)HS",
         charge_level="M", charge_description="POSS MARIJUANA", offense_date=date(2001, 1, 2),
         disposition_code="C", disposition="CONVICTED-JAIL", disposition_date=date(2001, 4, 20),
         sentence_length="30", sentence_unit="D", comment=None),
    dict(court_case_number="BA336486", courthouse="CENTRAL", count_number=2, person_key="P001",
         last="GARCIA LOPEZ", first="MARIA", middle="ELENA", suffix=None, dob=date(1970, 3, 14), gender="F",
         race="HISPANIC", cii="A12345678", ssn=None, dl_number=None, charge="11360(A)HS", charge_level="F",
         charge_description="SALE MARIJUANA", offense_date=date(2001, 1, 2), disposition_code="D",
         disposition="DISMISSED PER PLEA", disposition_date=date(2001, 4, 20), sentence_length=None,
         sentence_unit=None, comment=None),
    dict(court_case_number="GA039399-01", courthouse="PASADENA", count_number=1, person_key="P002",
         last="OBRIEN", first="SEAN", middle=None, suffix="JR", dob=date(1985, 12, 1), gender="M", race="WHITE",
         cii=None, ssn=None, dl_number=None, charge=None, charge_level="F", charge_description=None,
         offense_date=None, disposition_code=None, disposition="CONVICTED-PROBATION",
         disposition_date=date(2010, 6, 30), sentence_length="3", sentence_unit="Y", comment=":CHRG 11359 HS"),
    dict(court_case_number="KA057009", courthouse="POMONA", count_number=1, person_key="P003",
         last="MUNOZ", first="ANGEL", middle=None, suffix=None, dob=date(1990, 7, 4), gender="M", race="OTHER",
         cii="12345679", ssn=None, dl_number=None, charge="HS 11358", charge_level="FEL",
         charge_description="CULTIVATION", offense_date=None, disposition_code=None, disposition="GUILTY PLEA",
         disposition_date=date(2015, 2, 1), sentence_length="16", sentence_unit="M", comment="ALSO 11357(B) HS"),
    dict(court_case_number="KA057009", courthouse="POMONA", count_number=2, person_key="P003",
         last="MUNOZ", first="ANGEL", middle=None, suffix=None, dob=date(1990, 7, 4), gender="M", race="OTHER",
         cii="12345679", ssn=None, dl_number=None, charge="11357(B)HS", charge_level="INF",
         charge_description="POSSESSION", offense_date=None, disposition_code=None, disposition="NOT GUILTY",
         disposition_date=date(2015, 2, 1), sentence_length=None, sentence_unit=None, comment=None),
]


def _sample_frame(name_form: str = "LAST, FIRST MIDDLE", typed: bool = False) -> pl.DataFrame:
    rows = []
    for r in SAMPLE:
        given = " ".join(p for p in (r["first"], r["middle"]) if p)
        last = r["last"] + (f" {r['suffix']}" if r["suffix"] else "")
        if name_form == "LAST/FIRST/MIDDLE":
            name = "/".join(p for p in (last, r["first"], r["middle"]) if p)
        else:
            name = f"{last}, {given}"
        out = {c: r.get(c) for c in GENERIC_COLUMNS}
        out["defendant_name"] = name
        rows.append(out)
    frame = pl.DataFrame(rows, schema={c: (pl.Date if c in ("dob", "offense_date", "disposition_date") else
                                         pl.Int64 if c == "count_number" else pl.String) for c in GENERIC_COLUMNS})
    if not typed:
        frame = frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d"), pl.col("count_number").cast(pl.String))
    return frame


def write_generic_csv(path: Path) -> Path:
    _sample_frame().write_csv(path)
    return path


def write_xlsx(path: Path) -> Path:
    _sample_frame(typed=True).write_excel(path, worksheet="Charges")  # real date and number cells
    return path


def write_parquet(path: Path) -> Path:
    _sample_frame(typed=True).write_parquet(path)
    return path


def write_fixed_width(path: Path) -> Path:
    """Positions come from the layout file: the YAML is the contract."""
    layout = load_layout("legacy_fixed_width")
    frame = _sample_frame("LAST/FIRST/MIDDLE")
    column_of = {"case_number": "court_case_number", "name": "defendant_name"}
    lines = []
    for row in frame.iter_rows(named=True):
        line = [" "] * layout.record_length
        for field, spec in layout.fields.items():
            value = row[column_of.get(field, field)]
            if value is None:
                continue
            if field in ("dob", "offense_date", "disposition_date"):
                value = value.replace("-", "")  # YYYYMMDD
            if field == "name":
                value = value.replace("MUNOZ", "MUÑOZ")  # a Latin-1 character
            width = spec.end - spec.start + 1
            line[spec.start - 1:spec.end] = list(str(value)[:width].ljust(width))
        lines.append("".join(line).rstrip())  # legacy exports often trim trailing blanks
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


WRITERS = {
    "generic_csv": ("extract.csv", write_generic_csv),
    "generic_xlsx": ("extract.xlsx", write_xlsx),
    "generic_parquet": ("extract.parquet", write_parquet),
    "legacy_fixed_width": ("extract.txt", write_fixed_width),
}

COMPARED = ["count_id", "person_id", "case_id", "case_number", "count_number", "event_date", "offense_text",
            "code", "section", "subsection", "comment_sections", "level", "is_felony", "disposition",
            "is_conviction", "sentence_end", "defendant_suffix", "case_number_base", "is_wobbler", "statute_source"]


@pytest.fixture(scope="module")
def read_all(tmp_path_factory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("layouts")
    out = {}
    for name, (file, writer) in WRITERS.items():
        out[name] = read_court([writer(base / file)], name, county="los_angeles", as_of=AS_OF)
    return out


def test_shipped_layouts() -> None:
    assert set(list_layouts()) >= {"sf_cms", "generic_csv", "legacy_fixed_width", "generic_xlsx", "generic_parquet",
                                   "generic_sql"}
    kinds = {n: load_layout(n).kind for n in list_layouts()}
    assert set(kinds.values()) == {"delimited", "fixed_width", "excel", "parquet", "sql"}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_kind_reads_all_rows(read_all, name: str) -> None:
    read = read_all[name]
    assert read.stats.row(0, named=True) | {"source_file": None} == {
        "source_file": None, "layout": name, "rows_read": 5, "rows_accepted": 5, "rows_quarantined": 0,
        "blank_lines": 0, "encoding": read.stats["encoding"][0]}
    assert read.rows.schema == pl.Schema(ROW_SCHEMA)
    assert read.quarantine.height == 0


def test_every_kind_gives_the_same_counts_and_persons(read_all) -> None:
    expected = court_counts(read_all["generic_csv"].rows, county="los_angeles").select(COMPARED)
    persons = court_persons(read_all["generic_csv"].rows, county="los_angeles").drop(
        "name_raw", "source_file", "source_line")
    for name in WRITERS:
        counts = court_counts(read_all[name].rows, county="los_angeles")
        assert counts.select(COMPARED).equals(expected), name
        got = court_persons(read_all[name].rows, county="los_angeles").drop("name_raw", "source_file", "source_line")
        assert got.equals(persons), name


def test_canonical_counts(read_all) -> None:
    counts = court_counts(read_all["generic_csv"].rows, county="los_angeles")
    by_id = {r["count_id"]: r for r in counts.iter_rows(named=True)}
    assert list(by_id) == ["court:LOS ANGELES:BA336486:1", "court:LOS ANGELES:BA336486:2",
                           "court:LOS ANGELES:GA039399-01:1", "court:LOS ANGELES:KA057009:1",
                           "court:LOS ANGELES:KA057009:2"]
    first = by_id["court:LOS ANGELES:BA336486:1"]
    assert (first["person_id"], first["step_type"], first["code"], first["section"], first["subsection"]) == (
        "court:LOS ANGELES:P001", "COURT", "HS", "11357", "(c)")
    assert (first["level"], first["is_conviction"], first["event_date"], first["sentence_end"]) == (
        "M", True, date(2001, 4, 20), date(2001, 5, 20))
    plea = by_id["court:LOS ANGELES:BA336486:2"]
    assert (plea["disposition"], plea["is_conviction"], plea["sentence_end"]) == ("dismissed", False, None)
    from_comment = by_id["court:LOS ANGELES:GA039399-01:1"]
    assert (from_comment["section"], from_comment["statute_source"], from_comment["offense_text"]) == (
        "11359", "comment", "HS 11359")
    assert (from_comment["defendant_suffix"], from_comment["case_number_base"]) == ("01", "GA039399")
    assert from_comment["sentence_end"] == date(2013, 6, 30)
    cultivation = by_id["court:LOS ANGELES:KA057009:1"]
    assert cultivation["comment_sections"] == ["HS 11357(b)"]  # another statute the comment names
    assert cultivation["sentence_end"] == date(2016, 6, 1)
    acquitted = by_id["court:LOS ANGELES:KA057009:2"]
    assert (acquitted["disposition"], acquitted["level"], acquitted["event_date"]) == ("acquitted", "I", date(2015, 2, 1))
    assert counts.schema["count_number"] == pl.Int32 and counts["row_index"].is_null().all()


def test_canonical_persons(read_all) -> None:
    persons = court_persons(read_all["legacy_fixed_width"].rows, county="LOS ANGELES")
    rows = {r["person_id"]: r for r in persons.iter_rows(named=True)}
    garcia = rows["court:LOS ANGELES:P001"]
    assert (garcia["last_name"], garcia["first_name"], garcia["middle_name"]) == ("GARCIA LOPEZ", "MARIA", "ELENA")
    assert (garcia["cii"], garcia["ssn"], garcia["cdl"], garcia["dl_state"]) == ("012345678", "765894322", "F1234567", "CA")
    assert garcia["dob"] == date(1970, 3, 14) and garcia["rows"] == 2 and garcia["last_tokens"] == ["GARCIA", "LOPEZ"]
    obrien = rows["court:LOS ANGELES:P002"]
    assert (obrien["last_name"], obrien["name_suffix"]) == ("OBRIEN", "JR")
    assert rows["court:LOS ANGELES:P003"]["last_name"] == "MUNOZ"  # Latin-1 Ñ read and folded


def test_sf_sample(shared_dir: Path) -> None:
    sample = shared_dir / "fixtures" / "court_cms_sf" / "cms_extract_sample.csv"
    read = read_court([sample], "sf_cms", county="san_francisco", as_of=AS_OF)
    assert read.stats.select("rows_read", "rows_accepted", "rows_quarantined").row(0) == (9, 9, 0)
    counts = court_counts(read.rows, county="san_francisco")
    assert counts.height == 9 and counts["is_conviction"].all()  # code 190: county jail w/ probation
    assert counts["county"].unique().to_list() == ["SAN FRANCISCO"]
    cookie = counts.filter(pl.col("case_number") == "398760").sort("count_number")
    assert cookie["count_number"].to_list() == [1, 2]  # no count column: rank within the case
    assert cookie["section"].to_list() == ["11358", "11360"]
    bird = counts.filter(pl.col("person_id") == "court:SAN FRANCISCO:S554423").sort("event_date")
    assert bird["event_date"].to_list() == [date(1985, 8, 1), date(1999, 4, 20)]  # MMDDYY 080185, 042099
    assert bird["level"].to_list() == ["F", "M"]
    persons = court_persons(read.rows, county="san_francisco")
    assert persons.height == 6
    big_bird = persons.filter(pl.col("person_id") == "court:SAN FRANCISCO:S554423").row(0, named=True)
    assert big_bird["conflicting_fields"] == ["cii"]  # two CIIs for one SFNO in the sample
    assert (big_bird["dob"], big_bird["cdl"], big_bird["dl_state"]) == (date(1965, 9, 14), "F1234567", "CA")
    grouch = persons.filter(pl.col("last_name") == "GROUCH").row(0, named=True)
    assert (grouch["first_name"], grouch["middle_name"]) == ("OSCAR", "THE")
    # The cookie row without a DOB still gives the person's DOB from the other row.
    assert persons.filter(pl.col("first_name") == "COOKIE")["dob"].to_list() == [date(1955, 11, 17)]


def test_sf_end_marker_catches_a_truncated_row(shared_dir: Path, tmp_path: Path) -> None:
    text = (shared_dir / "fixtures" / "court_cms_sf" / "cms_extract_sample.csv").read_text()
    lines = text.splitlines()
    lines[2] = lines[2].replace(",EOR", ",")  # the marker lost: same field count, truncated record
    path = tmp_path / "sf.csv"
    path.write_text("\n".join(lines) + "\n")
    read = read_court([path], "sf_cms", county="san_francisco", as_of=AS_OF)
    assert read.quarantine.select("source_line", "reason").rows() == [(3, "end_marker")]


# ---- layout validation -------------------------------------------------------------------------


def _layout_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "court.yaml"
    path.write_text(text)
    return path


BASE = """
name: test_court
kind: delimited
fields:
  case_number: {column: case}
  charge: {column: charge}
  name: {column: name}
"""


def test_a_new_court_is_a_yaml_file(tmp_path: Path) -> None:
    layout_path = _layout_file(tmp_path, BASE.replace("kind: delimited", "kind: delimited\ndelimiter: '|'")
                               + "  disposition: {column: result}\n  disposition_date: {column: date, format: MM/DD/YYYY}\n")
    data = tmp_path / "court.txt"
    data.write_text("CASE|CHARGE|NAME|RESULT|DATE\nX123456|11359 HS|DOE, JANE|GUILTY|3/4/2005\n")
    read = read_court([data], layout_path, county="alameda", as_of=AS_OF)
    counts = court_counts(read.rows, county="alameda")
    assert counts.select("count_id", "person_id", "section", "is_conviction", "event_date").row(0) == (
        "court:ALAMEDA:X123456:1", "court:ALAMEDA:X123456#1", "11359", True, date(2005, 3, 4))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  name: {column: name}\n", ""), "name (or last_name)"),
        (("  charge: {column: charge}\n", "  charge: {column: charge}\n  nickname: {column: x}\n"), "nickname"),
        (("kind: delimited", "kind: csv"), "kind"),
        (("  name: {column: name}", "  name: {column: name, format: FIRST LAST}"), "fields.name.format"),
        (("  charge: {column: charge}", "  charge: {column: charge}\n  dob: {column: d, format: DDMMYY}"), "DDMMYY"),
        (("  charge: {column: charge}", "  charge: {column: charge, start: 1, end: 5}"), "exactly one"),
        (("kind: delimited", "kind: fixed_width"), "start and end positions"),
        (("kind: delimited", "kind: delimited\ndelimtier: ';'"), "delimtier"),
        (("kind: delimited", "kind: delimited\ndelimiter: ';;'"), "one character"),
        (("kind: delimited", "kind: sql\nsql: {query: ../../etc/passwd.sql}"), "inside"),
        (("kind: delimited", "kind: sql\nsql: {query: nothing_here.sql}"), "not found"),
        (("kind: delimited", "kind: delimited\ndisposition_codes: {'1': guilty}"), "disposition_codes"),
    ],
)
def test_layout_mistakes_name_file_key_and_reason(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _layout_file(tmp_path, BASE.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_layout(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["../counties/los_angeles", "..", "sf_cms/../generic_csv", "SF CMS", "no_such_layout"])
def test_layout_names_cannot_escape_the_config_directory(name: str) -> None:
    with pytest.raises(ConfigError):
        load_layout(name)


def test_header_without_the_layout_columns_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("case,charge\nX1,11359 HS\n")
    with pytest.raises(InputError) as info:
        read_court([path], _layout_file(tmp_path, BASE), county="alameda")
    assert "wrong.csv" in str(info.value) and "'name'" in str(info.value) and info.value.line == 1


def test_row_schema_holds_every_canonical_field() -> None:
    assert set(CANONICAL_FIELDS) <= set(ROW_SCHEMA)
    assert (ROOT / "config" / "layouts" / "legacy_fixed_width.yaml").is_file()
