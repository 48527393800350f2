"""CLI: `autoclear run` (the whole county flow) and `autoclear demo` (generated county, end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _print_summary(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="county run", show_lines=False)
    table.add_column("stage")
    table.add_column("result")
    for name, summary in result["stages"].items():
        headline = summary.get("headline") or ", ".join(
            f"{k}={v}" for k, v in summary.items() if isinstance(v, int | float | str) and len(str(v)) < 40
        )
        table.add_row(name, headline)
    console.print(table)
    console.print(f"run folder: [bold]{result['run_dir']}[/bold]")
    for label, key in (("delivery", "outbox_path"), ("dashboard", "dashboard"), ("report", "report_html"),
                       ("data docs", "data_docs")):
        for summary in result["stages"].values():
            if summary.get(key):
                console.print(f"{label}: [bold]{summary[key]}[/bold]")
                break


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        county: Annotated[str, typer.Option(help="County config name (config/counties/NAME.yaml) or path")],
        doj: Annotated[list[Path], typer.Option(help="DOJ research file(s); repeat the option for several")],
        court: Annotated[list[Path], typer.Option(help="Court extract file(s); repeat for several")],
        compute_at: Annotated[str, typer.Option(help="Compute eligibility as of this date, YYYY-MM-DD")],
        workdir: Annotated[Path, typer.Option(help="Where run folders, the ledger and the outbox live")],
        policy: Annotated[str | None, typer.Option(help="Policy name or path (default: the county's)")] = None,
        outbox: Annotated[Path | None, typer.Option(help="Deliver here instead of the county's target")] = None,
        ledger_url: Annotated[str | None, typer.Option(help="Ledger database URL (default: SQLite in workdir)",
                                                       envvar="AUTOCLEAR_LEDGER_URL")] = None,
        review_decisions: Annotated[Path | None, typer.Option(help="A worked review-queue file to apply")] = None,
    ) -> None:
        """Run every stage for one county: read, link, reconcile, eligibility, validate, deliver, report."""
        from pipelines.errors import AutoclearError
        from pipelines.flow import RunSpec, run_county

        spec = RunSpec(
            county=county, doj=[str(p) for p in doj], court=[str(p) for p in court], compute_at=compute_at,
            workdir=str(workdir), policy=policy, outbox=str(outbox) if outbox else None, ledger_url=ledger_url,
            review_decisions=str(review_decisions) if review_decisions else None,
        )
        try:
            result = run_county(spec)
        except AutoclearError as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
        _print_summary(result)

    @app.command("demo")
    def demo(
        workdir: Annotated[Path, typer.Option(help="Where to put the generated county and the outputs")] = Path("work"),
        rows: Annotated[int, typer.Option(help="DOJ rows to generate")] = 20_000,
        seed: Annotated[int, typer.Option(help="Generator seed")] = 7,
        engine: Annotated[str, typer.Option(help="airflow (embedded `airflow dags test`) or direct")] = "airflow",
    ) -> None:
        """Generate a synthetic Los Angeles-like county and run the whole county flow on it."""
        from pipelines.demo import run_demo

        raise typer.Exit(run_demo(workdir=workdir, rows=rows, seed=seed, engine=engine))
