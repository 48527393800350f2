"""The statewide refresh DAG: every configured county, fanned out with dynamic task mapping.

    counties ─ refresh_county[×N] ─ summary ─ check

`refresh_county` runs one county's whole flow and returns a record (ok, or failed with the stage
and the error) instead of raising for data and configuration errors, so one county's bad file
does not stop the others. `summary` (trigger rule all_done) writes the statewide summary JSON,
counting a county whose task died without a record as failed; `check` then fails the run if any
county failed, so the run's colour in the UI tells the truth.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from autoclear_dags import settings
from autoclear_dags.county import run_date, run_params

DOC = __doc__


def build_statewide_dag() -> DAG:
    """The `autoclear_statewide` DAG (manual, or on AUTOCLEAR_STATEWIDE_SCHEDULE, a cron expression)."""
    cron = os.environ.get("AUTOCLEAR_STATEWIDE_SCHEDULE")
    with DAG(
        dag_id=settings.STATEWIDE_DAG_ID,
        description="Refresh every configured county, then write a statewide summary",
        schedule=CronTriggerTimetable(cron, timezone=settings.TIMEZONE) if cron else None,
        start_date=settings.START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=settings.default_args(),
        params=run_params(for_statewide=True),
        tags=["autoclear", "statewide"],
        doc_md=DOC,
    ) as dag:

        @task(task_id="counties")
        def counties() -> list[str]:
            from autoclear_dags import tasks  # noqa: PLC0415

            refs = tasks.county_refs(get_current_context()["params"].get("counties"))
            if not refs:
                from airflow.sdk.exceptions import AirflowFailException  # noqa: PLC0415

                raise AirflowFailException("no county configs found (config/counties/*.yaml) and none given")
            return refs

        @task(task_id="refresh_county",
              max_active_tis_per_dagrun=int(os.environ.get("AUTOCLEAR_STATEWIDE_CONCURRENCY", "8")),
              map_index_template="{{ task.op_kwargs['county'] }}")
        def refresh_county(county: str) -> dict:
            from autoclear_dags import tasks  # noqa: PLC0415

            ctx = get_current_context()
            ti = ctx["ti"]
            may_retry = (ti.try_number or 1) <= (ti.max_tries or 0)
            return tasks.refresh_county(county, dict(ctx["params"]), run_date(), may_retry=may_retry)

        @task(task_id="summary", trigger_rule="all_done", retries=0)
        def summary(expected: list[str], records: list) -> dict:
            from autoclear_dags import tasks  # noqa: PLC0415

            params = get_current_context()["params"]
            compute_at = params.get("compute_at") or run_date().isoformat()
            workdir = params.get("workdir") or settings.default_workdir()
            return tasks.statewide_summary(expected, collect(records), compute_at, workdir)

        @task(task_id="check", retries=0)
        def check(result: dict) -> None:
            if result["counties_failed"]:
                from airflow.sdk.exceptions import AirflowFailException  # noqa: PLC0415

                raise AirflowFailException(
                    f"{len(result['counties_failed'])} of {result['counties_total']} counties failed: "
                    f"{', '.join(result['counties_failed'])} (details in {result['path']})")

        refs = counties()
        records = refresh_county.expand(county=refs)
        check(summary(refs, records))
    return dag


def collect(records) -> list[dict | None]:
    """The mapped task's results; a map index that returned nothing (its task died) gives None."""
    out: list[dict | None] = []
    for i in range(len(records)):
        try:
            out.append(records[i])
        except Exception:  # noqa: BLE001 (no XCom for that index: the county is reported failed)
            out.append(None)
    return out
