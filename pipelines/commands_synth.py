"""CLI commands for the synth area (registered by pipelines.cli): `autoclear generate`."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_MISS_RATE = 58_000 / 124_000  # pipelines.synth.coverage.LA_MISS_RATE, without importing numpy here


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("generate")
    def generate(
        rows: int = typer.Option(..., "--rows", min=1, help="DOJ rows to generate (about: it stops at the last whole person, at most one person's rows short)."),
        seed: int = typer.Option(..., "--seed", help="Random seed: the same seed and options give byte-identical files."),
        out: Path = typer.Option(..., "--out", help="Output folder: DOJ files *.dat, court/, truth/."),
        county: str = typer.Option("LOS ANGELES", "--county", help="County (DOJ spelling, any case), e.g. 'San Diego'."),
        court_layout: str = typer.Option("generic_csv", "--court-layout", help="Court extract layout: a name in config/layouts or a YAML path."),
        doj_miss_rate: float = typer.Option(DEFAULT_MISS_RATE, "--doj-miss-rate", min=0.0, max=0.99,
                                            help="Share of the county's cannabis court cases DOJ misses (default like Los Angeles: 58,000 of 124,000)."),
        refreshes: int = typer.Option(1, "--refreshes", min=1, help="Court extracts from successive refreshes, with overlapping date windows."),
        court_ratio: float = typer.Option(1.5, "--court-ratio", min=0.0, help="Court extract rows per DOJ row (court-only background people fill the rest)."),
        doj_files: int = typer.Option(1, "--doj-files", min=1, help="Split the DOJ file into this many files."),
        doj_header: bool = typer.Option(True, "--doj-header/--no-doj-header", help="Write the optional RECORD_ID header row in each DOJ file."),
        statewide: bool = typer.Option(False, "--statewide", help="All 58 counties into OUT/<county>/, sized like California's population; --rows is the total."),
    ) -> None:
        """Generate a synthetic county: DOJ research file, court extract and ground truth.

        Writes OUT/<county>_doj_NN.dat (the 95-column DOJ file), OUT/court/extract_NN.<ext> (the court extract in the chosen layout) and OUT/truth/*.parquet with a README: who is who, which cases DOJ missed, and the expected classification of every cannabis count.

        The people are fictional; only counts are printed.
        """
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from pipelines.errors import AutoclearError
        from pipelines.synth import generate_county, generate_statewide

        console = Console(stderr=True)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task("generating", total=1.0)

            def report(step: str, fraction: float) -> None:
                progress.update(task, description=step, completed=min(max(fraction, 0.0), 1.0))

            try:
                if statewide:
                    results = generate_statewide(rows, seed, out, court_layout=court_layout, doj_miss_rate=doj_miss_rate,
                                                 refreshes=refreshes, progress=report)
                else:
                    results = [generate_county(
                        rows=rows, seed=seed, county=county, court_layout=court_layout, doj_miss_rate=doj_miss_rate,
                        refreshes=refreshes, out=out, court_ratio=court_ratio, doj_files=doj_files, doj_header=doj_header,
                        progress=report,
                    )]
            except (AutoclearError, ValueError) as e:
                console.print(f"[red]error:[/red] {e}")
                raise typer.Exit(2) from e

        stdout = Console()
        if len(results) == 1:
            g = results[0]
            table = Table(title=f"{g.county.title()}: generated in {out}", title_justify="left", show_header=False)
            table.add_column("what")
            table.add_column("count", justify="right")
            for label, value in (
                ("DOJ rows", f"{g.doj_rows:,}"), ("DOJ subjects (SUBJECT_IDs)", f"{g.doj_subjects:,}"),
                ("court extract rows", f"{g.court_rows:,}"), ("court cases", f"{g.court_cases:,}"),
                ("persons (true)", f"{g.persons:,}"), ("cannabis court cases", f"{g.cannabis_cases:,}"),
                ("  of which DOJ missed", f"{g.doj_missed_cannabis_cases:,} ({g.doj_missed_share:.1%})"),
            ):
                table.add_row(label, value)
            stdout.print(table)
            stdout.print(f"DOJ file: {', '.join(p.name for p in g.doj_files)}")
            stdout.print(f"court extract ({g.court_layout}): {', '.join('court/' + p.name for p in g.court_files)}")
            stdout.print("ground truth: truth/*.parquet (see truth/README.md)")
            return
        table = Table(title=f"58 counties: generated in {out}/<county>/", title_justify="left")
        for col in ("county", "DOJ rows", "court rows", "persons", "DOJ missed"):
            table.add_column(col, justify="left" if col == "county" else "right")
        for g in results:
            table.add_row(g.county.title(), f"{g.doj_rows:,}", f"{g.court_rows:,}", f"{g.persons:,}", f"{g.doj_missed_share:.1%}")
        tot = {k: sum(getattr(g, k) for g in results) for k in ("doj_rows", "court_rows", "persons", "cannabis_cases",
                                                                  "doj_missed_cannabis_cases")}
        share = tot["doj_missed_cannabis_cases"] / tot["cannabis_cases"] if tot["cannabis_cases"] else 0.0
        table.add_row("[bold]all[/bold]", f"{tot['doj_rows']:,}", f"{tot['court_rows']:,}", f"{tot['persons']:,}", f"{share:.1%}")
        stdout.print(table)
