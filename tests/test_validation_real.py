"""Every suite on the real stages' output for a small generated county: the DOJ and court readers,
linkage, reconciliation, eligibility and the delivery rows, run through the flow's stages; the
checkpoints are then run here directly on what those stages wrote to the run folder."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipelines.errors import ValidationFailed
from pipelines.validation import CHECKPOINTS, gate, run_checkpoint

COMPUTE_AT = "2020-07-01"
# Splink's EM training needs a few thousand people; smaller generated counties fail in linkage.
ROWS = 20_000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import pipelines.stages  # noqa: F401  (registers the stage implementations)
    from pipelines.flow import RunSpec, plan_run, run_stage
    from pipelines.synth import generate_county

    base = tmp_path_factory.mktemp("county")
    county = generate_county(rows=ROWS, seed=7, county="LOS ANGELES", out=base / "input")
    spec = RunSpec(county="los_angeles", doj=[str(p) for p in county.doj_files],
                   court=[str(p) for p in county.court_files], compute_at=COMPUTE_AT, workdir=str(base / "work"))
    run_dir = plan_run(spec)
    for stage in ("read_doj", "read_court", "link", "reconcile", "eligibility"):
        run_stage(stage, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def checkpoint_inputs(run_dir):
    from pipelines.config import load_county
    from pipelines.delivery import build_delivery
    from pipelines.flow import load_spec

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(run_dir / f"{name}.parquet")

    spec = load_spec(run_dir)
    config = load_county(spec.county)
    determinations = read("determinations")
    delivery = build_delivery(determinations, read("counts"), read("persons"), read("reconciled"),
                              county_config=config, run_id=spec.run_id)
    # The rows the ledger records and the files as staged, read back, as the deliver stage's gate sees them.
    from pipelines.delivery import deliver
    from pipelines.delivery.files import CLERK_CHECKLIST
    from pipelines.ledger import Ledger

    staged = {}

    def capture(plan, stage) -> None:  # noqa: ANN001
        staged.update(ledger=stage.ledger_rows(), files=stage.file_rows(),
                      delivery_files=[stage.layout.file_name, CLERK_CHECKLIST])

    work = run_dir / "delivery_test"
    work.mkdir(parents=True, exist_ok=True)
    with Ledger(f"sqlite:///{work / 'ledger.sqlite'}", workdir=work) as ledger:
        deliver(delivery, county=config.doj_county_name, ledger=ledger, run_id=spec.run_id, workdir=work,
                layout=config.delivery.layout, check=capture)
    base = {"compute_at": COMPUTE_AT, "county": config.doj_county_name, "run_id": spec.run_id}
    frames = {
        "doj_input": {"rows": pl.scan_parquet(run_dir / "doj_rows.parquet"), "counts": read("doj_counts"),
                      "persons": read("doj_persons"), "stats": read("doj_stats"),
                      "quarantine": read("doj_quarantine")},
        "court_input": {"rows": read("court_rows"), "counts": read("court_counts"),
                        "persons": read("court_persons"), "stats": read("court_stats"),
                        "quarantine": read("court_quarantine")},
        "reconciled": {"reconciled": read("reconciled"), "court_counts": read("court_counts_deduped"),
                       "doj_counts": read("doj_counts")},
        "determinations": {"determinations": determinations, "counts": read("counts")},
        "delivery": {"delivery": delivery, "determinations": determinations, "ledger": staged["ledger"],
                     "files": staged["files"]},
    }
    context = {name: dict(base) for name in frames}
    context["delivery"].update(case_number_pattern=config.case_number_pattern,
                               expected_rows={"new": delivery.height}, delivery_files=staged["delivery_files"])
    return frames, context


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_real_stage_output_passes(checkpoint, checkpoint_inputs, run_dir):
    frames, context = checkpoint_inputs
    out = run_dir / "validation_test"
    result = run_checkpoint(checkpoint, frames[checkpoint], context={**context[checkpoint], "build_docs": False},
                            out_dir=out)
    assert result.success, result.describe()
    gate(result)
    assert all(rows > 0 for table, rows in result.table_rows.items() if table in ("rows", "counts", "reconciled",
                                                                                  "determinations", "delivery"))
    summary = json.loads((out / f"{checkpoint}.json").read_text())
    assert summary["success"] and summary["expectations"]["failed_critical"] == 0


def test_real_output_with_a_fault_is_blocked(checkpoint_inputs, run_dir):
    frames, context = checkpoint_inputs
    determinations = frames["determinations"]["determinations"]
    dropped = determinations["count_id"][0]
    broken = {**frames["determinations"], "determinations": determinations.slice(1)}
    result = run_checkpoint("determinations", broken, context={**context["determinations"], "build_docs": False},
                            out_dir=run_dir / "validation_fault")
    with pytest.raises(ValidationFailed, match="determinations.every_conviction_decided") as blocked:
        gate(result)
    assert dropped in str(blocked.value)
