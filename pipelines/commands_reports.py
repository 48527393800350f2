"""CLI commands for the reports area (registered by pipelines.cli): `report`, `what-if`, `serve`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def _fail(exc: Exception) -> NoReturn:
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("report")
    def report_cmd(
        run_dir: Annotated[Path | None, typer.Option("--run-dir", help="A finished run folder (<workdir>/<county>/<run id>)")] = None,
        workdir: Annotated[Path | None, typer.Option(help="Work folder with the county's other runs and the dashboard "
                                                           "(default: the run's own)")] = None,
        statewide: Annotated[bool, typer.Option("--statewide", help="Add up every county's latest report under "
                                                                     "--workdir into the statewide report")] = False,
        what_if: Annotated[bool, typer.Option(help="Also compute the figures under every shipped policy")] = True,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    ) -> None:
        """Write the impact report (JSON, HTML, PDF), the policy what-if and the data-quality dashboard."""
        from rich.console import Console

        from pipelines.errors import AutoclearError
        from pipelines.reports import write_reports, write_statewide_report

        console = Console(stderr=as_json)
        if statewide == (run_dir is not None):
            _fail(ValueError("give either --run-dir DIR, or --statewide with --workdir DIR"))
        if statewide and workdir is None:
            _fail(ValueError("--statewide needs --workdir DIR"))
        try:
            with console.status("writing reports and the dashboard…"):
                if statewide:
                    summary = write_statewide_report(workdir)
                else:
                    summary = write_reports(run_dir, workdir=workdir, with_what_if=what_if)
        except AutoclearError as exc:
            _fail(exc)
        if as_json:
            typer.echo(json.dumps(summary, indent=2, default=str))
            return
        console.print(summary["headline"])
        for label, key in (("report", "report_html"), ("PDF", "report_pdf"), ("dashboard", "dashboard")):
            if summary.get(key):
                console.print(f"{label}: [bold]{summary[key]}[/bold]")

    @app.command("what-if")
    def what_if_cmd(
        run_dir: Annotated[Path, typer.Option("--run-dir", help="A finished run folder (<workdir>/<county>/<run id>)")],
        policy: Annotated[list[str] | None, typer.Option(
            help="Compare these policies (name or path; repeat) instead of every shipped one")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
    ) -> None:
        """The county's impact figures under each policy, side by side (small cells shown as <11)."""
        from rich.console import Console
        from rich.table import Table

        from pipelines.errors import AutoclearError
        from pipelines.reports import compared_rows, run_what_if

        console = Console(stderr=as_json)
        try:
            with console.status("deciding the run's convictions under each policy…"):
                result = run_what_if(run_dir, policies=policy or None)
        except AutoclearError as exc:
            _fail(exc)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=str))
            return
        table = Table(title=f"What if: {result['county']} as of {result['compute_at']}")
        table.add_column("figure", min_width=30)
        for column in result["policies"]:
            table.add_column(f"{column['policy']}{' (current)' if column['current'] else ''}", justify="right")
        for row in compared_rows(result):
            table.add_row(row["figure"], *[f"{v:,}" if isinstance(v, int) else str(v) for v in row["cells"]])
        console.print(table)

    @app.command("serve")
    def serve_cmd(
        workdir: Annotated[Path, typer.Option(help="Work folder whose dashboard/ to serve")] = Path("work"),
        host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    ) -> None:
        """Serve the dashboard on localhost (read only; only files in the dashboard folder)."""
        from rich.console import Console

        from pipelines.errors import AutoclearError
        from pipelines.reports.dashboard import dashboard_dir
        from pipelines.reports.serve import make_server

        console = Console()
        try:
            server = make_server(dashboard_dir(workdir), host=host, port=port)
        except (AutoclearError, OSError) as exc:
            _fail(exc)
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"[yellow]note: listening on {host}: other machines can reach this dashboard[/yellow]")
        console.print(f"dashboard: [bold]http://{host}:{server.server_address[1]}/[/bold]  (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
