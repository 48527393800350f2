"""CLI commands for the doj area (registered by pipelines.cli).

- ``autoclear doj``: the incumbent-compatible run (DOJ files in; All_Results.csv,
  All_Results_Condensed.csv, Prop64_Results.csv and the summary JSON out, plus our extra files).
- ``autoclear policy list|show|check|from-options``: look at, check and convert policies.

Heavy libraries are imported inside the commands so ``autoclear --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

policy_app = typer.Typer(help="County eligibility policies: list, show, check, convert.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("doj")(doj)
    app.add_typer(policy_app, name="policy")


def _parse_params(values: list[str] | None) -> dict:
    import yaml  # noqa: PLC0415

    from pipelines.errors import ConfigError  # noqa: PLC0415

    out = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: write it as NAME=VALUE, e.g. --param age=55")
        out[key.strip()] = yaml.safe_load(raw)
    return out


def doj(
    input_doj: Annotated[str, typer.Option("--input-doj", help="DOJ research file(s), comma-separated.")],
    county: Annotated[str, typer.Option("--county", "-c", help="County to decide, as DOJ writes it (LOS ANGELES).")],
    compute_at: Annotated[str, typer.Option("--compute-at", help="Date eligibility is computed at, YYYY-MM-DD.")],
    outputs: Annotated[Path, typer.Option("--outputs", help="Folder for the result files (created if needed).")],
    eligibility_options: Annotated[str | None, typer.Option(
        "--eligibility-options", help="The incumbent tool's options file (JSON).")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="A shipped policy name (see `autoclear policy list`) or a policy YAML file.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="Override a policy parameter: NAME=VALUE (repeatable).")] = None,
    file_name_suffix: Annotated[str, typer.Option("--file-name-suffix", help="Added to output file names as _S.")] = "",
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on the first malformed row, like the incumbent (default: quarantine it).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Decide every cannabis conviction in a county's DOJ file(s), like the incumbent tool.

    Writes All_Results.csv, All_Results_Condensed.csv, Prop64_Results.csv and gogen.json (the
    incumbent's names, columns and keys), plus Determinations.csv (with explanations),
    Explanations.csv, Quarantine.csv, Policy_Used.yaml and autoclear_run.json. On failure writes
    gogen.err (JSON: file -> error type and message) and exits 1.
    """
    import os  # noqa: PLC0415
    from datetime import date  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from pipelines.compat import gogen  # noqa: PLC0415
    from pipelines.compat.command import choose_policy, error_record, run_doj  # noqa: PLC0415
    from pipelines.errors import AutoclearError, ConfigError  # noqa: PLC0415

    err = Console(stderr=True)
    console = Console(quiet=quiet)
    out_dir = Path(outputs)
    inputs = [p.strip() for p in input_doj.split(",") if p.strip()]
    error_file = out_dir / gogen.output_names(file_name_suffix)["error"]

    def fail(exc: BaseException) -> None:
        file, kind, message = error_record(exc, inputs=inputs)
        try:
            out_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
            error_file.write_text(gogen.error_json([(file, kind, message)]), encoding="utf-8")
        except OSError as e:  # pragma: no cover - unwritable output folder
            err.print(f"[red]cannot write {error_file}: {e}[/red]")
        err.print(f"[red]error[/red] {file + ': ' if file and file not in message else ''}{message}")
        raise typer.Exit(1)

    try:
        try:
            when = date.fromisoformat(compute_at)
        except ValueError:
            raise ConfigError("invalid --compute-at date: Must be a valid date in the format YYYY-MM-DD") from None
        if not inputs:
            raise ConfigError("--input-doj names no file")
        chosen = choose_policy(policy=policy, options=eligibility_options, parameters=_parse_params(param))
        error_file.unlink(missing_ok=True)  # a stale error file from an earlier run would mislead
        labels = {"read": "Reading DOJ file(s)", "facts": "Building each person's record",
                  "rules": f"Applying policy {chosen.name}", "write": "Writing result files"}
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("Starting", total=len(labels))
            done: list[str] = []

            def step(name: str) -> None:
                if done:
                    console.log(f"{labels[done[-1]]}: done")
                progress.update(task, description=labels[name], completed=len(done))
                done.append(name)

            run = run_doj(inputs, county=county, compute_at=when, policy=chosen, outputs=out_dir,
                          suffix=file_name_suffix, strict=strict, step=step)
            progress.update(task, completed=len(labels))
            console.log(f"{labels[done[-1]]}: done")
    except AutoclearError as exc:
        fail(exc)
        return
    except Exception as exc:  # the incumbent wrote its error file for every failure; so do we
        if os.environ.get("AUTOCLEAR_DEBUG"):
            err.print_exception(show_locals=False)
        fail(exc)
        return

    _print_report(console, run, county)


