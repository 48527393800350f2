"""The incumbent-compatible layer: formats, options files, summary, the `autoclear doj` command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.compat import gogen
from pipelines.compat.options import options_policy_yaml, policy_from_options, read_options
from pipelines.eligibility import determine, load_policy
from pipelines.eligibility.examples import convicted, person, records
from pipelines.eligibility.facts import conviction_facts
from pipelines.errors import ConfigError

AT = date(2019, 11, 11)
ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {
    "baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
    "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 57,
                         "yearsSinceConvictionThreshold": 10, "subjectIsDeceased": True,
                         "subjectHasOnlyProp64Charges": True},
}


def test_years_are_printed_like_go_percent_one_f():
    days = pl.DataFrame({"d": list(range(-800, 40_000))})
    ours = days.select(gogen._years_text(pl.col("d"))).to_series().to_list()
    go_like = [f"{(d * 24) / (24 * 365.25):.1f}" for d in days["d"]]
    assert ours == go_like
    assert days.select(gogen._years_text(pl.lit(None, dtype=pl.Int64))).item() == "-1.0"


@pytest.mark.parametrize(("offense", "comment", "flagged"), [
    ("11358 HS-CULTIVATE", "11359 - other", True),           # different section
    ("466 PC-SOMETHING", "11358 - in comment", True),        # offense names none
    ("11358 HS-CULTIVATE", "11358 - same", False),
    ("11357(B) HS-POSSESS", "11357(D) - other side", True),  # (a)/(b) versus (c)/(d)
    ("11357(C) HS-POSSESS", "11357(D) - same side", False),
    ("11357 HS-POSSESS", "11357(A) HS", True),               # subsection only in the comment
    ("SEE COMMENT FOR CHARGE", "11359 HS", False),           # the comment is the charge
    ("", "11359 HS", False),
    ("11359 HS", "", False),
])
def test_possible_other_p64_charges(offense, comment, flagged):
    got = pl.select(gogen.possible_other_p64_charges(pl.lit(offense), pl.lit(comment))).item()
    assert got == (comment if flagged else "")


def test_options_file_becomes_the_shipped_configurable_policy():
    parsed, _ = read_options(OPTIONS)
    text = options_policy_yaml(parsed, source="eligibility_options.json")
    assert (ROOT / "pipelines" / "eligibility" / "policies" / "configurable.yaml").read_text() == text
    p = policy_from_options(OPTIONS)
    assert [r.id for r in p.rules][:3] == ["misdemeanor_or_infraction", "dismiss_11357", "dismiss_11358"]


def test_options_without_extra_relief_and_crime_free():
    p = policy_from_options({"baselineEligibility": {"dismiss": ["11357"], "reduce": []},
                             "additionalRelief": {"yearsCrimeFreeThreshold": 5}})
    assert [r.id for r in p.rules] == ["misdemeanor_or_infraction", "dismiss_11357", "no_conviction_in_5_years",
                                       "otherwise"]
    assert p.rules[2].reason == "No convictions in the past 5 years"


@pytest.mark.parametrize(("options", "message"), [
    ({"additionalRelief": {"subjectAgeThreshold": 30}}, "SubjectAgeThreshold should be between 40 and 65, or 0"),
    ({"additionalRelief": {"yearsSinceConvictionThreshold": 20}}, "between 1 and 15"),
    ({"additionalRelief": {"subjectAgeTreshold": 50}}, "subjectAgeTreshold"),
    ({"baselineEligibility": {"dismiss": ["11364"]}}, "not one of the cannabis sections"),
    ({"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11357"]}}, "can never apply"),
])
def test_bad_options_are_explained(options, message):
    with pytest.raises(ConfigError, match=message):
        policy_from_options(options)


def test_options_file_json_error_names_the_line(tmp_path):
    path = tmp_path / "opts.json"
    path.write_text('{\n  "baselineEligibility": {\n    "dismiss": [11357,]\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"opts.json, line 3: not valid JSON"):
        policy_from_options(path)


def test_summary_counts_people_and_uses_compute_at_for_seven_years():
    counts, persons = records({
        "a": person("1960-01-01", convicted("2014-01-01", "HS 11359", level="M")),     # dismissed, recent
        "b": person("1970-01-01", convicted("2012-06-01", "HS 11359"),                  # reduced, not dismissed
                    convicted("2001-01-01", "PC 459", level="M")),
        "c": person("1980-01-01", convicted("2010-01-01", "HS 11358"), convicted("2015-01-01", "PC 459")),
        "d": person("1980-01-01", convicted("2010-01-01", "HS 11358", county="YOLO")),
    })
    policy = policy_from_options(OPTIONS)
    facts = conviction_facts(counts, persons, county="LOS ANGELES", compute_at=AT)
    decided = determine(counts, persons, policy=policy, county="LOS ANGELES", compute_at=AT)
    s = gogen.summary(county="LOS ANGELES", facts=facts, determinations=decided, policy=policy,
                      compute_at=AT, line_count=counts.height)
    assert s["earliestConviction"] == "2010-01-01T00:00:00Z" and s["lineCount"] == 6
    assert s["prop64ConvictionsCountInCountyByCodeSection"] == {"11358": 1, "11359": 2}
    assert s["subjectsWithProp64ConvictionCountInCounty"] == 3
    assert (s["prop64FelonyConvictionsCountInCounty"], s["prop64NonFelonyConvictionsCountInCounty"]) == (2, 1)
    assert s["reliefWithCurrentEligibilityChoices"] == {
        "CountSubjectsNoConviction": 1,            # a; b keeps the burglary, c too, d is not decided here
        "CountSubjectsNoConvictionLast7Years": 1,  # a; b has none since 2012-11-11; c's 2015 burglary stays
        "CountSubjectsNoFelony": 1,                # b (11359 reduced); a had no felony; c keeps a felony
    }
    assert s["reliefWithDismissAllProp64"] == {
        "CountSubjectsNoConviction": 1, "CountSubjectsNoConvictionLast7Years": 1, "CountSubjectsNoFelony": 1,
    }
    assert s["convictionDismissalCountByCodeSection"] == {"11357": 0, "11358": 1}
    assert s["convictionReductionCountByCodeSection"] == {"11359": 1, "11360": 0}
    assert s["convictionDismissalCountByAdditionalRelief"] == {}
    assert s["subjectsWithSomeReliefCount"] == 3
    assert json.loads(gogen.summary_json(s)) == s


def test_error_file_format():
    assert json.loads(gogen.error_json([("a.dat", "PARSING", "bad")])) == {
        "a.dat": {"errorType": "PARSING", "errorMessage": "bad"}}


# ---------------------------------------------------------------------------------------------
# The command.
def write_doj(path: Path, n_people: int = 3, cycle: int = 1) -> Path:
    """A small DOJ file (95 columns): per person a felony 11359 and a misdemeanor burglary."""
    from pipelines.model import DOJ_COLUMNS

    rows = []
    for i in range(n_people):
        base = dict.fromkeys(DOJ_COLUMNS, "")
        base.update(SUBJECT_ID=f"S{i}", PRI_NAME=f"DOE{i},JOHN", PRI_DOB="19600101", STP_ORI_CNTY_NAME="YOLO",
                    STP_TYPE_DESCR="COURT ACTION", OFN=f"CASE{i}")
        rows.append({**base, "CNT_ORDER": f"{cycle:03d}001001000", "STP_EVENT_DATE": "19900101",
                     "OFFENSE_DESCR": "11359 HS-POSSESS FOR SALE", "DISP_DESCR": "CONVICTED-PROBATION",
                     "CONV_STAT_DESCR": "FELONY"})
        rows.append({**base, "CNT_ORDER": f"{cycle + 1:03d}001001000", "STP_EVENT_DATE": "19950101",
                     "OFFENSE_DESCR": "459 PC-BURGLARY", "DISP_DESCR": "CONVICTED-JAIL",
                     "CONV_STAT_DESCR": "MISDEMEANOR", "SENT_LENGTH": "30", "SENT_TIME_CODE": "D"})
    pl.DataFrame(rows).select(DOJ_COLUMNS).write_csv(path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, ["doj", *args])


def test_command_writes_every_file_with_suffix_and_is_deterministic(tmp_path):
    src = write_doj(tmp_path / "yolo.dat")
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        r = invoke("--input-doj", str(src), "--county", "YOLO", "--compute-at", "2019-11-11",
                   "--policy", "statute", "--outputs", str(out), "--file-name-suffix", "run1", "--quiet")
        assert r.exit_code == 0, r.output
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(["All_Results_run1.csv", "All_Results_Condensed_run1.csv", "Prop64_Results_run1.csv",
                            "gogen_run1.json", "Determinations_run1.csv", "Explanations_run1.csv",
                            "Quarantine_run1.csv", "Policy_Used_run1.yaml", "autoclear_run_run1.json"])
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
        assert (outs[0] / name).stat().st_mode & 0o007 == 0, f"{name} is world-readable"
    results = pl.read_csv(outs[0] / "All_Results_run1.csv", infer_schema=False)
    assert results.height == 6 and results.columns[95:] == list(gogen.ELIGIBILITY_COLUMNS)
    prop64 = pl.read_csv(outs[0] / "Prop64_Results_run1.csv", infer_schema=False)
    assert prop64["Eligibility Determination"].to_list() == ["Eligible for Reduction"] * 3
    assert prop64["Date of Conviction"].to_list() == ["01/01/1990"] * 3
    assert prop64["Years Since Any Conviction"].to_list() == ["24.9"] * 3
    determinations = pl.read_csv(outs[0] / "Determinations_run1.csv", infer_schema=False)
    assert determinations["relief"].to_list() == ["redesignate_misdemeanor"] * 3
    assert determinations["explanation"].str.contains("APPLIES").all()


def test_command_failure_writes_the_error_file_and_exits_1(tmp_path):
    r = invoke("--input-doj", str(tmp_path / "missing.dat"), "--county", "YOLO", "--compute-at", "2019-11-11",
               "--policy", "statute", "--outputs", str(tmp_path / "out"))
    assert r.exit_code == 1
    err = json.loads((tmp_path / "out" / "gogen.err").read_text())
    ((file, body),) = err.items()
    assert file.endswith("missing.dat") and body["errorType"] == "OTHER" and "no such file" in body["errorMessage"]
    # A later successful run in the same folder removes the stale error file.
    src = write_doj(tmp_path / "yolo.dat")
    r = invoke("--input-doj", str(src), "--county", "YOLO", "--compute-at", "2019-11-11",
               "--policy", "statute", "--outputs", str(tmp_path / "out"), "--quiet")
    assert r.exit_code == 0 and not (tmp_path / "out" / "gogen.err").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--compute-at", "11/11/2019", "--policy", "statute"], "invalid --compute-at date"),
    (["--compute-at", "2019-11-11"], "exactly one of --eligibility-options"),
    (["--compute-at", "2019-11-11", "--policy", "statute", "--eligibility-options", "x.json"], "exactly one"),
    (["--compute-at", "2019-11-11", "--policy", "nowhere"], "no policy named 'nowhere'"),
    (["--compute-at", "2019-11-11", "--policy", "los_angeles", "--param", "age=old"], "must be int"),
])
def test_command_option_errors(tmp_path, args, message):
    src = write_doj(tmp_path / "yolo.dat")
    r = invoke("--input-doj", str(src), "--county", "YOLO", *args, "--outputs", str(tmp_path / "out"))
    assert r.exit_code == 1
    err = json.loads((tmp_path / "out" / "gogen.err").read_text())
    assert message in err[""]["errorMessage"]


def test_command_quarantines_malformed_rows_or_fails_in_strict_mode(gogen_fixtures, tmp_path):
    bad = gogen_fixtures / "parsing" / "bad_field_count.csv"
    r = invoke("--input-doj", str(bad), "--county", "SACRAMENTO", "--compute-at", "2019-11-11",
               "--policy", "configurable", "--outputs", str(tmp_path / "q"), "--quiet")
    assert r.exit_code == 0, r.output
    quarantine = pl.read_csv(tmp_path / "q" / "Quarantine.csv", infer_schema=False)
    assert quarantine.height == 37 and set(quarantine["reason"]) == {"field_count"}  # every row has 94 fields
    run = json.loads((tmp_path / "q" / "autoclear_run.json").read_text())
    assert run["rows"]["read"] == run["rows"]["accepted"] + run["rows"]["quarantined"]
    r = invoke("--input-doj", str(bad), "--county", "SACRAMENTO", "--compute-at", "2019-11-11",
               "--policy", "configurable", "--outputs", str(tmp_path / "s"), "--strict")
    assert r.exit_code == 1
    err = json.loads((tmp_path / "s" / "gogen.err").read_text())
    ((file, body),) = err.items()
    assert file.endswith("bad_field_count.csv") and body["errorType"] == "PARSING"
    assert "line" in body["errorMessage"] and "fields" in body["errorMessage"]


def test_several_input_files_are_one_history(tmp_path):
    a = write_doj(tmp_path / "a.dat", 2)
    b = write_doj(tmp_path / "b.dat", 1, cycle=3)
    r = invoke("--input-doj", f"{a},{b}", "--county", "YOLO", "--compute-at", "2019-11-11",
               "--policy", "los_angeles", "--outputs", str(tmp_path / "o"), "--quiet")
    assert r.exit_code == 0, r.output
    results = pl.read_csv(tmp_path / "o" / "All_Results.csv", infer_schema=False)
    assert results.height == 6
    # S0 appears in both files: one person with both files' convictions.
    counts = results.filter(pl.col("Eligibility Determination") != "")["# of convictions on record"].to_list()
    assert counts == ["4", "2", "4"]


def test_policy_cli_show_check_and_convert(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["policy", "show", "los_angeles", "--param", "age=55"])
    assert r.exit_code == 0 and "55 years or older" in r.output
    r = runner.invoke(app, ["policy", "list"])
    assert r.exit_code == 0 and "sacramento" in r.output
    opts = tmp_path / "eligibility_options.json"
    opts.write_text(json.dumps(OPTIONS))
    r = runner.invoke(app, ["policy", "from-options", str(opts), "--out", str(tmp_path / "p.yaml")])
    assert r.exit_code == 0
    assert load_policy(tmp_path / "p.yaml").name == "configurable"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: '1'\nrules:\n  - id: a\n    when: felon\n    then: {determination: Hand Review, reason: r}\n")
    r = runner.invoke(app, ["policy", "check", str(bad)])
    assert r.exit_code == 1 and "line 5" in r.output


def test_crlf_input_gives_the_same_results(tmp_path):
    src = write_doj(tmp_path / "lf.dat")
    crlf = tmp_path / "crlf.dat"
    crlf.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    outs = {}
    for name, path in (("lf", src), ("crlf", crlf)):
        r = invoke("--input-doj", str(path), "--county", "YOLO", "--compute-at", "2019-11-11",
                   "--policy", "statute", "--outputs", str(tmp_path / name), "--quiet")
        assert r.exit_code == 0, r.output
        outs[name] = pl.read_csv(tmp_path / name / "All_Results.csv", infer_schema=False)
    assert outs["lf"].equals(outs["crlf"])
    assert not (tmp_path / "crlf" / "All_Results.csv").read_bytes().count(b"\r")


def test_result_files_equal_a_plain_join_of_rows_and_cells(tmp_path, monkeypatch):
    """write_results lays the eligibility cells out by position and writes in slices; the files
    are byte for byte those of the plain way (rows joined to the cells, one CSV write), with
    values that need quoting (commas, quotes, empty strings) and a flagged comment."""
    from pipelines.model import DOJ_COLUMNS
    from pipelines.sources.doj import RAW_LINE, doj_counts, doj_persons, read_doj

    src = write_doj(tmp_path / "yolo.dat", n_people=5)
    # A name with a comma and a quote, a comment naming another cannabis section (flagged), case
    # numbers (an eligibility cell) with a comma and a quote, and empty.
    table = pl.read_csv(src, infer_schema=False).fill_null("").with_columns(
        pl.when(pl.col("SUBJECT_ID") == "S1").then(pl.lit('DOE1, "JR",JOHN')).otherwise("PRI_NAME").alias("PRI_NAME"),
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("CHARGE 11360 HS")).otherwise("COMMENT_TEXT")
        .alias("COMMENT_TEXT"),
        pl.col("OFN").replace({"CASE2": 'A,"B"', "CASE3": ""}),  # case numbers to quote, and none
    )
    table.write_csv(src)
    rows = read_doj([src], raw_lines=True).rows
    decided = determine(doj_counts(rows), doj_persons(rows), policy=load_policy("statute"), county="YOLO",
                        compute_at=AT)
    cells = gogen._row_columns(rows, decided, AT).collect()
    assert cells["Possible Other P64 Charges"].drop_nulls().to_list() == ["CHARGE 11360 HS"]
    assert {'A,"B"', ""} <= set(cells["Case Number"].to_list())
    joined = rows.join(cells, on="row_index", how="left", maintain_order="left")
    expected = {
        "condensed": joined.select(*gogen.CONDENSED_COLUMNS, *gogen.ELIGIBILITY_COLUMNS).write_csv(),
        "parsed": joined.select(*DOJ_COLUMNS, *gogen.ELIGIBILITY_COLUMNS).write_csv(),
        "prop64_parsed": joined.filter(pl.col("Eligibility Determination").is_not_null())
        .select(*DOJ_COLUMNS, *gogen.ELIGIBILITY_COLUMNS).write_csv(),
    }
    monkeypatch.setattr(gogen, "_WRITE_ROWS", 3)  # several slices
    echoed, parsed, from_file = tmp_path / "echoed", tmp_path / "parsed", tmp_path / "from_file"
    echoed.mkdir(), parsed.mkdir(), from_file.mkdir()
    gogen.write_results(rows, decided, AT, echoed)
    gogen.write_results(rows.drop(RAW_LINE), decided, AT, parsed)
    gogen.write_results(rows.drop(RAW_LINE), decided, AT, from_file, inputs=input_files([src]))
    for name in ("All_Results.csv", "Prop64_Results.csv", "All_Results_Condensed.csv"):
        assert (from_file / name).read_bytes() == (echoed / name).read_bytes(), name
    assert (echoed / "All_Results_Condensed.csv").read_text() == expected["condensed"]
    assert (parsed / "All_Results_Condensed.csv").read_text() == expected["condensed"]
    assert (parsed / "All_Results.csv").read_text() == expected["parsed"]
    assert (parsed / "Prop64_Results.csv").read_text() == expected["prop64_parsed"]
    # The echoed files carry the lines as written; parsed, they are the same table (an empty cell is
    # written "" there, as the incumbent did, and quoted by the parsed writer).
    for name in ("All_Results.csv", "Prop64_Results.csv"):
        assert pl.read_csv(echoed / name, infer_schema=False).fill_null("").equals(
            pl.read_csv(parsed / name, infer_schema=False).fill_null(""))
    assert '"DOE1, ""JR"",JOHN"' in (echoed / "All_Results.csv").read_text()
    written = (echoed / "All_Results.csv").read_text().splitlines()[1:]
    assert all(out.startswith(line + ",") for out, line in zip(written, src.read_text().splitlines()[1:], strict=True))


def input_files(paths: list[Path]) -> list[gogen.InputFile]:
    from pipelines.sources.doj import read_doj

    stats = read_doj(paths, columns=["END_OF_REC"]).stats
    fields = gogen.InputFile.__dataclass_fields__
    return [gogen.InputFile(path=p, **{k: v for k, v in s.items() if k in fields})
            for p, s in zip(paths, stats.iter_rows(named=True), strict=True)]


def test_lines_read_again_are_the_lines_the_reader_kept(tmp_path):
    """All_Results echoes the input lines; read again from the files they are exactly the reader's
    raw lines: CRLF, a byte order mark, a field holding the first line-separator candidate, no
    header, several files, and (read by the reader again) blank and malformed lines and Latin-1."""
    from pipelines.sources.doj import RAW_LINE, doj_counts, doj_persons, read_doj

    src = write_doj(tmp_path / "a.dat", n_people=4)
    lines = src.read_bytes().split(b"\n")
    crlf = tmp_path / "b.dat"  # BOM, header, CRLF, a quoted field with a line-separator byte
    crlf.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines).replace(b'"DOE1,JOHN"', b'"DOE1,\x1fJOHN"'))
    bom = tmp_path / "c.dat"  # BOM, no header
    bom.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines[1:]))
    messy = tmp_path / "d.dat"  # a blank line, a malformed line, Latin-1
    messy.write_bytes(b"\n".join([*lines[:3], b"", b"a,b,c", lines[3].replace(b"DOE1", b"D\xd6E1"), *lines[4:]]))
    paths = [src, crlf, bom, messy]
    read = read_doj(paths, raw_lines=True)
    assert read.stats["rows_quarantined"].to_list() == [0, 0, 0, 1] and read.stats["blank_lines"][3] == 1
    assert read.stats["has_header"].to_list() == [True, True, False, True]
    # a.dat and b.dat are scanned again (b.dat with the second separator); c.dat and d.dat read again.
    assert [gogen._absent_separator(p, bom_allowed=h) for p, h in zip(paths, [True, True, False, True], strict=True)
            ] == [("\x1f", False), ("\x1e", True), (None, False), ("\x1f", False)]
    rows = read.rows
    decided = determine(doj_counts(rows), doj_persons(rows), policy=load_policy("statute"), county="YOLO",
                        compute_at=AT)
    kept, again = tmp_path / "kept", tmp_path / "again"
    kept.mkdir(), again.mkdir()
    gogen.write_results(rows, decided, AT, kept)
    gogen.write_results(rows.drop(RAW_LINE), decided, AT, again, inputs=input_files(paths))
    for name in ("All_Results.csv", "Prop64_Results.csv", "All_Results_Condensed.csv"):
        assert (again / name).read_bytes() == (kept / name).read_bytes(), name
    written = (again / "All_Results.csv").read_bytes()
    assert b"\r" not in written and b"\xef\xbb\xbf" not in written and b"DOE1,\x1fJOHN" in written
    assert len(written.splitlines()) == rows.height + 1
    assert pl.read_csv(again / "Prop64_Results.csv").height == decided.height


def test_input_lines_that_do_not_match_the_rows_fail(tmp_path):
    """A file that no longer has one line per row read (changed since) stops the run."""
    from pipelines.errors import ConservationError
    from pipelines.sources.doj import doj_counts, doj_persons, read_doj

    src = write_doj(tmp_path / "a.dat", n_people=3)
    rows = read_doj([src]).rows
    decided = determine(doj_counts(rows), doj_persons(rows), policy=load_policy("statute"), county="YOLO",
                        compute_at=AT)
    inputs = input_files([src])
    lines = src.read_bytes().splitlines(keepends=True)
    for changed in (lines[:-1], [*lines, lines[-1]]):
        src.write_bytes(b"".join(changed))
        with pytest.raises(ConservationError, match="input lines echoed"):
            gogen.write_results(rows, decided, AT, tmp_path, inputs=inputs)
    # The command notices any change (size or modification time) before echoing a line.
    from dataclasses import replace

    from pipelines.errors import InputError

    versioned = [replace(f, version=(f.path.stat().st_size + 1, f.path.stat().st_mtime_ns)) for f in inputs]
    with pytest.raises(InputError, match="changed while it was being processed"):
        gogen.write_results(rows, decided, AT, tmp_path, inputs=versioned)


def test_explanations_are_each_conviction_s_tried_rules_in_order():
    """The reviewer's file: per conviction (count_id order) one row per rule tried, up to the one
    that decided, with the facts that rule looked at; the same as building each rule's rows and
    sorting them."""
    from pipelines.eligibility import explanations_long
    from pipelines.eligibility.engine import fact_text

    counts, persons = records({
        "z": person("1960-01-01", convicted("2014-01-01", "HS 11359", level="M")),
        "a": person("1970-01-01", convicted("2012-06-01", "HS 11359"), convicted("2001-01-01", "PC 459", level="M"),
                    convicted("1999-01-01", "HS 11357")),
        "c": person("2001-01-01", convicted("2010-01-01", "HS 11358"), convicted("2015-01-01", "PC 187")),
        "d": person(None, convicted("2011-01-01", "HS 11360")),
    })
    policy = load_policy("los_angeles")
    decided = determine(counts, persons, policy=policy, county="LOS ANGELES", compute_at=AT)
    got = explanations_long(decided, policy)
    order = {r.id: i for i, r in enumerate(policy.rules)}
    tried = decided.with_columns(pl.col("rule_id").replace_strict(order, return_dtype=pl.Int32).alias("_rule"))
    expected = pl.concat([
        tried.filter(pl.col("_rule") >= i).select(
            "count_id", pl.lit(i + 1, dtype=pl.Int32).alias("step"), pl.lit(rule.id).alias("rule_id"),
            pl.lit(rule.condition.text()).alias("condition"), (pl.col("_rule") == i).alias("applied"),
            pl.concat_str([pl.concat_str([pl.lit(f + "="), fact_text(f)]) for f in rule.condition.facts()],
                          separator=", ").alias("facts") if rule.condition.facts() else pl.lit("").alias("facts"),
            pl.when(pl.col("_rule") == i).then(pl.col("determination")).alias("determination"),
        )
        for i, rule in enumerate(policy.rules)
    ]).sort("count_id", "step")
    assert got.equals(expected)
    assert got.height > decided.height > 3 and got["count_id"].n_unique() == decided.height
    assert got.group_by("count_id").agg(pl.col("applied").sum())["applied"].to_list() == [1] * decided.height
