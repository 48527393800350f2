"""County configs as the DAG files see them: one entry per config/counties/*.yaml, errors kept apart.

A mistake in one county's YAML must not take the other 57 counties' DAGs down with it, so each
file is loaded on its own; a file that does not load becomes a `BrokenCounty`, which the county
DAG file turns into a DAG that fails with the error (visible in the UI) instead of vanishing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BrokenCounty:
    """A county config file that does not load, and why."""

    name: str  # the file name without .yaml
    path: str
    error: str


def county_files() -> list[Path]:
    """Every county config file (templates whose name starts with "_" left out), by name.

    Same rule as pipelines.config.list_counties, without failing on the first bad file.
    """
    from pipelines.config import config_dir  # noqa: PLC0415

    base = config_dir() / "counties"
    return sorted(p for p in base.glob("*.yaml") if not p.name.startswith("_")) if base.is_dir() else []


def load_counties(only: str | None = None) -> list[Any]:
    """CountyConfig for each county file, or BrokenCounty where loading fails.

    `only` (a config name) loads just that file: a task being run needs only its own DAG.
    """
    from pipelines.config import load_county  # noqa: PLC0415
    from pipelines.errors import AutoclearError  # noqa: PLC0415

    loaded: list[Any] = []
    for path in county_files():
        if only and path.stem != only:
            continue
        try:
            loaded.append(load_county(path))
        except AutoclearError as exc:
            loaded.append(BrokenCounty(path.stem, str(path), str(exc)))
        except Exception as exc:  # noqa: BLE001 (any failure here is this one county's problem)
            loaded.append(BrokenCounty(path.stem, str(path), f"{type(exc).__name__}: {exc}"))
    return loaded
