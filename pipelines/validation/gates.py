"""Run a checkpoint with Great Expectations, write its summary and Data Docs, and gate delivery.

    result = run_checkpoint("determinations", {"determinations": det, "counts": counts},
                            context={"compute_at": "2024-07-01", "county": "LOS ANGELES",
                                     "run_id": run_id},
                            out_dir=run_dir / "validation")
    gate(result)       # raises ValidationFailed when a critical expectation failed

Inside one run folder, GX keeps a file-based context (``<out_dir>/gx/``: the suites as run, the
validation results) and builds Data Docs into ``<out_dir>/data_docs/``; every checkpoint of the
run adds its results there, and each run folder keeps its own, so earlier runs stay as they were.
Each checkpoint also writes ``<out_dir>/<checkpoint>.json`` (format in docs/validation.md).

Nothing is sent anywhere: GX analytics are off (environment and context), progress bars are
off, and results hold only booleans, codes, counts and our row ids (never names, dates of birth
or state ids), so logs, summaries and Data Docs cannot leak them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

import pipelines.runs  # noqa: F401 (umask 007: validation artefacts are not world-readable)
from pipelines.errors import ValidationFailed
from pipelines.validation.overview import write_overview
from pipelines.validation.suites import ROOT, ExpectationSpec, SuiteSpec, gx_kwargs, load_suite
from pipelines.validation.tables import Table, ValidationContext, builders

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

log = logging.getLogger(__name__)

SUMMARY_FORMAT = "autoclear.validation/1"
# GX names this logger after its file; it reports config saves at INFO.
_GX_VARIABLES_LOGGER = "great_expectations.data_context.data_context_variables"
DATASOURCE = "autoclear"
ASSET = "frames"
DOCS_SITE = "run"
BUILT_AHEAD = 2  # tables built while GX validates (at 1M rows: 3.50 s against 3.66 s for 1, medians of 8 pairs)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, as our suite file names it."""

    id: str
    table: str
    type: str
    severity: str  # "critical" | "warning"
    why: str
    success: bool
    rows: int | None  # rows the expectation looked at (element_count)
    unexpected_count: int | None
    unexpected_percent: float | None
    row_ids: list[str]  # up to max_row_ids failing rows, by our ids
    row_id: str  # what the ids are ("count_id", "<source_file>:<source_line>", ...)
    kwargs: dict[str, Any]
    # The most common values among the first `max_row_ids` failing rows, with their counts there
    # (GX's partial_unexpected_counts). Validated columns hold only codes, flags, counts, field
    # names and conviction dates (tables.py), so these are never personal data.
    unexpected_values: list[tuple[Any, int]] = field(default_factory=list)
    observed_value: Any = None
    error: str | None = None  # GX raised while evaluating (the expectation counts as failed)

    @property
    def blocking(self) -> bool:
        return self.severity == "critical" and not self.success

    def describe(self) -> str:
        """One line: which expectation, how many rows, which row ids."""
        what = f"{self.id} ({self.type} on {self.table})"
        if self.error:
            return f"{what}: could not be evaluated: {self.error}"
        if self.unexpected_count is None:
            observed = f": observed {self.observed_value}" if self.observed_value is not None else ""
            return f"{what}{observed}"
        values = ", ".join(_show(v) for v, _ in self.unexpected_values)
        values = f" (failing values: {values})" if values else ""
        ids = f"; {self.row_id}: {', '.join(self.row_ids)}" if self.row_ids else ""
        more = " ..." if self.row_ids and self.unexpected_count > len(self.row_ids) else ""
        return f"{what}: {self.unexpected_count} of {self.rows} row(s){values}{ids}{more}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "table": self.table, "type": self.type, "severity": self.severity,
            "why": self.why, "success": self.success, "rows": self.rows,
            "unexpected_count": self.unexpected_count, "unexpected_percent": self.unexpected_percent,
            "unexpected_values": [{"value": _jsonable(v), "count": n} for v, n in self.unexpected_values],
            "row_id": self.row_id, "row_ids": self.row_ids, "kwargs": _jsonable(self.kwargs),
            "observed_value": _jsonable(self.observed_value), "error": self.error,
        }


