"""Crash points for crash-safety tests: a real SIGKILL at a named point of a real delivery.

Set ``AUTOCLEAR_CRASH_AT=<point>`` in a child process's environment and the process kills itself
with SIGKILL when it reaches that point. Points: ``mid_write`` (one file of the delivery written),
``staged`` (all files and the manifest staged, nothing in the ledger), ``ledger_write`` (the
delivery and its rows written to the ledger, the transaction not committed), ``pending`` (ledger holds
the delivery as pending), ``renamed`` (folder in the outbox, ledger not yet told), ``mid_upload``
(SFTP: some files uploaded). Unset, every point is a no-op.
"""

from __future__ import annotations

import os
import signal

CRASH_POINTS = ("mid_write", "staged", "ledger_write", "pending", "renamed", "mid_upload")


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if AUTOCLEAR_CRASH_AT names this point."""
    if os.environ.get("AUTOCLEAR_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
