"""DropFolderTrigger: fires an asset event when a new file lands in a county's drop folder.

Counties receive the DOJ research file and court extracts by dropping them into folders (often an
SFTP landing area). The trigger runs in the Airflow triggerer as an AssetWatcher: it lists the
folder every `poke_interval` seconds and fires once per batch of new or changed files.

- A file counts only once it is *settled*: same size and modification time in two consecutive
  listings, so a half-uploaded file never starts a run.
- Hidden files and the usual partial-upload names (`*.part`, `*.tmp`, `*.filepart`, `*~`) are
  ignored.
- What has been seen is kept in the asset's state store (Airflow 3.3), so a restarted triggerer
  does not fire again for files it already reported; without a state store (older Airflow, unit
  tests) it is kept in memory.
- On the very first start (no stored state) the files already present are taken as known, unless
  `fire_on_existing` is set: the county's schedule covers them, and 58 counties do not all start
  at once when the triggerer first comes up.

The triggerer imports this class by its path (`autoclear_dags.triggers.DropFolderTrigger`), so the
DAG folder must be on the triggerer's PYTHONPATH (docker/docker-compose.yaml and
scripts/airflow_standalone.py set it).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

IGNORED = (".*", "*.part", "*.tmp", "*.partial", "*.filepart", "*~", "*.crdownload")
STATE_KEY = "drop_folder_seen"


def list_drop_folder(folder: str, pattern: str = "*") -> dict[str, str]:
    """Files in `folder` matching `pattern` (not hidden, not partial uploads) -> "size:mtime_ns"."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return {}
    listing = {}
    for entry in entries:
        name = entry.name
        if not fnmatch.fnmatch(name, pattern) or any(fnmatch.fnmatch(name, p) for p in IGNORED):
            continue
        try:
            if not entry.is_file():
                continue
            st = entry.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        listing[name] = f"{st.st_size}:{st.st_mtime_ns}"
    return listing


def new_settled_files(previous: dict[str, str] | None, current: dict[str, str],
                      seen: dict[str, str]) -> list[str]:
    """Names whose signature is unchanged since the previous listing and differs from what was seen."""
    if previous is None:
        return []
    return sorted(n for n, sig in current.items() if previous.get(n) == sig and seen.get(n) != sig)


class DropFolderTrigger(BaseEventTrigger):
    """Watch one drop folder; yield a TriggerEvent({"folder", "files"}) for each batch of new files.

    :param folder: the drop folder (absolute path, as the triggerer sees it)
    :param pattern: shell pattern of the file names that count (default all)
    :param poke_interval: seconds between listings
    :param fire_on_existing: on the first start with no stored state, report files already there
    """

    def __init__(self, folder: str, pattern: str = "*", poke_interval: float = 30.0,
                 fire_on_existing: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.folder = folder
        self.pattern = pattern
        self.poke_interval = poke_interval
        self.fire_on_existing = fire_on_existing
        self._memory: dict[str, str] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"folder": self.folder, "pattern": self.pattern, "poke_interval": self.poke_interval,
             "fire_on_existing": self.fire_on_existing},
        )

    async def _load_seen(self) -> dict[str, str] | None:
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            try:
                raw = await store.aget(STATE_KEY)
                return json.loads(raw) if isinstance(raw, str) else raw
            except Exception as exc:  # the state store is an optimisation, never a reason to stop
                self.log.warning("drop folder %s: cannot read stored state (%s); using memory", self.folder, exc)
        return self._memory

    async def _save_seen(self, seen: dict[str, str]) -> None:
        self._memory = dict(seen)
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            try:
                await store.aset(STATE_KEY, json.dumps(seen, sort_keys=True))
            except Exception as exc:
                self.log.warning("drop folder %s: cannot store state (%s)", self.folder, exc)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = await self._load_seen()
        previous: dict[str, str] | None = None
        while True:
            current = await asyncio.to_thread(list_drop_folder, self.folder, self.pattern)
            if seen is None and previous is not None:
                seen = {} if self.fire_on_existing else {
                    n: s for n, s in current.items() if previous.get(n) == s}
                await self._save_seen(seen)
            new = new_settled_files(previous, current, seen or {})
            if new:
                # Forget files that left the folder, so a file dropped again under the same name counts.
                seen = {n: s for n, s in (seen or {}).items() if n in current}
                seen.update({n: current[n] for n in new})
                await self._save_seen(seen)
                self.log.info("drop folder %s: %d new file(s)", self.folder, len(new))
                yield TriggerEvent({"folder": self.folder, "files": new})
            previous = current
            await asyncio.sleep(self.poke_interval)
