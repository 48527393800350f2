"""Validation gates: every suite passes a clean county, and each fault class fails the right
expectation and blocks delivery. Real Great Expectations throughout (no mocks)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from pipelines.errors import ConfigError, ValidationFailed
from pipelines.validation import CHECKPOINTS, gate, load_suite, run_checkpoint
from pipelines.validation.sample import clean_county
from pipelines.validation.suites import expectations_dir
from pipelines.validation.tables import ValidationContext, prepare

N = 40  # DOJ counts in the sample county (60 determinations, 40 delivery rows)


@pytest.fixture(scope="module")
def county():
    return clean_county(N)


def run(county, checkpoint: str, out_dir: Path, *, frames: dict | None = None, docs: bool = False, **context):
    ctx = {**county.context[checkpoint], "build_docs": docs, **context}
    return run_checkpoint(checkpoint, frames or county.frames[checkpoint], context=ctx, out_dir=out_dir)


# ---------------------------------------------------------------------------------------------
# Suite files


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_suite_file_is_complete(checkpoint, county):
    suite = load_suite(checkpoint)
    assert suite.path == (expectations_dir() / f"{checkpoint}.yaml").resolve()
    for _, exp in suite.expectations():
        assert exp.severity in ("critical", "warning")
        assert exp.why and "\n" not in exp.why
    tables = prepare(suite, county.frames[checkpoint], ValidationContext.from_dict(county.context[checkpoint]))
    assert set(tables) == set(suite.tables)
    for name, spec in suite.tables.items():
        # Every documented derived column is computed, and every computed column is documented
        # (or is the frame's own column, read as is).
        columns = set(tables[name].frame.columns)
        assert set(spec.derived) <= columns, f"{name}: documented but not computed"
        read = {c for exp in spec.expectations for c in exp.columns()}
        assert read <= columns


def test_bad_suite_file_names_the_key(tmp_path):
    text = (expectations_dir() / "delivery.yaml").read_text()
    (tmp_path / "a").mkdir()
    bad = tmp_path / "a" / "delivery.yaml"
    bad.write_text(text.replace("severity: warning", "severity: minor", 1))
    with pytest.raises(ConfigError, match=r"delivery\.yaml.*severity"):
        load_suite(bad)
    (tmp_path / "b").mkdir()
    bad = tmp_path / "b" / "delivery.yaml"
    bad.write_text(text.replace("type: expect_column_values_to_not_be_null", "type: expect_column_values_to_be_purple", 1))
    with pytest.raises(ConfigError, match="expect_column_values_to_be_purple"):
        load_suite(bad)


# ---------------------------------------------------------------------------------------------
# A clean county passes every checkpoint


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_clean_county_passes(checkpoint, county, tmp_path):
    result = run(county, checkpoint, tmp_path / "validation")
    failed = [o.describe() for o in result.outcomes if not o.success]
    assert result.success and not failed, failed
    assert gate(result) is result
    summary = json.loads((tmp_path / "validation" / f"{checkpoint}.json").read_text())
    assert summary["format"] == "autoclear.validation/1"
    assert summary["checkpoint"] == checkpoint and summary["success"] and not summary["blocked"]
    assert summary["expectations"]["total"] == len(load_suite(checkpoint).expectations())
    assert summary["expectations"]["failed_critical"] == 0
    assert all(r["success"] and r["row_ids"] == [] for r in summary["results"])


def test_all_checkpoints_share_one_data_docs_site_per_run(county, tmp_path):
    out = tmp_path / "run1" / "validation"
    results = [run(county, name, out, docs=True) for name in ("doj_input", "determinations")]
    index = out / "data_docs" / "index.html"
    assert results[-1].data_docs == index and index.exists()
    html = index.read_text()
    for name in ("doj_input.rows", "determinations.determinations"):
        assert name in html  # both checkpoints' validations are listed in the run's index
    for table, page in results[-1].validation_pages.items():
        assert page.exists(), table
    summary = json.loads((out / "determinations.json").read_text())
    assert summary["data_docs"] == "data_docs/index.html"
    # Another run keeps its own Data Docs; the first run's are untouched.
    before = index.read_text()
    run(county, "delivery", tmp_path / "run2" / "validation", docs=True)
    assert (tmp_path / "run2" / "validation" / "data_docs" / "index.html").exists()
    assert index.read_text() == before


def test_summary_is_deterministic(county, tmp_path):
    frames = county.frames["determinations"]
    bad = frames["determinations"].with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("Eligible")).otherwise(pl.col("determination"))
        .alias("determination"))
    texts = []
    for i in range(2):
        run(county, "determinations", tmp_path / f"r{i}", frames={**frames, "determinations": bad}, docs=True)
        texts.append((tmp_path / f"r{i}" / "determinations.json").read_bytes())
    assert texts[0] == texts[1]


# ---------------------------------------------------------------------------------------------
# Each fault class fails the right expectation, names the rows by our ids, and blocks delivery


def _at(frame: pl.DataFrame, row: int, column: str, value, dtype=None) -> pl.DataFrame:
    """`frame` with one cell replaced."""
    lit = pl.lit(value, dtype=dtype or frame.schema[column])
    return frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(lit).otherwise(pl.col(column)).alias(column))


def _dup(frame: pl.DataFrame, row: int) -> pl.DataFrame:
    return pl.concat([frame, frame.slice(row, 1)])


def _drop(frame: pl.DataFrame, row: int) -> pl.DataFrame:
    return frame.filter(pl.int_range(pl.len()) != row)


F = dict[str, pl.DataFrame]
# (checkpoint, what the fault is, frames -> faulty frames, extra context, expectation id, a row id it must name)
FAULTS: list[tuple[str, str, Callable[[F], F], dict, str, str | None]] = [
    ("doj_input", "missing column",
     lambda f: {**f, "rows": f["rows"].drop("CNT_ORDER")}, {},
     "doj_input.columns_present", "rows.CNT_ORDER"),
    ("doj_input", "column of the wrong type",
     lambda f: {**f, "counts": f["counts"].with_columns(pl.col("event_date").cast(pl.String))}, {},
     "doj_input.columns_typed", "counts.event_date"),
    ("doj_input", "null person id on a count",
     lambda f: {**f, "counts": _at(f["counts"], 3, "person_id", None)}, {},
     "doj_input.counts.required_fields", "doj:S00000001:001001002000"),
    ("doj_input", "null count id",
     lambda f: {**f, "counts": _at(f["counts"], 3, "count_id", None)}, {},
     "doj_input.counts.required_fields", "row 4"),
    ("doj_input", "duplicate count",
     lambda f: {**f, "counts": _dup(f["counts"], 2)}, {},
     "doj_input.counts.count_unique", "doj:S00000001:001001001000"),
    ("doj_input", "malformed CNT_ORDER",
     lambda f: {**f, "rows": _at(f["rows"], 4, "CNT_ORDER", "12345")}, {},
     "doj_input.rows.cnt_order_format", "la_doj_01.dat:6"),
    ("doj_input", "unreadable conviction date",
     lambda f: {**f, "rows": _at(f["rows"], 7, "STP_EVENT_DATE", "20191340")}, {},
     "doj_input.rows.conviction_date_readable", "la_doj_01.dat:9"),
    ("doj_input", "conservation broken (stats)",
     lambda f: {**f, "stats": f["stats"].with_columns(pl.col("rows_read") + 1)}, {},
     "doj_input.files.conservation", "la_doj_01.dat"),
    ("doj_input", "accepted row lost",
     lambda f: {**f, "rows": _drop(f["rows"], 0)}, {},
     "doj_input.files.accepted_rows_present", "la_doj_01.dat"),
    ("doj_input", "count of an unknown person",
     lambda f: {**f, "persons": _drop(f["persons"], 0)}, {},
     "doj_input.counts.person_known", "doj:S00000000:001001001000"),
    ("court_input", "count from another county",
     lambda f: {**f, "counts": _at(f["counts"], 1, "county", "ORANGE")}, {},
     "court_input.counts.in_this_county", None),
    ("court_input", "line read twice",
     lambda f: {**f, "rows": _dup(f["rows"], 5)}, {},
     "court_input.rows.line_read_once", "extract_01.csv:7"),
    ("court_input", "unknown disposition",
     lambda f: {**f, "counts": _at(f["counts"], 2, "disposition", "guilty")}, {},
     "court_input.counts.disposition_known", None),
    ("court_input", "dismissal flagged as a conviction",
     lambda f: {**f, "counts": _at(f["counts"], 2, "disposition", "dismissed")}, {},
     "court_input.counts.conviction_flag_consistent", None),
    ("reconciled", "probability out of range",
     lambda f: {**f, "reconciled": _at(f["reconciled"], 0, "match_probability", 1.5)}, {},
     "reconciled.probability_in_range", "court:LOS ANGELES:BA0000000:1"),
    ("reconciled", "DOJ count matched twice",
     lambda f: {**f, "reconciled": _at(_at(f["reconciled"], N // 2, "doj_count_id", "doj:S00000000:001001001000"),
                                        N // 2, "classification", "matched").pipe(
         _at, N // 2, "agreement", "cii")}, {},
     "reconciled.doj_count_matched_twice", "doj:S00000000:001001001000"),
    ("reconciled", "court cannabis count not classified",
     lambda f: {**f, "reconciled": _drop(f["reconciled"], N // 2)}, {},
     "reconciled.every_court_count_classified", "court:LOS ANGELES:CC0000010:1"),
    ("reconciled", "match without evidence",
     lambda f: {**f, "reconciled": _at(f["reconciled"], 1, "agreement", None)}, {},
     "reconciled.match_evidence", "court:LOS ANGELES:BA0000000:2"),
    ("reconciled", "unknown classification",
     lambda f: {**f, "reconciled": _at(f["reconciled"], 1, "classification", "maybe")}, {},
     "reconciled.classification_known", None),
    ("reconciled", "classified count not in the extract",
     lambda f: {**f, "court_counts": _drop(f["court_counts"], 0)}, {},
     "reconciled.court_count_known", "court:LOS ANGELES:BA0000000:1"),
    ("determinations", "determination outside the allowed set",
     lambda f: {**f, "determinations": _at(f["determinations"], 5, "determination", "Eligible")}, {},
     "determinations.determination_allowed", "doj:S00000002:001001002000"),
    ("determinations", "relief contradicts the determination",
     lambda f: {**f, "determinations": _at(f["determinations"], 2, "relief", "dismiss_and_seal")}, {},
     "determinations.relief_fits_determination", "doj:S00000001:001001001000"),
    ("determinations", "empty reason",
     lambda f: {**f, "determinations": _at(f["determinations"], 0, "reason", "  ")}, {},
     "determinations.required_fields", "doj:S00000000:001001001000"),
    ("determinations", "no explanation",
     lambda f: {**f, "determinations": _at(f["determinations"], 0, "explanation", None)}, {},
     "determinations.required_fields", "doj:S00000000:001001001000"),
    ("determinations", "conviction after compute-at",
     lambda f: {**f, "counts": _at(f["counts"], 0, "event_date", dt.date(2030, 1, 1))}, {},
     "determinations.conviction_not_after_compute_at", "doj:S00000000:001001001000"),
    ("determinations", "conviction without a determination",
     lambda f: {**f, "determinations": _drop(f["determinations"], 3)}, {},
     "determinations.every_conviction_decided", "doj:S00000001:001001002000"),
    ("determinations", "two determinations for one conviction",
     lambda f: {**f, "determinations": _dup(f["determinations"], 3)}, {},
     "determinations.one_per_conviction", "doj:S00000001:001001002000"),
    ("determinations", "decided as of another date",
     lambda f: {**f, "determinations": _at(f["determinations"], 0, "compute_at", dt.date(2020, 1, 1))}, {},
     "determinations.as_of_compute_at", "doj:S00000000:001001001000"),
    ("determinations", "determination for a count that is no conviction",
     lambda f: {**f, "counts": _at(f["counts"], 0, "is_conviction", False)}, {},
     "determinations.conviction_known", "doj:S00000000:001001001000"),
    ("delivery", "delivery row with no case number",
     lambda f: {**f, "delivery": _at(f["delivery"], 1, "court_case_number", None)}, {},
     "delivery.required_fields", "doj:S00000000:001001002000"),
    ("delivery", "case number outside the court's pattern",
     lambda f: {**f, "delivery": _at(f["delivery"], 1, "court_case_number", "XY12")}, {},
     "delivery.case_number_format", "doj:S00000000:001001002000"),
    ("delivery", "same case and count twice",
     lambda f: {**f, "delivery": _dup(f["delivery"], 0)}, {"expected_rows": {"new": N + 1}},
     "delivery.case_and_count_unique", "doj:S00000000:001001001000"),
    ("delivery", "the plan does not reconcile with the ledger",
     lambda f: f, {"expected_rows": {"new": 1000}},
     "delivery.rows_reconcile_with_ledger", "plan:new"),
    ("delivery", "no ledger rows given",
     lambda f: {k: v for k, v in f.items() if k != "ledger"}, {},
     "delivery.ledger_given", "validated rows:new"),
    ("delivery", "files not read back",
     lambda f: {k: v for k, v in f.items() if k != "files"}, {},
     "delivery.files_given", "files:all"),
    # The files as read back from the staged folder against the ledger's rows (rows N.. of `files`
    # are the clerk checklist's, with ids; rows 0..N-1 the court file's, without).
    ("delivery", "clerk checklist row dropped (by action)",
     lambda f: {**f, "files": _drop(f["files"], N)}, {},
     "delivery.rows_reconcile_with_ledger", "clerk_checklist.csv:new"),
    ("delivery", "clerk checklist row dropped (by id)",
     lambda f: {**f, "files": _drop(f["files"], N)}, {},
     "delivery.files_match_ledger_rows", "19-BA0000000-001 (new)"),
    ("delivery", "clerk checklist row repeated",
     lambda f: {**f, "files": _dup(f["files"], N + 2)}, {},
     "delivery.files_match_ledger_rows", "19-BA0000001-002 (new)"),
    ("delivery", "file row with the wrong action",
     lambda f: {**f, "files": _at(f["files"], N + 1, "action", "correction")}, {},
     "delivery.files_match_ledger_rows", "19-BA0000000-002 (correction)"),
    ("delivery", "clerk checklist read back empty",
     lambda f: {**f, "files": f["files"].filter(pl.col("file") != "clerk_checklist.csv")}, {},
     "delivery.files_match_ledger_rows", "19-BA0000000-001 (new)"),
    ("delivery", "court file row dropped",
     lambda f: {**f, "files": _drop(f["files"], 0)}, {},
     "delivery.rows_reconcile_with_ledger", "court_upload.txt:all"),
    ("delivery", "ledger entry with no file row",
     lambda f: {**f, "ledger": _dup(f["ledger"], 3)}, {},
     "delivery.ledger_row_once", "19-BA0000002-001 (new)"),
    ("delivery", "file row the ledger did not record",
     lambda f: {**f, "ledger": _drop(f["ledger"], 0)}, {},
     "delivery.ledger_row_once", "19-BA0000000-001 (new)"),
    ("delivery", "ledger row without an eligible determination",
     lambda f: {**f, "ledger": _at(f["ledger"], 0, "relief", "redesignate_infraction")}, {},
     "delivery.rows_reconcile_with_ledger", "eligible determinations:new"),
    ("delivery", "relief no court acts on",
     lambda f: {**f, "delivery": _at(f["delivery"], 0, "relief", "review")}, {},
     "delivery.relief_actionable", "doj:S00000000:001001001000"),
    ("delivery", "row disagrees with its determination",
     lambda f: {**f, "delivery": _at(f["delivery"], 0, "relief", "recall_and_resentence")}, {},
     "delivery.matches_determination", "doj:S00000000:001001001000"),
    ("delivery", "another county's conviction",
     lambda f: {**f, "delivery": _at(f["delivery"], 0, "county", "ORANGE")}, {},
     "delivery.in_this_county", "doj:S00000000:001001001000"),
]


@pytest.mark.parametrize(("checkpoint", "fault", "inject", "context", "expectation", "row_id"), FAULTS,
                         ids=[f"{c}: {f}" for c, f, *_ in FAULTS])
def test_fault_fails_the_right_expectation_and_blocks(checkpoint, fault, inject, context, expectation, row_id,
                                                       county, tmp_path):
    frames = inject(dict(county.frames[checkpoint]))
    result = run(county, checkpoint, tmp_path / "validation", frames=frames, **context)
    failed = {o.id: o for o in result.critical_failures}
    assert not result.success
    assert expectation in failed, f"{fault}: failed {sorted(failed)}"
    outcome = failed[expectation]
    if outcome.unexpected_count is not None:
        assert outcome.unexpected_count >= 1
    if row_id is not None:
        assert row_id in outcome.row_ids, outcome.describe()
    with pytest.raises(ValidationFailed) as blocked:
        gate(result)
    message = str(blocked.value)
    assert expectation in message and checkpoint in message
    if row_id is not None:
        assert row_id in message
    summary = json.loads(result.summary_path.read_text())
    assert summary["blocked"] and expectation in {r["id"] for r in summary["results"] if not r["success"]}


def test_failing_value_names_the_missing_field(county, tmp_path):
    frames = dict(county.frames["delivery"])
    frames["delivery"] = _at(_at(frames["delivery"], 1, "court_case_number", None), 2, "statute_as_convicted", "")
    result = run(county, "delivery", tmp_path, frames=frames)
    (outcome,) = [o for o in result.critical_failures if o.id == "delivery.required_fields"]
    assert sorted(outcome.unexpected_values) == [("court_case_number", 1), ("statute_as_convicted", 1)]
    assert outcome.row_ids == ["doj:S00000000:001001002000", "doj:S00000001:001001002000"]
    assert "failing values: court_case_number, statute_as_convicted" in outcome.describe()


def test_warning_is_reported_but_does_not_block(county, tmp_path):
    frames = dict(county.frames["doj_input"])
    frames["persons"] = _at(frames["persons"], 2, "gender", "Q")
    result = run(county, "doj_input", tmp_path, frames=frames)
    assert result.success and not result.critical_failures
    assert [o.id for o in result.warnings] == ["doj_input.persons.gender_known"]
    assert result.warnings[0].row_ids == ["doj:S00000002"]
    assert gate(result) is result


def test_row_ids_are_capped(county, tmp_path):
    frames = dict(county.frames["determinations"])
    frames["determinations"] = frames["determinations"].with_columns(pl.lit("").alias("reason"))
    result = run(county, "determinations", tmp_path, frames=frames, max_row_ids=3)
    (outcome,) = [o for o in result.critical_failures if o.id == "determinations.required_fields"]
    assert outcome.unexpected_count == frames["determinations"].height
    assert len(outcome.row_ids) == 3
    assert "..." in outcome.describe()


# ---------------------------------------------------------------------------------------------
# Inputs, confidentiality, nothing sent anywhere


def test_missing_frame_or_context_is_a_clear_error(county, tmp_path):
    frames = dict(county.frames["determinations"])
    del frames["counts"]
    with pytest.raises(ValueError, match="missing frame.*counts"):
        run(county, "determinations", tmp_path, frames=frames)
    with pytest.raises(ValueError, match="compute_at"):
        run_checkpoint("determinations", county.frames["determinations"], context={"county": "LOS ANGELES"},
                       out_dir=tmp_path)


def test_lazy_frames_are_accepted(county, tmp_path):
    frames = {k: v.lazy() for k, v in county.frames["doj_input"].items()}
    assert run(county, "doj_input", tmp_path, frames=frames).success


def test_no_personal_data_in_results_docs_or_logs(county, tmp_path, caplog):
    frames = dict(county.frames["doj_input"])
    # Failing rows whose personal fields are bad: the values must not leak anywhere.
    frames["persons"] = _at(_at(frames["persons"], 1, "dob", dt.date(2031, 2, 3)), 1, "cii", "A1234")
    frames["rows"] = _at(frames["rows"], 1, "PRI_DOB", "19719999")
    caplog.set_level(logging.DEBUG)
    result = run(county, "doj_input", tmp_path / "validation", frames=frames, docs=True)
    assert {o.id for o in result.warnings} >= {"doj_input.persons.identity_well_formed", "doj_input.rows.dates_readable"}
    (identity,) = [o for o in result.warnings if o.id == "doj_input.persons.identity_well_formed"]
    assert identity.unexpected_values == [("cii,dob", 1)] and identity.row_ids == ["doj:S00000001"]
    secrets = ["2031-02-03", "20310203", "A1234", "19719999", "DOE1,JOHN", "JOHN", "1970-01-01", "19700101"]
    texts = [p.read_text(errors="replace") for p in (tmp_path / "validation").rglob("*")
             if p.is_file() and p.suffix in (".json", ".html", ".yml", ".yaml")]
    texts.append(caplog.text)
    texts.append(result.describe())
    for secret in secrets:
        assert not any(secret in t for t in texts), secret


def test_nothing_is_sent_anywhere(county, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert run(county, "delivery", tmp_path, docs=True).success


def test_outputs_are_not_world_readable(county, tmp_path):
    run(county, "reconciled", tmp_path / "validation", docs=True)
    for path in (tmp_path / "validation").rglob("*"):
        assert not path.stat().st_mode & 0o007, path


def test_offline_overview_lists_every_checkpoint_and_the_county_history(county, tmp_path):
    import re

    county_dir = tmp_path / "los_angeles"
    for run_id in ("run_a", "run_b"):
        for name in ("doj_input", "delivery"):
            frames = county.frames[name]
            if run_id == "run_b" and name == "delivery":
                frames = {**frames, "delivery": _at(frames["delivery"], 0, "relief", "review")}
            result = run(county, name, county_dir / run_id / "validation", frames=frames, docs=True, run_id=run_id)
    page = result.overview
    assert page == county_dir / "run_b" / "validation" / "index.html"
    text = page.read_text()
    # Nothing to fetch from outside: the page reads on a machine without internet access.
    assert not re.search(r'(src|href)="https?:', text)
    assert "delivery.relief_actionable" in text and "BLOCKED" in text
    assert "doj:S00000000:001001001000" in text
    for link in re.findall(r'href="([^"#]+)"', text):
        assert (page.parent / link).exists(), link
    assert "Runs of this county" in text and "run_a" in text and "run_b" in text
    assert f"details: {page}" in str(pytest.raises(ValidationFailed, gate, result).value)


def test_nothing_to_deliver_passes(county, tmp_path):
    frames = {name: frame.clear() if name != "determinations" else frame
              for name, frame in county.frames["delivery"].items()}
    result = run(county, "delivery", tmp_path, frames=frames, expected_rows={"new": 0})
    assert result.success, result.describe()
    assert result.table_rows["delivery"] == 0


# ---------------------------------------------------------------------------------------------
# The gate inside `deliver`: the staged files, read back, against the rows the ledger recorded


def _deliver_checked(tmp_path: Path, ledger):
    from pipelines.config import load_county
    from pipelines.delivery import assemble_delivery, deliver
    from pipelines.delivery.run import validation_check
    from pipelines.delivery.sample import sample_frames

    f = sample_frames(120)
    build = assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county="LOS ANGELES",
                              run_id="r1")
    check = validation_check(tmp_path / "run", county="LOS ANGELES", run_id="r1", compute_at="2024-07-01",
                             case_number_pattern=load_county("los_angeles").case_number_pattern,
                             determinations=f["determinations"])
    (tmp_path / "run").mkdir(exist_ok=True)
    return build, deliver(build, county="LOS ANGELES", ledger=ledger, run_id="r1", workdir=tmp_path,
                          determinations=f["determinations"], check=check)


def _published(tmp_path: Path) -> list[Path]:
    outbox = tmp_path / "outbox"
    return sorted(p for p in outbox.iterdir() if not p.name.startswith(".")) if outbox.is_dir() else []


@pytest.mark.parametrize("fault", ["court file drops a row", "clerk checklist repeats a row", "ledger misses a row"])
def test_delivery_gate_blocks_files_that_disagree_with_the_ledger(fault, tmp_path, monkeypatch):
    from dataclasses import replace

    from pipelines.delivery import files as delivery_files
    from pipelines.ledger import Ledger

    if fault == "court file drops a row":
        write = delivery_files.write_court_file
        monkeypatch.setattr(delivery_files, "write_court_file", lambda rows, *a, **k: write(rows.slice(1), *a, **k))
        expected = ["delivery.rows_reconcile_with_ledger", "delivery.files_match_ledger_rows"]
    elif fault == "clerk checklist repeats a row":
        write = delivery_files.write_clerk_checklist
        monkeypatch.setattr(delivery_files, "write_clerk_checklist",
                            lambda rows, *a, **k: write(pl.concat([rows, rows.slice(3, 1)]), *a, **k))
        expected = ["delivery.rows_reconcile_with_ledger", "delivery.files_match_ledger_rows"]
    else:
        record = Ledger.record_pending
        monkeypatch.setattr(Ledger, "record_pending",
                            lambda self, county, plan, **k: record(self, county, replace(plan, new=plan.new.slice(1)), **k))
        expected = ["delivery.rows_reconcile_with_ledger", "delivery.ledger_row_once"]

    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", workdir=tmp_path) as ledger:
        with pytest.raises(ValidationFailed) as blocked:
            _deliver_checked(tmp_path, ledger)
        for expectation in expected:
            assert expectation in str(blocked.value)
        # Nothing reached the court, nothing is recorded as delivered, the staging folder is gone.
        assert _published(tmp_path) == []
        assert ledger.delivery_rows("LOS ANGELES").height == 0
        assert [d["status"] for d in ledger.history("LOS ANGELES")] == ["rolled_back"]
        assert not [p for p in (tmp_path / "outbox").rglob("*") if p.is_file()]

        monkeypatch.undo()  # the fault fixed: the next run delivers every count, once
        build, result = _deliver_checked(tmp_path, ledger)
        assert result.status == "published" and len(_published(tmp_path)) == 1
        assert ledger.delivery_rows("LOS ANGELES").height == build.rows.height


def test_delivery_gate_compares_with_the_first_of_two_determinations(county, tmp_path):
    """A count decided twice (the determinations gate's fault, not the delivery gate's) still gets
    its delivery row compared, with the count's first determination, row for row."""
    frames = dict(county.frames["delivery"])
    det = frames["determinations"]
    first = det["count_id"][0]
    delivered = frames["delivery"].filter(pl.col("count_id") == first)
    assert delivered.height == 1
    # Second determination for the same count, disagreeing: ignored (the first one decides).
    frames["determinations"] = pl.concat([det, _at(det.slice(0, 1), 0, "relief", "recall_and_resentence")])
    result = run(county, "delivery", tmp_path / "a", frames=frames)
    outcomes = {o.id: o for o in result.outcomes}
    assert outcomes["delivery.matches_determination"].success
    assert result.table_rows["delivery"] == frames["delivery"].height
    # Now the first determination disagrees with the delivered row: that row alone fails.
    frames["determinations"] = pl.concat([_at(det.slice(0, 1), 0, "relief", "recall_and_resentence"), det])
    result = run(county, "delivery", tmp_path / "b", frames=frames)
    failed = {o.id: o for o in result.critical_failures}
    assert failed["delivery.matches_determination"].unexpected_count == 1
    assert first in failed["delivery.matches_determination"].row_ids
