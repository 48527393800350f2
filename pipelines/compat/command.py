"""`autoclear doj`: the incumbent-compatible run, DOJ files in, the incumbent's files out.

`run_doj` does the work and returns a small report; pipelines/commands_doj.py is the command line
around it (progress, messages, the error file and exit code).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

import pipelines.runs  # noqa: F401  (umask 007: outputs are not world-readable)
from pipelines import model
from pipelines.compat import gogen
from pipelines.compat.options import policy_from_options
from pipelines.eligibility import engine
from pipelines.eligibility.facts import ENGINE, conviction_facts_lazy
from pipelines.eligibility.policy import Policy, load_policy
from pipelines.errors import AutoclearError, ConfigError

# Extra files written next to the incumbent's (same suffix rule).
EXTRA_FILES = {
    "determinations": "Determinations{s}.csv",
    "explanations": "Explanations{s}.csv",
    "quarantine": "Quarantine{s}.csv",
    "policy": "Policy_Used{s}.yaml",
    "run": "autoclear_run{s}.json",
}
# Facts written with each determination (scalar ones; lists are joined with "; ").
DETERMINATION_FACTS = (
    "row_index", "offense_text", "statute", "level", "conviction_date", "sentence_end",
    "age_at_compute_at", "superstrikes_on_record", "pc290_offenses_on_record",
    "other_cannabis_sections_in_comment",
)


@dataclass
class DojRun:
    """What a run produced: file paths, counts, the policy used."""

    files: dict[str, Path] = field(default_factory=dict)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    determinations: dict[str, int] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    policy: str = ""
    seconds: float = 0.0


def choose_policy(*, policy: str | None, options: str | None, parameters: dict[str, Any] | None = None) -> Policy:
    """The policy given by name/path, or the one an incumbent options file describes (exactly one)."""
    if bool(policy) == bool(options):
        raise ConfigError("give exactly one of --eligibility-options FILE.json or --policy NAME_OR_PATH")
    chosen = policy_from_options(options) if options else load_policy(policy)
    return chosen.with_parameters(**parameters) if parameters else chosen


def run_doj(
    inputs: Sequence[str | Path],
    *,
    county: str,
    compute_at: date,
    policy: Policy,
    outputs: str | Path,
    suffix: str = "",
    strict: bool = False,
    step: Callable[[str], None] = lambda _: None,
) -> DojRun:
    """Read DOJ files, decide every cannabis conviction in `county`, write all output files.

    `step(name)` is called as each stage starts (for progress display). Raises AutoclearError
    (InputError, ConfigError, ...) on failure; the caller writes the error file.
    """
    from pipelines.sources.doj import CANONICAL_INPUT_COLUMNS, doj_counts, doj_persons, read_doj  # noqa: PLC0415

    started = time.perf_counter()
    out_dir = Path(outputs)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
    names = gogen.output_names(suffix)
    s = f"_{suffix}" if suffix else ""

    step("read")
    # Only the columns the canonical records and the condensed file need: 2M rows of 95 parsed
    # columns would not fit the memory budget. All_Results echoes each input line as written; the
    # writer reads the lines again from the files (700 MB at 2M rows never held in memory).
    wanted = {*CANONICAL_INPUT_COLUMNS, *gogen.CONDENSED_COLUMNS}
    paths = [Path(p) for p in inputs]
    versions = [gogen.file_version(p) if p.is_file() else None for p in paths]
    read = read_doj(paths, mode="strict" if strict else "quarantine",
                    columns=[c for c in model.DOJ_COLUMNS if c in wanted])
    rows, quarantine, stats = read.rows, read.quarantine, read.stats
    del read  # the columns only the canonical records need go as soon as they are built
    sources = [
        gogen.InputFile(path=path, version=version,
                        **{k: v for k, v in stat.items() if k in gogen.InputFile.__dataclass_fields__})
        for path, version, stat in zip(paths, versions, stats.iter_rows(named=True), strict=True)
    ]
    step("facts")
    persons = doj_persons(rows)
    counts = doj_counts(rows)
    rows = rows.select(*gogen.CONDENSED_COLUMNS, "row_index")
    facts = conviction_facts_lazy(counts, persons, county=county, compute_at=compute_at).collect(engine=ENGINE)
    del counts, persons
    step("rules")
    decided = engine.apply_policy(facts, policy, compute_at=compute_at).collect(engine=ENGINE)
    step("write")
    files = gogen.write_results(rows, decided, compute_at, out_dir, suffix=suffix, inputs=sources)
    line_count = rows.height
    del rows

    files["determinations"] = out_dir / EXTRA_FILES["determinations"].format(s=s)
    _csv_ready(decided.select(*model.DETERMINATION, *DETERMINATION_FACTS)).write_csv(files["determinations"])
    files["explanations"] = out_dir / EXTRA_FILES["explanations"].format(s=s)
    engine.explanations_long(decided, policy).write_csv(files["explanations"])
    files["quarantine"] = out_dir / EXTRA_FILES["quarantine"].format(s=s)
    quarantine.write_csv(files["quarantine"])
    files["policy"] = out_dir / EXTRA_FILES["policy"].format(s=s)
    files["policy"].write_text(_policy_record(policy), encoding="utf-8")

    data = gogen.summary(
        county=county, facts=facts, determinations=decided, policy=policy, compute_at=compute_at,
        line_count=line_count,
    )
    files["summary"] = out_dir / names["summary"]
    files["summary"].write_text(gogen.summary_json(data), encoding="utf-8")

    run = DojRun(
        files=files,
        rows_read=int(stats["rows_read"].sum()),
        rows_accepted=int(stats["rows_accepted"].sum()),
        rows_quarantined=int(stats["rows_quarantined"].sum()),
        determinations={k: int(v) for k, v in decided.group_by("determination").len().sort("determination").iter_rows()},
        summary=data,
        policy=f"{policy.name} {policy.version}",
    )
    files["run"] = out_dir / EXTRA_FILES["run"].format(s=s)
    files["run"].write_text(json.dumps({
        "county": county,
        "compute_at": compute_at.isoformat(),
        "policy": {"name": policy.name, "version": policy.version, "source": Path(policy.source).name,
                   "parameters": {k: str(v) for k, v in policy.parameters.items()}},
        "inputs": stats.to_dicts(),
        "rows": {"read": run.rows_read, "accepted": run.rows_accepted, "quarantined": run.rows_quarantined},
        "determinations": run.determinations,
        "files": {k: p.name for k, p in sorted(files.items())},
    }, indent=2, default=str) + "\n", encoding="utf-8")
    run.seconds = time.perf_counter() - started
    return run


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists joined with "; " so the frame can be written as CSV."""
    return frame.with_columns(
        [pl.col(c).list.join("; ") for c, t in frame.schema.items() if isinstance(t, pl.List)]
    )


def _policy_record(policy: Policy) -> str:
    """The policy text as used, headed by the parameter values in effect."""
    head = [f"# Policy used: {policy.name} {policy.version} (from {Path(policy.source).name})"]
    head += [f"# parameter {k} = {v}" for k, v in policy.parameters.items()]
    return "\n".join(head) + "\n" + policy.text


def error_record(exc: BaseException, *, inputs: Sequence[str | Path] = ()) -> tuple[str, str, str]:
    """(file, kind, message) for the incumbent's error file. Messages never carry row contents."""
    from pipelines.errors import InputError  # noqa: PLC0415

    if isinstance(exc, InputError):
        file = next((str(p) for p in inputs if Path(p).name == exc.file), exc.file or "")
        return file, exc.kind, str(exc)
    if isinstance(exc, AutoclearError):
        return "", "OTHER", str(exc)
    if isinstance(exc, OSError):
        return exc.filename or "", "OTHER", f"{exc.strerror or type(exc).__name__}"
    # Other messages may quote data values (personal data): name the kind of failure only.
    return "", "OTHER", f"unexpected error ({type(exc).__name__}); set AUTOCLEAR_DEBUG=1 to print details"