@dataclass
class CheckpointResult:
    """What run_checkpoint found. ``success`` is False when a critical expectation failed."""

    checkpoint: str
    success: bool
    outcomes: list[ExpectationOutcome]
    table_rows: dict[str, int]
    summary_path: Path
    data_docs: Path | None  # index.html of the run's GX Data Docs (None when not built)
    overview: Path | None = None  # <out_dir>/index.html: every checkpoint of the run, readable offline
    validation_pages: dict[str, Path] = field(default_factory=dict)  # table -> its Data Docs page
    context: ValidationContext | None = None
    suite_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds: prepare, validate, docs, ...

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == "warning" and not o.success]

    def describe(self) -> str:
        """A short, human-readable report (no personal data)."""
        status = "passed" if self.success else "BLOCKED"
        lines = [
            f"validation {self.checkpoint}: {status} - {len(self.outcomes)} expectations, "
            f"{len(self.critical_failures)} critical failed, {len(self.warnings)} warning(s)"
        ]
        lines += [f"  critical: {o.describe()}" for o in self.critical_failures]
        lines += [f"  warning:  {o.describe()}" for o in self.warnings]
        if self.overview:
            lines.append(f"  overview: {self.overview}")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        ctx = self.context or ValidationContext()
        out_dir = self.summary_path.parent
        return {
            "format": SUMMARY_FORMAT,
            "checkpoint": self.checkpoint,
            "suite_file": _relative(self.suite_path, ROOT) if self.suite_path else None,
            "run_id": ctx.run_id,
            "county": ctx.county,
            "compute_at": ctx.compute_at.isoformat() if ctx.compute_at else None,
            "success": self.success,
            "blocked": not self.success,
            "expectations": {
                "total": len(self.outcomes),
                "passed": sum(o.success for o in self.outcomes),
                "failed_critical": len(self.critical_failures),
                "failed_warning": len(self.warnings),
            },
            # No per-table Data Docs pages here: their paths carry GX's run time, and this file is
            # the same bytes for the same inputs.
            "tables": {name: {"rows": rows} for name, rows in self.table_rows.items()},
            "data_docs": _relative(self.data_docs, out_dir),
            "parameters": _jsonable({k: v for k, v in ctx.gx_parameters().items() if k != "california_counties"}),
            "results": [o.to_json() for o in self.outcomes],
            "gx_version": _gx_version(),
        }


