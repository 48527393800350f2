"""The county refresh DAG, built from one county config.

    plan ─┬─ read_doj ──┬─ validate_inputs ─ link ─ reconcile ─ eligibility ─ validate_outputs ─ deliver ─ report
          └─ read_court ┘

`plan` fingerprints the inputs and creates the run folder; every stage task receives the folder's
path from its upstream task (an XCom of a string) and returns it. The DAG runs on the county's
schedule and whenever a new file settles in its DOJ or court drop folder (an Asset per folder,
watched by DropFolderTrigger in the triggerer).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, AssetWatcher, Param, get_current_context, task
from airflow.sdk.definitions.timetables.assets import AssetOrTimeSchedule
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from autoclear_dags import settings
from autoclear_dags.configs import BrokenCounty
from autoclear_dags.triggers import DropFolderTrigger


def run_params(*, for_statewide: bool = False) -> dict[str, Param]:
    """Params of a county (or statewide) run. Empty values mean: use the county config / defaults."""
    nullable = ["null", "string"]
    params = {
        "compute_at": Param(None, type=nullable, title="Compute eligibility as of (YYYY-MM-DD)",
                            description="Default: the run's date in California."),
        "policy": Param(None, type=nullable, title="Policy",
                        description="A policy name or path; default: the county config's policy."),
        "workdir": Param(None, type=nullable, title="Work folder",
                         description="Run folders, ledger and outbox; default AUTOCLEAR_WORKDIR or <project>/work."),
        "ledger_url": Param(None, type=nullable, title="Ledger database URL",
                            description="Default: the county's ledger_url_env variable, else SQLite in the work folder."),
        "drop_selection": Param("newest", enum=["newest", "all"], title="Files taken from drop folders",
                                description="'newest': the newest file of each folder; 'all': every file."),
    }
    if for_statewide:
        params["counties"] = Param([], type="array", items={"type": "string"}, title="Counties",
                                   description="Config names or YAML paths; empty: every configured county.")
        params["inputs"] = Param({}, type="object", title="Explicit inputs per county",
                                 description='{"county": {"doj": [paths], "court": [paths]}}; others use drop folders.')
    else:
        params["doj"] = Param([], type="array", items={"type": "string"}, title="DOJ research file(s)",
                              description="Default: from the county's DOJ drop folder.")
        params["court"] = Param([], type="array", items={"type": "string"}, title="Court extract(s)",
                                description="Default: from the county's court drop folder.")
        params["outbox"] = Param(None, type=nullable, title="Outbox",
                                 description="Deliver here instead of the county's delivery target.")
        params["review_decisions"] = Param(None, type=nullable, title="Worked review-queue file")
    return params


def run_date() -> date:
    """The run's date in California: what compute-at defaults to (stable across retries)."""
    import pendulum  # noqa: PLC0415

    ctx = get_current_context()
    dag_run = ctx["dag_run"]
    when = getattr(dag_run, "logical_date", None) or dag_run.run_after
    return pendulum.instance(when).in_timezone(settings.TIMEZONE).date()


def drop_folder_assets(config: Any) -> list[Asset]:
    """One Asset per configured drop folder, each watched by a DropFolderTrigger."""
    from autoclear_dags.tasks import resolve_folder  # noqa: PLC0415

    assets = []
    for kind in ("doj", "court"):
        folder = getattr(config.drop_folders, kind)
        if not folder:
            continue
        path = resolve_folder(folder).resolve()
        trigger = DropFolderTrigger(folder=str(path), poke_interval=settings.DROP_POKE_INTERVAL)
        assets.append(Asset(
            name=f"autoclear_{config.name}_{kind}_drop",
            uri=path.as_uri(),
            group="autoclear_drop_folders",
            watchers=[AssetWatcher(name=f"autoclear_{config.name}_{kind}_watcher", trigger=trigger)],
        ))
    return assets


def county_schedule(config: Any) -> Any:
    """The county's cron schedule and/or its drop-folder assets (None: manual runs only)."""
    assets = drop_folder_assets(config)
    timetable = CronTriggerTimetable(config.schedule, timezone=settings.TIMEZONE) if config.schedule else None
    if assets and timetable:
        return AssetOrTimeSchedule(timetable=timetable, assets=AssetAny(*assets))
    if assets:
        return AssetAny(*assets)
    return timetable


def build_county_dag(config: Any) -> DAG:
    """The refresh DAG of one county config (a BrokenCounty gives a DAG that reports its error)."""
    if isinstance(config, BrokenCounty):
        return build_broken_county_dag(config)
    county_ref = config.source_path or config.name
    with DAG(
        dag_id=f"{settings.COUNTY_DAG_PREFIX}{config.name}",
        description=f"{config.display_name}: DOJ research file + court extracts → court orders",
        schedule=county_schedule(config),
        start_date=settings.START_DATE,
        catchup=False,
        max_active_runs=1,  # runs of one county share its run folders and ledger
        default_args=settings.default_args(),
        tags=["autoclear", "county"],
        doc_md=__doc__,
    ) as dag:

        # Only `plan` reads the run's params, so only it carries them (see the end of this function).
        @task(task_id="plan", params=run_params())
        def plan_task(county: str) -> str:
            from autoclear_dags import tasks  # noqa: PLC0415

            return tasks.plan(county, dict(get_current_context()["params"]), run_date())

        @task
        def stage_task(name: str, run_dir: str) -> str:
            from autoclear_dags import tasks  # noqa: PLC0415

            return tasks.run_stage(name, run_dir)

        run_dir = plan_task(county_ref)
        reads = [stage_task.override(task_id=name)(name, run_dir) for name in settings.READ_STAGES]
        previous: Any = None
        for name in settings.STAGES:
            if name in settings.READ_STAGES:
                continue
            upstream = previous if previous is not None else run_dir
            out = stage_task.override(task_id=name)(name, upstream)
            if previous is None:
                reads >> out
            previous = out
    # The DAG's params (the Trigger form, and what a run's conf is checked against) are set once
    # the tasks exist: Airflow copies a DAG's params into every task created under it, which for
    # 58 counties of ten tasks was most of this file's parse time, and the stages never read them.
    dag.params = run_params()
    return dag


def build_broken_county_dag(broken: BrokenCounty) -> DAG:
    """A DAG whose only task fails with the county config's error, so the mistake is visible."""
    with DAG(
        dag_id=f"{settings.COUNTY_DAG_PREFIX}{broken.name}",
        description=f"BROKEN county config {Path(broken.path).name}: {broken.error[:200]}",
        schedule=None,
        start_date=settings.START_DATE,
        catchup=False,
        tags=["autoclear", "county", "broken-config"],
        doc_md=f"**The county config `{broken.path}` does not load:**\n\n```\n{broken.error}\n```",
    ) as dag:

        @task(task_id="config_error", retries=0)
        def config_error(path: str, error: str) -> None:
            from airflow.sdk.exceptions import AirflowFailException  # noqa: PLC0415

            raise AirflowFailException(f"county config {path} does not load: {error}")

        config_error(broken.path, broken.error)
    return dag
