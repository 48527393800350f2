"""`autoclear check-layout`: counts only by default, values only with --show-values, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


@pytest.fixture()
def sf_sample(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "court_cms_sf" / "cms_extract_sample.csv"


def test_check_layout_reports_counts_without_personal_values(sf_sample: Path) -> None:
    result = runner.invoke(app, ["check-layout", "--layout", "sf_cms", str(sf_sample), "--county", "san_francisco"])
    assert result.exit_code == 0, result.output
    assert "9 rows read" in result.output and "9 accepted" in result.output
    for personal in ("BIRD", "MONSTER", "S554423", "A123456780", "765894322", "F1234567", "091465"):
        assert personal not in result.output


def test_show_values_shows_examples(sf_sample: Path) -> None:
    result = runner.invoke(app, ["check-layout", "-l", "sf_cms", str(sf_sample), "--show-values"])
    assert result.exit_code == 0, result.output
    assert "BIRD" in result.output


def test_json_report_and_exit_code_for_an_unreadable_file(sf_sample: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Court Number,Truename\n1,X/Y\n")  # the header lacks the layout's columns
    result = runner.invoke(app, ["check-layout", "--layout", "sf_cms", str(sf_sample), str(bad),
                                 str(tmp_path / "missing.csv"), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["layout"] == "sf_cms" and doc["ok"] is False
    by_file = {f["file"]: f for f in doc["files"]}
    assert by_file["cms_extract_sample.csv"]["status"] == "ok"
    assert by_file["cms_extract_sample.csv"]["rows_accepted"] == 9
    assert {f["field"] for f in by_file["cms_extract_sample.csv"]["fields"]} >= {"case_number", "dob", "charge"}
    assert by_file["bad.csv"]["status"] == "unreadable" and "SFNO" in by_file["bad.csv"]["error"]
    assert by_file["missing.csv"]["status"] == "unreadable"
    assert "examples" not in json.dumps(doc)


def test_quarantine_reasons_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    header = ("court_case_number,courthouse,count_number,person_key,defendant_name,dob,gender,race,cii,ssn,dl_number,"
              "charge,charge_level,charge_description,offense_date,disposition_code,disposition,disposition_date,"
              "sentence_length,sentence_unit,comment")
    good = 'BA1,C,1,P,"DOE, JANE",1970-01-01,F,,,,,11359 HS,F,,,,GUILTY,2001-01-01,,,'
    path.write_text("\n".join([header, good, good + ",EXTRA", good.replace("2001-01-01", "2001-02-30").replace(",1,", ",2,")]))
    result = runner.invoke(app, ["check-layout", "--layout", "generic_csv", str(path), "--json"])
    assert result.exit_code == 0, result.output  # quarantined rows alone do not fail the check
    report = json.loads(result.stdout)["files"][0]
    assert (report["rows_read"], report["rows_accepted"], report["rows_quarantined"]) == (3, 1, 2)
    assert {r["reason"]: r["first_lines"] for r in report["quarantined_by_reason"]} == {
        "field_count": [3], "bad_date": [4]}


def test_usage_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["check-layout", str(tmp_path / "x.csv")]).exit_code == 2  # no --layout
    assert runner.invoke(app, ["check-layout", "--layout", "nope", str(tmp_path / "x.csv")]).exit_code == 2
    assert runner.invoke(app, ["check-layout", "--layout", "generic_csv"]).exit_code == 2  # no file


def test_layouts_and_counties_commands() -> None:
    result = runner.invoke(app, ["layouts"])
    assert result.exit_code == 0 and "sf_cms" in result.output and "fixed_width" in result.output
    result = runner.invoke(app, ["counties"])
    assert result.exit_code == 0 and "sacramento" in result.output and "error" not in result.output
