"""Airflow: the statewide refresh DAG (`autoclear_statewide`): every configured county at once.

Fans out over the counties with dynamic task mapping (one mapped task per county runs its whole
flow), then writes <workdir>/statewide/<compute-at>/summary.json. A county that fails is
reported in the summary and does not stop the others; the run ends failed if any county failed,
after the summary is written. See dags/autoclear_dags/statewide.py.
"""

from __future__ import annotations

import os
import sys

# The helper package sits next to this file (see county_refresh.py).
_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

from autoclear_dags.statewide import build_statewide_dag  # noqa: E402

autoclear_statewide = build_statewide_dag()