def run_checkpoint(
    name: str,
    frames: dict[str, pl.DataFrame | pl.LazyFrame],
    *,
    context: dict[str, Any],
    out_dir: Path,
) -> CheckpointResult:
    """Validate a stage's frames against ``expectations/<name>.yaml`` with Great Expectations.

    `frames` are the frames the suite file lists (``frames:``); `context` holds compute_at,
    county, run_id and, for delivery, case_number_pattern and expected_rows (see
    ``ValidationContext``). `out_dir` is the run folder's validation directory
    (``<run_dir>/validation``): the GX context, the Data Docs and ``<name>.json`` go there.

    Returns the result whatever it is; call ``gate(result)`` to stop on a critical failure.
    Raises ValueError for a missing frame or context value, ConfigError for a bad suite file.
    """
    started = time.perf_counter()
    suite = load_suite(name)
    ctx = ValidationContext.from_dict(context)
    _check_context(suite, ctx)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
    build = builders(suite, frames, ctx)

    timings: dict[str, float] = {"prepare": 0.0}
    identifiers: dict[str, Any] = {}
    outcomes: list[ExpectationOutcome] = []
    table_rows: dict[str, int] = {}
    run_time = dt.datetime.now(dt.UTC)
    # Tables are built (Polars, which releases the GIL) in worker threads while Great Expectations
    # (single-threaded Python) validates the previous one. Two are built ahead: a build's
    # single-threaded parts (the pandas copy) then overlap another build's instead of leaving a core
    # idle; at most three pandas copies are alive at a time.
    order = list(suite.tables)
    with ThreadPoolExecutor(max_workers=BUILT_AHEAD, thread_name_prefix="validation-prepare") as pool:
        pending = {name: pool.submit(_build, build[name]) for name in order[:BUILT_AHEAD]}
        try:
            gx_run = _GxRun(out_dir)
            definitions = gx_run.setup(suite)
            timings["gx_setup"] = time.perf_counter() - started
            for i, table_name in enumerate(order):
                table, frame, seconds = pending.pop(table_name).result()
                if i + BUILT_AHEAD < len(order):
                    pending[order[i + BUILT_AHEAD]] = pool.submit(_build, build[order[i + BUILT_AHEAD]])
                timings["prepare"] += seconds
                t0 = time.perf_counter()
                identifier, gx_result = gx_run.validate(definitions[table_name], frame, ctx, run_time)
                timings[f"validate.{table_name}"] = time.perf_counter() - t0
                identifiers[table_name] = identifier
                table_rows[table_name] = table.frame.height
                outcomes += _outcomes(suite, table_name, table, gx_result, ctx.max_row_ids)
                del frame, gx_result
        finally:  # on an error, do not build the tables nobody will validate
            for future in pending.values():
                future.cancel()
    validated = time.perf_counter()
    timings["validate"] = validated - started  # wall time of validation, preparing tables included

    data_docs, pages = None, {}
    if ctx.build_docs:
        docs_cpu = time.thread_time()  # Data Docs render in this thread only
        data_docs, pages = gx_run.build_docs(identifiers)
        timings["docs"] = time.perf_counter() - validated
        timings["docs_cpu"] = time.thread_time() - docs_cpu

    success = not any(o.blocking for o in outcomes)
    result = CheckpointResult(
        checkpoint=name, success=success, outcomes=outcomes, table_rows=table_rows,
        summary_path=out_dir / f"{name}.json", data_docs=data_docs, validation_pages=pages,
        context=ctx, suite_path=suite.path, timings=timings,
    )
    _write_json(result.summary_path, result.to_json())
    if ctx.build_docs:
        result.overview = write_overview(out_dir)
    timings["total"] = time.perf_counter() - started
    level = logging.INFO if success else logging.WARNING
    log.log(level, "validation %s: %s; %d expectations, %d critical failed, %d warning(s)%s",
            name, "passed" if success else "BLOCKED", len(outcomes), len(result.critical_failures),
            len(result.warnings), f"; overview: {result.overview}" if result.overview else "")
    return result


def _build(builder: Any) -> tuple[Table, Any, float]:
    """Build one table and its pandas copy (worker thread); returns the time it took."""
    t0 = time.perf_counter()
    table = builder()
    return table, table.frame.to_pandas(), time.perf_counter() - t0


