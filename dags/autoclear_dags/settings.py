"""Defaults shared by the autoclear DAGs. Light: standard library only, safe to import at parse time."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = Path(__file__).resolve().parents[1]

# In execution order; checked against pipelines.flow.STAGES when a run is planned (and by the tests),
# so the DAG files need not import the pipeline to know its shape.
STAGES: tuple[str, ...] = (
    "read_doj",
    "read_court",
    "validate_inputs",
    "link",
    "reconcile",
    "eligibility",
    "validate_outputs",
    "deliver",
    "report",
)
# The two readers do not depend on each other; every later stage depends on the one before.
READ_STAGES = ("read_doj", "read_court")

# California counties keep local time: schedules and the default compute-at date use it.
TIMEZONE = "America/Los_Angeles"
START_DATE = datetime(2024, 1, 1)

COUNTY_DAG_PREFIX = "autoclear_county_"
STATEWIDE_DAG_ID = "autoclear_statewide"

# Seconds between drop-folder listings in the triggerer.
DROP_POKE_INTERVAL = float(os.environ.get("AUTOCLEAR_DROP_POKE_INTERVAL", "60"))


def default_workdir() -> str:
    """Where run folders, the ledger and outboxes live: AUTOCLEAR_WORKDIR or <project>/work."""
    return os.environ.get("AUTOCLEAR_WORKDIR") or str(PROJECT / "work")


def default_args() -> dict:
    """Retries with exponential backoff for transient failures (a share unmounted, a database restart).

    Data and configuration errors fail at once instead (the tasks raise AirflowFailException), since
    retrying them cannot help.
    """
    return {
        "owner": "autoclear",
        "retries": int(os.environ.get("AUTOCLEAR_TASK_RETRIES", "3")),
        "retry_delay": timedelta(seconds=float(os.environ.get("AUTOCLEAR_RETRY_DELAY_SECONDS", "120"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(hours=12),
    }
