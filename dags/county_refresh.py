"""County refresh DAGs: one per county config in config/counties/*.yaml (`autoclear_county_<name>`).

Each DAG runs one county's flow (read DOJ and court files, validate, link, reconcile, decide
eligibility, validate, deliver, report), one task per stage, on the county's schedule and when a
new file lands in its drop folders. This file only reads the county YAML files; the pipeline is
imported inside the tasks. See dags/autoclear_dags/county.py.
"""

from __future__ import annotations

import os
import sys

# The helper package sits next to this file; the DAG processor, workers and `airflow dags test`
# do not all put the DAG folder on sys.path.
_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

from airflow.sdk import get_parsing_context  # noqa: E402
from autoclear_dags.configs import load_counties  # noqa: E402
from autoclear_dags.county import build_county_dag  # noqa: E402
from autoclear_dags.settings import COUNTY_DAG_PREFIX  # noqa: E402

# When a worker runs one task it needs only that task's DAG: skip loading the other counties.
_wanted = get_parsing_context().dag_id
_only = _wanted.removeprefix(COUNTY_DAG_PREFIX) if _wanted and _wanted.startswith(COUNTY_DAG_PREFIX) else None

for _config in load_counties(only=_only):
    globals()[f"{COUNTY_DAG_PREFIX}{_config.name}"] = build_county_dag(_config)
