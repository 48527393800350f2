"""`autoclear deliver`, `autoclear ack`, `autoclear history` on a run folder, end to end."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.delivery import assemble_delivery
from pipelines.delivery.run import deliver_run_dir, save_build
from pipelines.delivery.sample import sample_frames
from pipelines.flow import RunSpec, plan_run

runner = CliRunner()


@pytest.fixture()
def run_dir(tmp_path, monkeypatch) -> Path:
    config = tmp_path / "config"
    (config / "counties").mkdir(parents=True)
    (config / "counties" / "los_angeles.yaml").write_text(
        "name: los_angeles\ndisplay_name: Los Angeles\ndoj_county_name: LOS ANGELES\npolicy: los_angeles\n"
        "case_number_pattern: 'BA[0-9]{6}'\n"
        "delivery:\n  layout: fixed_width_legacy\n"
    )
    monkeypatch.setenv("AUTOCLEAR_CONFIG_DIR", str(config))
    monkeypatch.delenv("AUTOCLEAR_LEDGER_URL", raising=False)
    doj = tmp_path / "doj_research.dat"
    doj.write_text("made-up input\n")
    workdir = tmp_path / "work"
    spec = RunSpec(county="los_angeles", doj=[str(doj)], court=[], compute_at="2024-01-01", workdir=str(workdir))
    path = plan_run(spec)
    f = sample_frames(100)
    build = assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county="LOS ANGELES",
                              run_id=path.name)
    save_build(path, build)
    return path


def test_deliver_ack_history(run_dir, tmp_path):
    workdir = tmp_path / "work"
    result = runner.invoke(app, ["deliver", "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "published" and summary["delivery"] == "los_angeles_00001"
    outbox = workdir / "outbox" / "los_angeles_00001"
    assert (outbox / "court_upload.txt").is_file()  # the county's layout
    manifest = json.loads((outbox / "manifest.json").read_text())
    assert manifest["inputs"][0]["name"] == "doj_research.dat" and manifest["compute_at"] == "2024-01-01"
    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["software"] == f"autoclear {declared}"  # which version made the files
    assert (run_dir / "delivery" / "needs_case_number.csv").is_file()
    assert summary["needs_case_number"] > 0

    again = runner.invoke(app, ["deliver", "--run-dir", str(run_dir)])
    assert again.exit_code == 0 and "nothing new to deliver" in again.output

    ids = pl.read_csv(outbox / "clerk_checklist.csv", infer_schema=False).get_column("DELIVERY_ID")
    response = tmp_path / "response.csv"
    pl.DataFrame({"delivery_id": ids, "status": ["accepted"] * (len(ids) - 1) + ["rejected"],
                  "order_date": ["2024-02-01"] * len(ids)}).write_csv(response)
    doj_update = tmp_path / "to_doj" / "doj_update.csv"
    ack = runner.invoke(app, ["ack", "--county", "los_angeles", "--workdir", str(workdir), str(response),
                              "--doj-update", str(doj_update)])
    assert ack.exit_code == 0, ack.output
    assert f"recorded {len(ids) - 1} accepted, 1 rejected" in ack.output
    update = pl.read_csv(doj_update, infer_schema=False)
    assert update.height == len(ids) - 1 and set(update.get_column("ORDER_DATE")) == {"20240201"}

    history = runner.invoke(app, ["history", "--county", "LOS ANGELES", "--workdir", str(workdir), "--json"])
    assert history.exit_code == 0, history.output
    data = json.loads(history.stdout)
    assert data["county"] == "LOS ANGELES"
    assert data["deliveries"][0]["court"] == {"accepted": len(ids) - 1, "rejected": 1, "awaiting": 0}
    table = runner.invoke(app, ["history", "--county", "los_angeles", "--workdir", str(workdir)])
    assert "los_angeles_00001" in table.output
    every = runner.invoke(app, ["history", "--workdir", str(workdir), "--json"])
    assert [c["county"] for c in json.loads(every.stdout)["counties"]] == ["LOS ANGELES"]

    # no names or dates of birth on the terminal
    persons = sample_frames(100)["persons"]
    printed = result.output + again.output + ack.output + history.output + table.output
    assert not any(name in printed for name in persons.get_column("last_name").unique().to_list())


def test_errors_are_clear(run_dir, tmp_path):
    missing = runner.invoke(app, ["deliver", "--run-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a run folder" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,result\n19-NOPE-001,accepted\n")
    ack = runner.invoke(app, ["ack", "--county", "los_angeles", "--workdir", str(tmp_path / "work"), str(bad)])
    assert ack.exit_code == 1 and "bad.csv, line 2" in ack.output


def test_deliver_run_dir_assembles_from_stage_frames(run_dir):
    for name in ("delivery_rows", "delivery_not_actionable", "delivery_undeliverable"):
        (run_dir / f"{name}.parquet").unlink()
    f = sample_frames(100)
    f["determinations"].write_parquet(run_dir / "determinations.parquet")
    f["counts"].write_parquet(run_dir / "counts.parquet")
    f["persons"].write_parquet(run_dir / "persons.parquet")
    f["reconciled"].write_parquet(run_dir / "reconciled.parquet")
    result, summary = deliver_run_dir(run_dir)
    assert result.status == "published" and summary["outbox_path"].endswith("los_angeles_00001")
    assert "new" in summary["headline"]


def test_validation_gate_blocks_a_delivery_that_contradicts_its_determinations(run_dir, tmp_path):
    f = sample_frames(100)
    # the determinations on disk say something else than the rows about to be delivered
    f["determinations"].with_columns(pl.lit("Eligible for Reduction").alias("determination")).write_parquet(
        run_dir / "determinations.parquet")
    blocked = runner.invoke(app, ["deliver", "--run-dir", str(run_dir)])
    assert blocked.exit_code == 1
    assert "blocked delivery" in blocked.output and "delivery.matches_determination" in blocked.output
    assert not (tmp_path / "work" / "outbox" / "los_angeles_00001").exists()
    # The gate runs on the staged files and the rows the ledger recorded as pending: a blocked
    # delivery is rolled back (kept for the record, no row delivered), never published.
    history = runner.invoke(app, ["history", "--county", "los_angeles", "--workdir", str(tmp_path / "work"),
                                  "--json"])
    deliveries = json.loads(history.output)["deliveries"]
    assert [d["status"] for d in deliveries] == ["rolled_back"]
    (run_dir / "determinations.parquet").unlink()
    passed = runner.invoke(app, ["deliver", "--run-dir", str(run_dir)])
    assert passed.exit_code == 0, passed.output
    assert json.loads((run_dir / "validation" / "delivery.json").read_text())["success"] is True
