"""County configs as the DAG files see them: one entry per config/counties/*.yaml, errors kept apart.

A mistake in one county's YAML must not take the other counties' DAGs down with it, so each file
is loaded on its own; a file that does not load becomes a `BrokenCounty`, which the county DAG
file turns into a DAG that fails with the error (visible in the UI) instead of vanishing.

Parsing stays cheap with 58 counties: the YAML is read with libyaml and validated by the
CountyConfig model (all but the case-number pattern, which needs Polars), and the court layouts
it names are only checked to exist. The full
`pipelines.config.load_county` (which also parses every layout) runs in the `plan` task, and
here only to word the error of a file that does not load.
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


def read_county_quickly(path: Path) -> Any:
    """A CountyConfig from one file: YAML through libyaml, the model's validation, layouts exist."""
    import yaml  # noqa: PLC0415

    from pipelines.config import CountyConfig, resolve_config_file  # noqa: PLC0415

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    # The DAG needs identity, schedule and drop folders. The case-number pattern is checked by
    # compiling it with Polars, too heavy for every parse: `plan` checks it (load_county).
    data = {k: v for k, v in data.items() if k != "case_number_pattern"}
    config = CountyConfig.model_validate({**data, "source_path": str(path)})
    if config.name != path.stem:
        raise ValueError("name differs from the file name")
    for layout in config.court_layouts:
        resolve_config_file("layouts", layout)
    return config


def load_counties(only: str | None = None) -> list[Any]:
    """CountyConfig for each county file, or BrokenCounty where loading fails.

    `only` (a config name) loads just that file: a task being run needs only its own DAG.
    """
    from pipelines.config import load_county  # noqa: PLC0415

    loaded: list[Any] = []
    for path in county_files():
        if only and path.stem != only:
            continue
        try:
            loaded.append(read_county_quickly(path))
            continue
        except Exception:  # noqa: BLE001 (load_county below says what is wrong, in its words)
            pass
        try:
            loaded.append(load_county(path))
        except Exception as exc:  # noqa: BLE001 (any failure here is this one county's problem)
            loaded.append(BrokenCounty(path.stem, str(path), str(exc)))
    return loaded
