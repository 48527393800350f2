"""Refresh semantics as a property: whatever sequence of refreshes a county goes through, each court
count is new at most once, re-planning what was just delivered is a no-op, and the ledger's live
state is what the latest run said (absent counts stay as they were)."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.delivery import assemble_delivery
from pipelines.delivery.sample import sample_frames
from pipelines.ledger import Ledger

COUNTY = "LOS ANGELES"
N = 10
CHOICES = ("absent", "none", "review", "dismiss_and_seal", "redesignate_misdemeanor")


def _template() -> pl.DataFrame:
    f = sample_frames(40)
    rows = assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county=COUNTY,
                             run_id="t").rows
    return rows.head(N).with_row_index("k")


TEMPLATE = _template()


def _state(choices: list[str], challenged: list[bool], run: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = TEMPLATE.with_columns(
        pl.Series("choice", choices), pl.Series("challenged", challenged), pl.lit(f"run{run}").alias("run_id")
    )
    actionable = frame.filter(pl.col("choice").is_in(["dismiss_and_seal", "redesignate_misdemeanor"])).with_columns(
        pl.col("choice").alias("relief"), pl.col("challenged").alias("da_challenged"),
        pl.when(pl.col("choice") == "dismiss_and_seal").then(pl.lit("Eligible for Dismissal"))
        .otherwise(pl.lit("Eligible for Reduction")).alias("determination"),
    ).drop("k", "choice", "challenged")
    not_actionable = frame.filter(pl.col("choice").is_in(["none", "review"])).select(
        "delivery_id", "count_id", pl.col("choice").alias("relief"), pl.lit("Hand Review").alias("determination"))
    return actionable, not_actionable


refreshes = st.lists(
    st.tuples(st.lists(st.sampled_from(CHOICES), min_size=N, max_size=N),
              st.lists(st.booleans(), min_size=N, max_size=N)),
    min_size=1, max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(refreshes)
def test_any_sequence_of_refreshes_delivers_each_count_once(tmp_path_factory, sequence):
    workdir = tmp_path_factory.mktemp("refresh")
    expected_live: dict[str, tuple[str, bool]] = {}
    with Ledger(workdir=workdir) as ledger:
        for run, (choices, challenged) in enumerate(sequence):
            rows, not_actionable = _state(choices, challenged, run)
            plan = ledger.plan_delivery(COUNTY, rows, not_actionable=not_actionable)
            if not plan.is_empty:
                pk = ledger.record_pending(COUNTY, plan, sequence=run + 1, name=f"d{run}", run_id=f"run{run}",
                                           run_pk=None, target="t", layout="delimited", manifest_sha256="x")
                ledger.mark_published(pk, location=f"t/d{run}")
            # delivering the same state again is a no-op
            assert ledger.plan_delivery(COUNTY, rows, not_actionable=not_actionable).is_empty
            for choice, flag, delivery_id in zip(choices, challenged, TEMPLATE["delivery_id"], strict=True):
                if choice in ("dismiss_and_seal", "redesignate_misdemeanor"):
                    expected_live[delivery_id] = (choice, flag)
                elif choice in ("none", "review"):
                    expected_live.pop(delivery_id, None)
                # absent: whatever was delivered stays as it was
        state = ledger.delivered_state(COUNTY)
        live = state.filter(pl.col("action") != "withdrawal")
        assert {r["delivery_id"]: (r["relief"], r["da_challenged"]) for r in live.iter_rows(named=True)} == expected_live
        rows = ledger.delivery_rows(COUNTY)
        assert rows.filter(pl.col("action") == "new").get_column("delivery_id").is_unique().all()
        assert rows.select(pl.struct("delivery_id", "revision").is_unique().all()).item()