def _print_report(console, run, county: str) -> None:
    from rich.table import Table  # noqa: PLC0415

    console.print(
        f"[bold]{county}[/bold]: {run.rows_read:,} rows read, {run.rows_accepted:,} accepted, "
        f"{run.rows_quarantined:,} quarantined; policy {run.policy}; {run.seconds:.1f} s"
    )
    if run.rows_quarantined:
        console.print(f"[yellow]{run.rows_quarantined:,} malformed row(s) set aside: see "
                      f"{run.files['quarantine'].name}[/yellow]")
    table = Table(title="Cannabis convictions in the county", show_lines=False)
    table.add_column("Determination")
    table.add_column("Convictions", justify="right")
    for name, n in run.determinations.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    console.print("Files: " + ", ".join(p.name for p in run.files.values()))


# ---------------------------------------------------------------------------------------------
@policy_app.command("list")
def policy_list() -> None:
    """The shipped policies."""
    from rich.console import Console  # noqa: PLC0415

    from pipelines.eligibility.policy import available_policies, load_policy  # noqa: PLC0415

    console = Console()
    for name in available_policies():
        p = load_policy(name)
        console.print(f"[bold]{name}[/bold] {p.version}: {p.title or p.description[:80]}")


@policy_app.command("show")
def policy_show(
    name_or_path: Annotated[str, typer.Argument(help="Policy name or YAML file.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="NAME=VALUE override.")] = None,
) -> None:
    """The rules of a policy in words, in the order they are asked."""
    from rich.console import Console  # noqa: PLC0415

    from pipelines.eligibility.policy import load_policy  # noqa: PLC0415
    from pipelines.errors import ConfigError  # noqa: PLC0415

    try:
        p = load_policy(name_or_path, parameters=_parse_params(param))
    except ConfigError as e:
        Console(stderr=True).print(f"[red]error[/red] {e}")
        raise typer.Exit(1) from None
    typer.echo(p.describe())


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="Policy YAML file(s).")]) -> None:
    """Validate policy files; explain each mistake with file and line. Exit 1 if any is wrong."""
    from rich.console import Console  # noqa: PLC0415

    from pipelines.eligibility.policy import load_policy  # noqa: PLC0415
    from pipelines.errors import ConfigError  # noqa: PLC0415

    console, bad = Console(), 0
    for f in files:
        try:
            p = load_policy(f)
            console.print(f"[green]ok[/green] {f}: {p.name} {p.version}, {len(p.rules)} rules")
        except ConfigError as e:
            bad += 1
            console.print(f"[red]error[/red] {e}", markup=True, highlight=False)
    raise typer.Exit(1 if bad else 0)


@policy_app.command("from-options")
def policy_from_options_cmd(
    options: Annotated[Path, typer.Argument(help="The incumbent's eligibility_options.json.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the policy YAML here (default: print).")] = None,
) -> None:
    """Convert an incumbent options file into a policy YAML file you can review and keep."""
    from rich.console import Console  # noqa: PLC0415

    from pipelines.compat.options import options_policy_yaml, read_options  # noqa: PLC0415
    from pipelines.errors import ConfigError  # noqa: PLC0415

    try:
        parsed, where = read_options(options)
    except ConfigError as e:
        Console(stderr=True).print(f"[red]error[/red] {e}")
        raise typer.Exit(1) from None
    text = options_policy_yaml(parsed, source=Path(where).name)
    if out:
        out.write_text(text, encoding="utf-8")
        Console().print(f"wrote {out}")
    else:
        typer.echo(text, nl=False)