def gate(result: CheckpointResult) -> CheckpointResult:
    """Raise ValidationFailed when a critical expectation failed; otherwise return the result.

    The message names each failed expectation, how many rows failed and up to N row ids (our
    ids, never names or dates of birth), and where the Data Docs are.
    """
    failures = result.critical_failures
    if not failures:
        return result
    lines = [
        f"validation checkpoint {result.checkpoint!r} blocked delivery: "
        f"{len(failures)} critical expectation(s) failed"
    ]
    lines += [f"  - {o.describe()}" for o in failures]
    lines.append(f"  details: {result.overview or result.summary_path}")
    raise ValidationFailed("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Great Expectations


class _GxRun:
    """A file-based GX context rooted in the run folder's validation directory."""

    def __init__(self, out_dir: Path):
        for name in ("great_expectations", _GX_VARIABLES_LOGGER):
            logging.getLogger(name).setLevel(logging.WARNING)
        import great_expectations as gx  # noqa: PLC0415 (heavy; only when validating)
        from great_expectations.data_context.types.base import (  # noqa: PLC0415
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine  # noqa: PLC0415

        from pipelines.validation import gx_speedups  # noqa: PLC0415

        # GX fingerprints each pandas batch (md5 over pandas' hash of every cell) unless the frame
        # holds 1 GB or more, and only records it in the result's batch markers. Our tables are
        # derived flags rebuilt from the run's frames, so the fingerprint identifies nothing a
        # reviewer uses, and it was a sixth of GX's CPU at 1M rows: GX's own cut-off, set to 0.
        pandas_execution_engine.HASH_THRESHOLD = 0
        if os.environ.get("AUTOCLEAR_GX_SPEEDUPS", "1") != "0":  # "0": GX exactly as released
            gx_speedups.install()
        self.gx = gx
        self.out_dir = out_dir.resolve()
        self.docs_dir = self.out_dir / "data_docs"
        store_dir = self.out_dir / "gx"

        def files(kind: str) -> dict:
            return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(store_dir / kind)}

        # An ephemeral context (no great_expectations.yml to re-read on every access: a file
        # context spends most of its time in YAML) whose suites and validation results are files
        # in the run folder, so every checkpoint of the run, in any process, lands in one Data Docs.
        defaults = InMemoryStoreBackendDefaults()
        stores = dict(defaults.stores)
        stores[defaults.expectations_store_name] = {"class_name": "ExpectationsStore",
                                                    "store_backend": files("expectations")}
        stores[defaults.validation_results_store_name] = {"class_name": "ValidationResultsStore",
                                                          "store_backend": files("validations")}
        config = DataContextConfig(
            store_backend_defaults=defaults,
            stores=stores,
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            data_docs_sites={
                DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                      "base_directory": str(self.docs_dir)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
                }
            },
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        # One dataframe asset and one whole-dataframe batch definition serve every table: the
        # dataframe itself is given at run time, and the suite's name says which table it is.
        datasource = self.context.data_sources.add_or_update_pandas(DATASOURCE)
        asset = datasource.add_dataframe_asset(ASSET)
        self.batch = asset.add_batch_definition_whole_dataframe("whole")

    def setup(self, suite: SuiteSpec) -> dict[str, Any]:
        """A GX suite and validation definition per table; table -> validation definition.

        No GX Checkpoint objects: a checkpoint here only wraps one validation definition, and
        storing it and re-checking it against its store on every run cost about 1 s of CPU across
        the five checkpoints. The definitions are run directly (``ValidationDefinition.run``,
        which stores the results the Data Docs are built from)."""
        gx = self.gx
        from great_expectations.expectations.expectation_configuration import (  # noqa: PLC0415
            ExpectationConfiguration,
        )

        definitions = {}
        for table_name, spec in suite.tables.items():
            name = f"{suite.checkpoint}.{table_name}"
            expectations = [
                ExpectationConfiguration(
                    type=exp.type, kwargs=gx_kwargs(exp.kwargs), severity=exp.severity, notes=exp.why,
                    meta={"id": exp.id, "table": table_name},
                ).to_domain_obj()
                for exp in spec.expectations
            ]
            gx_suite = self.context.suites.add_or_update(gx.ExpectationSuite(
                name=name, expectations=expectations,
                meta={"checkpoint": suite.checkpoint, "table": table_name, "row": spec.row, "row_id": spec.row_id,
                      "suite_file": suite.path.name if suite.path else None},
            ))
            definition = gx.ValidationDefinition(name=name, data=self.batch, suite=gx_suite)
            # The definitions store is in memory and new with this context: a plain add (add_or_update
            # would store the suite a second time).
            try:
                definitions[table_name] = self.context.validation_definitions.add(definition)
            except gx.exceptions.DataContextError:
                definitions[table_name] = self.context.validation_definitions.add_or_update(definition)
        return definitions

    def validate(self, definition: Any, frame: Any, ctx: ValidationContext, run_time: dt.datetime) -> tuple[Any, Any]:
        """Validate one table; when an expectation fails, again with the failing rows' positions
        (pandas RangeIndex positions: tables.Table maps them to our ids). The second result has the
        same run id, so it replaces the first in the store and in Data Docs."""
        from great_expectations.core.run_identifier import RunIdentifier  # noqa: PLC0415
        from great_expectations.data_context.types.resource_identifiers import (  # noqa: PLC0415
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        params = {k: v for k, v in ctx.gx_parameters().items() if v is not None}
        run_id = RunIdentifier(run_name=ctx.run_id or "validation", run_time=run_time)

        def run(result_format: str) -> tuple[Any, Any]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas/GX deprecation chatter; results are checked below
                validation = definition.run(
                    batch_parameters={"dataframe": frame}, expectation_parameters=params, run_id=run_id,
                    result_format={"result_format": result_format, "partial_unexpected_count": ctx.max_row_ids})
            identifier = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.suite.name),
                run_id=run_id, batch_identifier=validation.batch_id)
            return identifier, validation

        # BASIC results (counts, sample values) cost about a fifth less than SUMMARY ones (which add
        # the failing rows' positions); a table with a failure is validated again with SUMMARY.
        identifier, validation = run("BASIC")
        if validation.success or ctx.max_row_ids == 0:
            return identifier, validation
        return run("SUMMARY")

    def build_docs(self, identifiers: dict[str, Any]) -> tuple[Path, dict[str, Path]]:
        self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=list(identifiers.values()))
        pages = {}
        for table, identifier in identifiers.items():
            urls = self.context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
            url = urls[0].get("site_url") if urls else None
            if url and url.startswith("file://"):
                pages[table] = Path(url.removeprefix("file://"))
        return self.docs_dir / "index.html", pages


