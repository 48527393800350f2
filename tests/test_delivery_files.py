"""Delivery files: each court layout, the judge's PDF, the clerk's checklist, the DOJ update, the
manifest, and atomic publishing to an outbox."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.delivery import assemble_delivery, load_layout, publish, write_delivery_files
from pipelines.delivery.files import doj_update_frame, write_all
from pipelines.delivery.layouts import DeliveryLayout
from pipelines.delivery.publish import OutboxTarget, make_target
from pipelines.delivery.sample import sample_frames
from pipelines.errors import AutoclearError, ConfigError

COUNTY = "LOS ANGELES"
LAYOUTS = ["delimited", "fixed_width_legacy", "excel_small_court"]


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    f = sample_frames(160)
    build = assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county=COUNTY,
                              run_id="r1")
    # one challenged count, one withdrawal, one correction, as a refresh would deliver them
    return build.rows.with_columns(
        (pl.int_range(pl.len()) == 0).alias("da_challenged"),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("withdrawal"))
        .when(pl.int_range(pl.len()) == 2).then(pl.lit("correction")).otherwise(pl.col("action")).alias("action"),
    )


def _write(rows, layout, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {p.name: p for p in write_delivery_files(rows, layout, directory, county=COUNTY, delivery_name="t")}


def test_shipped_layouts_load():
    for name in LAYOUTS:
        layout = load_layout(name)
        assert layout.name == name
    assert load_layout(None).name == "delimited"
    assert load_layout("fixed_width_legacy").record_width == 251


def test_delimited_court_file_round_trips(rows, tmp_path):
    files = _write(rows, "delimited", tmp_path)
    back = pl.read_csv(files["court_upload.csv"], infer_schema=False)
    assert back.height == rows.height
    assert back.columns[:3] == ["DELIVERY_ID", "ACTION", "COUNTY"]
    assert sorted(back.get_column("DELIVERY_ID")) == sorted(rows.get_column("delivery_id"))
    first = back.filter(pl.col("DELIVERY_ID") == rows.get_column("delivery_id")[0]).row(0, named=True)
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", first["CONVICTION_DATE"])
    assert first["DA_CHALLENGED"] == "Y"
    assert files["court_upload.csv"].read_bytes().count(b"\r\n") == rows.height + 1
    assert files["court_upload.csv"].stat().st_mode & 0o777 == 0o640


def test_fixed_width_records_have_one_width_and_parse_back(rows, tmp_path):
    files = _write(rows, "fixed_width_legacy", tmp_path)
    layout = load_layout("fixed_width_legacy")
    lines = files["court_upload.txt"].read_bytes().split(b"\r\n")
    assert lines[-1] == b"" and len(lines) - 1 == rows.height
    assert {len(line) for line in lines[:-1]} == {layout.record_width}
    starts, pos = {}, 0
    for f in layout.fields:
        starts[f.name] = (pos, pos + f.width)
        pos += f.width
    ids = [line[slice(*starts["DELIVERY_ID"])].decode().strip() for line in lines[:-1]]
    assert sorted(ids) == sorted(rows.get_column("delivery_id"))
    actions = {line[slice(*starts["ACTION"])].decode() for line in lines[:-1]}
    assert actions == {"N", "C", "W"}
    counts = {line[slice(*starts["COUNT_NUMBER"])].decode() for line in lines[:-1]}
    assert counts <= {"001", "002"}


def test_excel_layout_reads_back_as_text(rows, tmp_path):
    files = _write(rows, "excel_small_court", tmp_path)
    back = pl.read_excel(files["court_upload.xlsx"], infer_schema_length=0)
    assert back.height == rows.height
    assert "Dismiss and seal" in set(back.get_column("Relief"))
    assert set(back.get_column("DA challenged")) == {"Yes", "No"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_rows_give_the_same_bytes(rows, tmp_path, layout):
    a = _write(rows, layout, tmp_path / "a")
    b = _write(rows.sample(fraction=1.0, shuffle=True, seed=1), layout, tmp_path / "b")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


def test_judge_summary_and_clerk_checklist(rows, tmp_path):
    files = _write(rows, "delimited", tmp_path)
    pdf = files["bulk_order_summary.pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 3
    checklist = pl.read_csv(files["clerk_checklist.csv"], infer_schema=False)
    assert checklist.height == rows.height
    assert checklist.get_column("CHECKED").null_count() == rows.height
    assert checklist.get_column("COURT_CASE_NUMBER").to_list() == sorted(checklist.get_column("COURT_CASE_NUMBER"))


def test_doj_update_leaves_out_challenged_counts_and_names_doj_ids(rows):
    doj = doj_update_frame(rows)
    assert doj.height == rows.height - 1  # the challenged count waits for a hearing
    assert set(doj.get_column("NEW_DISPOSITION").drop_nulls()) <= {
        "DISMISSED AND SEALED", "REDESIGNATED MISDEMEANOR", "REDESIGNATED INFRACTION", "RECALLED AND RESENTENCED"}
    doj_rows = doj.filter(pl.col("SOURCE") != "COURT")
    assert doj_rows.get_column("SUBJECT_ID").null_count() == 0
    assert doj_rows.get_column("CNT_ORDER").str.len_chars().unique().to_list() == [12]
    assert doj.get_column("ORDER_DATE").null_count() == doj.height
    dated = doj_update_frame(rows, rows.select("delivery_id", pl.lit("2023-03-01").str.to_date().alias("order_date")))
    assert set(dated.get_column("ORDER_DATE")) == {"20230301"}


def test_layout_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "court_x.yaml"
    bad.write_text("name: court_x\nkind: delimited\nfields:\n  - {name: A, column: no_such_column}\n")
    with pytest.raises(ConfigError, match=r"court_x.yaml: fields.0: .*unknown column 'no_such_column'"):
        load_layout(bad)
    bad.write_text("name: court_x\nfile_name: ../../etc/x\nfields:\n  - {name: A, column: cii}\n")
    with pytest.raises(ConfigError, match="file_name"):
        load_layout(bad)
    bad.write_text("name: court_x\nkind: fixed_width\nfields:\n  - {name: A, column: cii}\n")
    with pytest.raises(ConfigError, match="without width: A"):
        load_layout(bad)
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"court_x.yaml, line \d+: invalid YAML"):
        load_layout(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_layout("no_such_layout")


def test_a_value_too_wide_stops_the_file_and_names_delivery_ids_not_people(rows, tmp_path):
    layout = DeliveryLayout(name="narrow", kind="fixed_width", fields=[
        {"name": "ID", "column": "delivery_id", "width": 32},
        {"name": "NAME", "column": "defendant_name", "width": 3},
    ])
    with pytest.raises(AutoclearError) as err:
        _write(rows, layout, tmp_path)
    message = str(err.value)
    assert "'NAME' is wider than 3" in message and "19-BA3" in message
    assert not any(name in message for name in rows.get_column("defendant_name").to_list())


def test_a_value_without_a_code_is_a_config_error(rows, tmp_path):
    layout = DeliveryLayout(name="codes", fields=[
        {"name": "RELIEF", "column": "relief", "codes": {"dismiss_and_seal": "DS"}},
    ])
    with pytest.raises(ConfigError, match="no code for value"):
        _write(rows, layout, tmp_path)


def test_publish_moves_a_complete_folder_and_never_overwrites(rows, tmp_path):
    target = OutboxTarget(tmp_path / "outbox")
    staging = target.staging_dir("los_angeles_00001")
    files = write_all(rows, "delimited", staging, county=COUNTY)
    (staging / "manifest.json").write_text(json.dumps({"files": [f.path.name for f in files]}))
    published = publish(staging, target)
    final = tmp_path / "outbox" / "los_angeles_00001"
    assert published.location == str(final) and not staging.exists()
    assert sorted(published.files) == sorted(p.name for p in final.iterdir())
    assert published.manifest_sha256 == hashlib.sha256((final / "manifest.json").read_bytes()).hexdigest()
    assert final.stat().st_mode & 0o777 == 0o770
    # a second folder of the same name is refused, and a folder without a manifest never goes out
    again = target.staging_dir("los_angeles_00001")
    (again / "manifest.json").write_text("{}")
    with pytest.raises(AutoclearError, match="never overwritten"):
        publish(again, target)
    empty = target.staging_dir("los_angeles_00002")
    with pytest.raises(AutoclearError, match="no manifest.json"):
        publish(empty, target)
    assert not (tmp_path / "outbox" / "los_angeles_00002").exists()


def test_targets_from_config_and_strings(tmp_path):
    assert make_target(None, workdir=tmp_path).path == (tmp_path / "outbox").resolve()
    assert make_target("court_drop", workdir=tmp_path).path == (tmp_path / "court_drop").resolve()
    sftp = make_target("sftp://LA_COURT/incoming/prop64", workdir=tmp_path)
    assert sftp.description == "sftp://LA_COURT/incoming/prop64"
    with pytest.raises(ConfigError, match="never a user, password"):
        make_target("sftp://user:secret@host/x", workdir=tmp_path)
    with pytest.raises(ConfigError, match="unknown delivery target"):
        make_target("ftp://host/x", workdir=tmp_path)

    class ConfigTarget:
        kind = "sftp"
        connection_env = "AUTOCLEAR_SFTP_LOS_ANGELES"
        remote_dir = "/drop"

    assert make_target(ConfigTarget(), workdir=tmp_path).description == "sftp://AUTOCLEAR_SFTP_LOS_ANGELES/drop"
