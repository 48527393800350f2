"""CLI: `autoclear deliver`, `autoclear ack`, `autoclear history` (registered by pipelines.cli).

Heavy libraries are imported inside the commands so `autoclear --help` stays fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

LedgerUrl = Annotated[
    str | None,
    typer.Option("--ledger-url", envvar="AUTOCLEAR_LEDGER_URL", show_envvar=True,
                 help="Ledger database URL (default: SQLite file ledger.sqlite in the workdir)"),
]
Workdir = Annotated[
    Path,
    typer.Option(envvar="AUTOCLEAR_WORKDIR", help="Work directory (holds the default SQLite ledger and outbox)"),
]


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(1) from exc


def _county_name(county: str) -> str:
    """The ledger's county key (DOJ spelling), from a config name, display or DOJ name."""
    from pipelines.errors import ConfigError

    try:
        from pipelines.config import load_county

        return load_county(county).doj_county_name
    except (ConfigError, ImportError):
        return " ".join(county.replace("_", " ").upper().split())


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("deliver")
    def deliver_cmd(
        run_dir: Annotated[Path, typer.Option("--run-dir", help="The run folder to deliver (<workdir>/<county>/<run id>)")],
        ledger_url: LedgerUrl = None,
        outbox: Annotated[Path | None, typer.Option(help="Publish to this folder instead of the county's target")] = None,
        layout: Annotated[str | None, typer.Option(help="Court layout name (config/delivery/NAME.yaml) or path")] = None,
        da_challenges: Annotated[Path | None, typer.Option(
            help="CSV of counts the DA challenged (count_id, delivery_id, or court_case_number + count_number)")] = None,
        lock_timeout: Annotated[float | None, typer.Option(
            envvar="AUTOCLEAR_LEDGER_LOCK_TIMEOUT", help="Seconds to wait for another run of the same county")] = None,
        withdraw_missing: Annotated[bool, typer.Option(
            help="Withdraw delivered counts that are absent from this run (default: only report them)")] = False,
        validate: Annotated[bool, typer.Option(
            help="Run the delivery validation checkpoint before publishing (blocks on a critical failure)")] = True,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    ) -> None:
        """Publish a run's delivery: new counts, corrections and withdrawals, exactly once, with a manifest."""
        from rich.console import Console
        from rich.table import Table

        from pipelines.delivery.run import deliver_run_dir, read_da_challenges
        from pipelines.errors import AutoclearError

        console = Console(stderr=as_json)
        try:
            challenges = read_da_challenges(da_challenges) if da_challenges else None
            with console.status("delivering…"):
                result, summary = deliver_run_dir(
                    run_dir, ledger_url=ledger_url, target=str(outbox) if outbox else None, layout=layout,
                    lock_timeout=lock_timeout, withdraw_missing=withdraw_missing, da_challenges=challenges,
                    validate=validate,
                )
        except AutoclearError as exc:
            _fail(exc)
        if as_json:
            typer.echo(json.dumps(summary, indent=2, default=str))
            return
        for r in result.recovered:
            console.print(f"[yellow]recovered[/yellow] delivery {r.name} left by an interrupted run: {r.outcome}")
        plan = result.plan
        console.print(
            f"[bold]{result.county}[/bold]: {plan['new']} new, {plan['correction']} corrections, "
            f"{plan['withdrawal']} withdrawals, {plan['unchanged']} already delivered"
            + (f", {plan['missing']} delivered earlier but absent from this run (not withdrawn)" if plan["missing"] else "")
        )
        if result.undeliverable:
            detail = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in result.undeliverable.items())
            console.print(f"[yellow]not deliverable[/yellow]: {detail} — see {run_dir / 'delivery'}")
        if result.delivery is None:
            console.print("nothing new to deliver")
            return
        table = Table(title=f"delivery {result.delivery.name}")
        for col in ("file", "kind", "rows", "sha256"):
            table.add_column(col, justify="right" if col == "rows" else "left")
        for f in result.manifest["files"]:
            table.add_row(f["name"], f["kind"], str(f["rows"]), f["sha256"][:16] + "…")
        console.print(table)
        console.print(f"published to [bold]{result.delivery.location}[/bold] "
                      f"(manifest sha256 {result.delivery.manifest_sha256[:16]}…)")

    @app.command("ack")
    def ack_cmd(
        response_file: Annotated[Path, typer.Argument(help="The court's response: CSV with delivery_id, status "
                                                      "(accepted/rejected), optional reason, order_date")],
        county: Annotated[str, typer.Option(help="County the response is from (config name or county name)")],
        ledger_url: LedgerUrl = None,
        workdir: Workdir = Path("work"),
        doj_update: Annotated[Path | None, typer.Option(
            help="Also write the DOJ disposition update (PC 13151) for every accepted count to this file")] = None,
    ) -> None:
        """Record the court's acknowledgement of delivered counts (accepted or rejected, per delivery id)."""
        from rich.console import Console

        from pipelines.errors import AutoclearError
        from pipelines.ledger.store import Ledger

        console = Console()
        name = _county_name(county)
        try:
            with Ledger(ledger_url, workdir=workdir) as ledger:
                result = ledger.record_ack(name, response_file)
                if doj_update is not None:
                    from pipelines.delivery.files import write_doj_update

                    accepted = ledger.accepted_rows(name)
                    target = doj_update.resolve()
                    tmp_dir = target.parent
                    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
                    tmp_name = f".{target.name}.tmp"
                    if (tmp_dir / tmp_name).exists():
                        (tmp_dir / tmp_name).unlink()
                    written = write_doj_update(accepted, tmp_dir, accepted.select("delivery_id", "order_date"),
                                               name=tmp_name)
                    os.replace(written.path, target)
        except AutoclearError as exc:
            _fail(exc)
        if result.already_recorded:
            console.print(f"{response_file.name}: already recorded for {name}; nothing changed")
        else:
            console.print(f"{name}: recorded {result.accepted} accepted, {result.rejected} rejected "
                          f"from {response_file.name}")
        if doj_update is not None:
            console.print(f"DOJ update: {written.rows} accepted counts -> [bold]{doj_update}[/bold]")

    @app.command("history")
    def history_cmd(
        county: Annotated[str | None, typer.Option(
            help="County (config name or county name); every county in the ledger when left out")] = None,
        ledger_url: LedgerUrl = None,
        workdir: Workdir = Path("work"),
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
    ) -> None:
        """What was delivered to the county's court, when, and what the court did with it."""
        from rich.console import Console
        from rich.table import Table

        from pipelines.errors import AutoclearError
        from pipelines.ledger.store import Ledger

        try:
            with Ledger(ledger_url, workdir=workdir) as ledger:
                names = [_county_name(county)] if county else ledger.counties()
                found = {name: ledger.history(name) for name in names}
        except AutoclearError as exc:
            _fail(exc)
        if as_json:
            payload = ({"county": names[0], "deliveries": found[names[0]]} if county
                       else {"counties": [{"county": n, "deliveries": d} for n, d in found.items()]})
            typer.echo(json.dumps(payload, indent=2, default=str))
            return
        console = Console()
        if not any(found.values()):
            console.print(f"no deliveries recorded for {names[0] if county else 'any county'}")
            return
        for name, deliveries in found.items():
            table = Table(title=f"deliveries to the {name.title()} court")
            for col in ("delivery", "status", "published (UTC)", "new", "corr.", "withdr.", "accepted", "rejected",
                        "awaiting", "run"):
                numeric = col in ("new", "corr.", "withdr.", "accepted", "rejected", "awaiting")
                table.add_column(col, justify="right" if numeric else "left", no_wrap=col == "delivery")
            for d in deliveries:
                table.add_row(
                    d["delivery"], d["status"], (d["published_at"] or "")[:16].replace("T", " "),
                    str(d["rows"]["new"]), str(d["rows"]["correction"]), str(d["rows"]["withdrawal"]),
                    str(d["court"]["accepted"]), str(d["court"]["rejected"]), str(d["court"]["awaiting"]),
                    d["run_id"][:12],
                )
            console.print(table)