def _check_context(suite: SuiteSpec, ctx: ValidationContext) -> None:
    needed = {"compute_at": ctx.compute_at, "county": ctx.county}
    missing = [key for key in suite.context if key in needed and needed[key] is None]
    if missing:
        raise ValueError(f"checkpoint {suite.checkpoint!r} needs context value(s): {', '.join(missing)}")
    if ctx.max_row_ids < 0:
        raise ValueError("max_row_ids must be 0 or more")


def _outcomes(suite: SuiteSpec, table_name: str, table: Table, validation: Any,
              max_row_ids: int) -> list[ExpectationOutcome]:
    by_id = {exp.id: exp for exp in suite.tables[table_name].expectations}
    found: dict[str, Any] = {}
    for r in validation.results:
        found[(r.expectation_config.meta or {}).get("id")] = r
    out = []
    for exp_id, exp in by_id.items():
        r = found.get(exp_id)
        out.append(_outcome(exp, table_name, suite.tables[table_name].row_id, table, r, max_row_ids))
    return out


def _outcome(exp: ExpectationSpec, table_name: str, row_id: str, table: Table, r: Any,
             max_row_ids: int) -> ExpectationOutcome:
    common = {"id": exp.id, "table": table_name, "type": exp.type, "severity": exp.severity, "why": exp.why,
              "row_id": row_id, "kwargs": exp.kwargs}
    if r is None:  # pragma: no cover - GX returns one result per expectation
        return ExpectationOutcome(**common, success=False, rows=None, unexpected_count=None,
                                  unexpected_percent=None, row_ids=[], error="no result from Great Expectations")
    res = r.result or {}
    error = _exception(r.exception_info)
    positions = [int(p) for p in (res.get("partial_unexpected_index_list") or []) if _is_int(p)][:max_row_ids]
    unexpected = res.get("unexpected_count")
    percent = res.get("unexpected_percent")
    values = [(c.get("value"), int(c.get("count", 0))) for c in (res.get("partial_unexpected_counts") or [])
              if isinstance(c, dict) and "value" in c][:max_row_ids]
    observed = res.get("observed_value")
    return ExpectationOutcome(
        **common,
        success=bool(r.success) and error is None,
        rows=_int(res.get("element_count")),
        unexpected_count=_int(unexpected),
        unexpected_percent=round(float(percent), 6) if percent is not None else None,
        row_ids=table.row_ids(positions) if not r.success else [],
        unexpected_values=values if not r.success else [],
        observed_value=observed if isinstance(observed, int | float | str | bool) else None,
        error=error,
    )


def _exception(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating, if any."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    if isinstance(info, dict):  # keyed by metric: {metric id: {exception_message, ...}}
        for value in info.values():
            if isinstance(value, dict) and value.get("exception_message"):
                return str(value["exception_message"]).splitlines()[0]
    return None


def _show(value: Any) -> str:
    if value == "":
        return '""'
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(_jsonable(value))


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return str(path)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def _gx_version() -> str:
    from great_expectations import __version__  # noqa: PLC0415

    return __version__
