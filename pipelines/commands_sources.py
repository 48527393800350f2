"""CLI commands for the sources area (registered by pipelines.cli).

- ``autoclear check-layout --layout NAME_OR_PATH FILE...``: read court extracts through a layout
  and report, per file, rows read / accepted / quarantined by reason and how each field
  normalized. For people onboarding a court: values are shown only with ``--show-values``.
- ``autoclear layouts``: the court extract layouts shipped in config/layouts.
- ``autoclear counties``: the county configs in config/counties, each checked.

Heavy libraries are imported inside the commands so ``autoclear --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("check-layout")(check_layout)
    app.command("layouts")(layouts)
    app.command("counties")(counties)


def _locator(spec) -> str:
    """Where a field is in the source, as the layout says (no data)."""
    if spec.value is not None:
        return f"constant {spec.value!r}"
    if spec.start is not None:
        return f"positions {spec.start}-{spec.end}"
    if spec.column is not None:
        cols = spec.columns
        return " | ".join(repr(c) for c in cols)
    return "index " + " | ".join(str(i) for i in spec.indexes)


def _file_report(read, layout, pattern: str | None, show_values: bool) -> dict:
    """Everything check-layout says about one file (values only when show_values)."""
    import polars as pl  # noqa: PLC0415

    from pipelines.sources.court import field_quality  # noqa: PLC0415

    stats = read.stats.row(0, named=True)
    reasons = (
        read.quarantine.group_by("reason")
        .agg(pl.len().alias("rows"), pl.col("source_line").sort().head(5).alias("lines"),
             pl.col("detail").first().alias("example_detail"))
        .sort("rows", "reason", descending=[True, False])
    )
    quality = field_quality(read.rows, layout, case_number_pattern=pattern)
    fields = []
    for row in quality.iter_rows(named=True):
        item = {**row, "source": _locator(layout.fields[row["field"]])}
        if show_values and row["field"] in read.rows.columns:
            values = read.rows[row["field"]].drop_nulls()
            item["examples"] = values.unique(maintain_order=True).head(3).to_list()
        fields.append(item)
    report = {
        "file": stats["source_file"],
        "status": "ok",
        "rows_read": stats["rows_read"],
        "rows_accepted": stats["rows_accepted"],
        "rows_quarantined": stats["rows_quarantined"],
        "blank_lines": stats["blank_lines"],
        "encoding": stats["encoding"],
        "quarantined_by_reason": [
            {"reason": r["reason"], "rows": r["rows"], "first_lines": r["lines"], "example_detail": r["example_detail"]}
            for r in reasons.iter_rows(named=True)
        ],
        "fields": fields,
    }
    if show_values:
        report["quarantined_examples"] = read.quarantine.head(5).select("source_line", "reason", "raw").to_dicts()
    return report


def _print_report(console, report: dict, show_values: bool) -> None:
    from rich.table import Table  # noqa: PLC0415

    if report["status"] != "ok":
        console.print(f"[bold red]{report['file']}[/bold red]: cannot be read: {report['error']}")
        return
    console.print(
        f"[bold]{report['file']}[/bold]: {report['rows_read']:,} rows read, "
        f"[green]{report['rows_accepted']:,} accepted[/green], "
        f"[{'red' if report['rows_quarantined'] else 'green'}]{report['rows_quarantined']:,} quarantined"
        f"[/{'red' if report['rows_quarantined'] else 'green'}]"
        f"; {report['blank_lines']:,} blank lines; encoding {report['encoding']}; rows read = accepted + "
        "quarantined: [green]yes[/green]"
    )
    if report["quarantined_by_reason"]:
        table = Table(title="Quarantined rows by reason", title_justify="left")
        for col in ("reason", "rows", "first lines", "example"):
            table.add_column(col, justify="right" if col == "rows" else "left")
        for r in report["quarantined_by_reason"]:
            table.add_row(r["reason"], f"{r['rows']:,}", ", ".join(str(n) for n in r["first_lines"]),
                          r["example_detail"] or "")
        console.print(table)
    table = Table(title="How each field normalized (accepted rows)", title_justify="left")
    for col in ("field", "source", "missing", "valid", "invalid", *(["examples"] if show_values else [])):
        table.add_column(col, justify="right" if col in ("missing", "valid", "invalid") else "left")
    for f in report["fields"]:
        invalid = f"[yellow]{f['invalid']:,}[/yellow]" if f["invalid"] else "0"
        cells = [f["field"], f["source"], f"{f['missing']:,}", f"{f['valid']:,}", invalid]
        if show_values:
            cells.append(", ".join(repr(v) for v in f.get("examples", [])))
        table.add_row(*cells)
    console.print(table)
    if show_values and report.get("quarantined_examples"):
        table = Table(title="First quarantined rows (raw)", title_justify="left")
        for col in ("line", "reason", "raw"):
            table.add_column(col)
        for q in report["quarantined_examples"]:
            table.add_row(str(q["source_line"]), q["reason"], q["raw"] or "")
        console.print(table)


def check_layout(
    files: Annotated[list[Path] | None, typer.Argument(help="Court extract file(s); none for a sql layout.")] = None,
    layout: Annotated[str, typer.Option("--layout", "-l", help="Layout name (config/layouts) or a layout .yaml path.")] = "",
    county: Annotated[str | None, typer.Option(
        "--county", "-c", help="County config name: also checks case numbers against its case_number_pattern.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Compute-at date YYYY-MM-DD (sets the century of two-digit years; default today).")] = None,
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Also show example values and raw quarantined lines (personal data: careful).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (for scripts).")] = False,
) -> None:
    """Read court extract file(s) through a layout and report how they read.

    Per file: rows read, accepted and quarantined by reason (with the first line numbers), and
    for each mapped field how many accepted rows had it missing, valid or invalid. No personal
    value is printed unless --show-values. Exits 1 when a file cannot be read at all or its rows
    do not add up (read = accepted + quarantined); quarantined rows alone do not fail the check.
    """
    from datetime import date  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415

    from pipelines.config import doj_county_name, load_county  # noqa: PLC0415
    from pipelines.errors import AutoclearError, ConfigError  # noqa: PLC0415
    from pipelines.sources.court import load_layout, read_court  # noqa: PLC0415

    console = Console(stderr=as_json)
    err = Console(stderr=True)
    if not layout:
        err.print("[red]error[/red] give --layout NAME_OR_PATH (see `autoclear layouts`)")
        raise typer.Exit(2)
    try:
        chosen = load_layout(layout)
        config = load_county(county) if county else None
        when = date.fromisoformat(as_of) if as_of else None
    except (AutoclearError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    paths = list(files or [])
    if chosen.kind == "sql" and paths:
        err.print(f"[red]error[/red] layout {chosen.name!r} reads a database: give no files")
        raise typer.Exit(2)
    if chosen.kind != "sql" and not paths:
        err.print("[red]error[/red] give at least one file to check")
        raise typer.Exit(2)
    county_name = config.doj_county_name if config else doj_county_name("unspecified")
    pattern = config.case_number_pattern if config else None

    reports = []
    targets: list[Path | None] = list(paths) if paths else [None]
    for path in targets:
        label = path.name if path is not None else f"sql:{chosen.sql.query}"
        try:
            with console.status(f"Reading {label} through layout {chosen.name} ..."):
                read = read_court([path] if path is not None else [], chosen, county=county_name, as_of=when)
            report = _file_report(read, chosen, pattern, show_values)
        except (AutoclearError, OSError) as exc:
            kind = "conservation" if type(exc).__name__ == "ConservationError" else "unreadable"
            report = {"file": label, "status": kind, "error": str(exc)}
        except ConfigError as exc:  # pragma: no cover - subclass of AutoclearError, kept for clarity
            report = {"file": label, "status": "unreadable", "error": str(exc)}
        reports.append(report)

    ok = all(r["status"] == "ok" for r in reports)
    if as_json:
        doc = {"layout": chosen.name, "kind": chosen.kind, "county": county_name, "ok": ok, "files": reports}
        typer.echo(json.dumps(doc, indent=2, default=str))
    else:
        console.print(f"Layout [bold]{chosen.name}[/bold] ({chosen.kind}): {chosen.description}")
        for report in reports:
            _print_report(console, report, show_values)
        failed = [r["file"] for r in reports if r["status"] != "ok"]
        if failed:
            console.print(f"[red]{len(failed)} file(s) could not be read[/red]: {', '.join(failed)}")
    if not ok:
        raise typer.Exit(1)


def layouts() -> None:
    """List the court extract layouts in config/layouts (name, kind, description)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from pipelines.errors import ConfigError  # noqa: PLC0415
    from pipelines.sources.court import list_layouts, load_layout  # noqa: PLC0415

    table = Table(title="Court extract layouts (config/layouts)", title_justify="left")
    for col in ("name", "kind", "description"):
        table.add_column(col)
    bad = False
    for name in list_layouts():
        try:
            lay = load_layout(name)
            table.add_row(name, lay.kind, lay.description)
        except ConfigError as exc:
            bad = True
            table.add_row(name, "[red]error[/red]", str(exc))
    Console().print(table)
    if bad:
        raise typer.Exit(1)


def counties() -> None:
    """List the county configs in config/counties, each loaded and checked."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from pipelines.config import config_dir, load_county  # noqa: PLC0415
    from pipelines.errors import ConfigError  # noqa: PLC0415

    table = Table(title="County configs (config/counties)", title_justify="left")
    for col in ("name", "DOJ name", "policy", "court layouts", "delivery", "schedule"):
        table.add_column(col)
    bad = False
    for path in sorted((config_dir() / "counties").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        try:
            c = load_county(path)
            table.add_row(c.name, c.doj_county_name, c.policy, ", ".join(c.court_layouts),
                          f"{c.delivery.layout} -> {c.delivery.target.kind}", c.schedule or "")
        except ConfigError as exc:
            bad = True
            table.add_row(path.stem, "[red]error[/red]", str(exc), "", "", "")
    Console().print(table)
    if bad:
        raise typer.Exit(1)
