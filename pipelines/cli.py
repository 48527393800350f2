"""`autoclear …`: the command line. Each area registers its own commands; this module only
assembles them. Command modules import heavy libraries inside the commands, so `--help` is fast."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines import (
    autoclear_version,
    commands_delivery,
    commands_doj,
    commands_flow,
    commands_reports,
    commands_sources,
    commands_synth,
)

app = typer.Typer(
    name="autoclear",
    help="Automatic cannabis-conviction relief: DOJ research file + court records -> court orders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"autoclear {autoclear_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the installed version and exit (quote it when reporting a problem).")] = False,
) -> None:
    pass  # options for every command; the help text is the Typer app's


for module in (commands_synth, commands_doj, commands_sources, commands_flow, commands_delivery, commands_reports):
    module.register(app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
