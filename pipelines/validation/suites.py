"""The suite files in ``expectations/``: parsed into typed objects, checked, and turned into GX suites.

One YAML file per checkpoint (``expectations/<checkpoint>.yaml``). Each names the frames the
checkpoint is given, and the tables Great Expectations validates (computed from the frames by
``pipelines.validation.tables``); each table lists its expectations: a stable ``id``, a GX
expectation ``type`` with ``kwargs``, a ``severity`` (``critical`` blocks delivery, ``warning``
is reported only) and a one-line ``why``. docs/validation.md describes the format.

Every mistake in a suite file is a ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines import model
from pipelines.config import read_yaml, validation_error
from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

CHECKPOINTS: tuple[str, ...] = ("doj_input", "court_input", "reconciled", "determinations", "delivery")

# Schemas a suite file may name with `schema:` (pipelines/model.py).
MODEL_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "COUNT": model.COUNT,
    "PERSON": model.PERSON,
    "QUARANTINE": model.QUARANTINE,
    "RECONCILED": model.RECONCILED,
    "DETERMINATION": model.DETERMINATION,
    "DELIVERY_ROW": model.DELIVERY_ROW,
}
# Types a suite file may name in `columns:`.
TYPE_NAMES: dict[str, pl.DataType] = {
    "String": pl.String(), "Int64": pl.Int64(), "Int32": pl.Int32(), "Float64": pl.Float64(),
    "Boolean": pl.Boolean(), "Date": pl.Date(), "List(String)": pl.List(pl.String),
}


def expectations_dir() -> Path:
    """Where the suite files live (``AUTOCLEAR_EXPECTATIONS_DIR`` or ``<project>/expectations``)."""
    return Path(os.environ.get("AUTOCLEAR_EXPECTATIONS_DIR") or ROOT / "expectations")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectationSpec(_Strict):
    """One expectation as written in a suite file."""

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any]
    severity: Literal["critical", "warning"]
    why: str = Field(min_length=10)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        from great_expectations.expectations.registry import get_expectation_impl  # noqa: PLC0415

        try:
            get_expectation_impl(value)
        except Exception:  # GX raises its own not-found error type
            raise ValueError(f"{value!r} is not a Great Expectations expectation type") from None
        return value

    @field_validator("why")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("`why` is one line")
        return value.strip()

    def parameters(self) -> set[str]:
        """Names of the ``{$PARAMETER: name}`` values in the kwargs (filled in from the context)."""
        return {v["$PARAMETER"] for v in self.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v}

    def columns(self) -> set[str]:
        """Table columns the expectation reads."""
        names = {self.kwargs.get(k) for k in ("column", "column_A", "column_B")}
        names |= set(self.kwargs.get("column_list") or ())
        return {n for n in names if isinstance(n, str)}


class FrameSpec(_Strict):
    """A frame the checkpoint is given, and the columns it must have."""

    what: str
    schema_: str | None = Field(default=None, alias="schema")
    columns: dict[str, str] | None = None
    required: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> FrameSpec:
        if (self.schema_ is None) == (self.columns is None):
            raise ValueError("give exactly one of `schema` (a pipelines.model schema) or `columns`")
        if self.schema_ is not None and self.schema_ not in MODEL_SCHEMAS:
            raise ValueError(f"unknown schema {self.schema_!r}; one of {', '.join(MODEL_SCHEMAS)}")
        for name, type_name in (self.columns or {}).items():
            if type_name not in TYPE_NAMES:
                raise ValueError(f"column {name!r}: unknown type {type_name!r}; one of {', '.join(TYPE_NAMES)}")
        return self

    def required_columns(self) -> dict[str, pl.DataType]:
        """Column -> Polars type this frame must have."""
        if self.schema_ is not None:
            return dict(MODEL_SCHEMAS[self.schema_])
        return {name: TYPE_NAMES[t] for name, t in (self.columns or {}).items()}


class TableSpec(_Strict):
    """A table GX validates: what a row is, how failing rows are named, and its expectations."""

    row: str
    row_id: str
    derived: dict[str, str] = {}
    expectations: list[ExpectationSpec] = Field(min_length=1)


class SuiteSpec(_Strict):
    """One suite file: a checkpoint."""

    checkpoint: str
    title: str
    runs_after: str
    context: dict[str, str] = {}
    frames: dict[str, FrameSpec]
    tables: dict[str, TableSpec]
    path: Path | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> SuiteSpec:
        seen: set[str] = set()
        for table in self.tables.values():
            for exp in table.expectations:
                if exp.id in seen:
                    raise ValueError(f"expectation id {exp.id!r} is used twice")
                if not exp.id.startswith(self.checkpoint + "."):
                    raise ValueError(f"expectation id {exp.id!r} must start with {self.checkpoint + '.'!r}")
                seen.add(exp.id)
        return self

    def expectations(self) -> list[tuple[str, ExpectationSpec]]:
        """(table, expectation) in file order."""
        return [(name, exp) for name, table in self.tables.items() for exp in table.expectations]

    def by_id(self, expectation_id: str) -> ExpectationSpec:
        for _, exp in self.expectations():
            if exp.id == expectation_id:
                return exp
        raise KeyError(expectation_id)


def load_suite(checkpoint_or_path: str | os.PathLike) -> SuiteSpec:
    """Parse and check a suite file: a checkpoint name (``"determinations"``) or a YAML path."""
    text = os.fspath(checkpoint_or_path)
    path = Path(text) if text.endswith((".yaml", ".yml")) else expectations_dir() / f"{text}.yaml"
    return _load(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


@cache
def _load(path: Path, _mtime: int) -> SuiteSpec:
    if not path.exists():
        raise ConfigError(f"{path}: no such suite file (checkpoints: {', '.join(CHECKPOINTS)})")
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a suite file is a mapping with checkpoint, frames and tables")
    try:
        suite = SuiteSpec.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise validation_error(path, exc) from None
    if suite.checkpoint != path.stem:
        raise ConfigError(f"{path}: key 'checkpoint': {suite.checkpoint!r} must match the file name {path.stem!r}")
    return suite


def gx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Suite-file kwargs as GX takes them: YAML dates become datetimes (our date columns are
    validated as pandas datetime64[ns], which GX compares against datetimes, not dates)."""

    def convert(value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime(value.year, value.month, value.day)
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) for k, v in kwargs.items()}
