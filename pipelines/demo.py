"""`autoclear demo` / `make demo`: a synthetic Los Angeles-like county, run end to end.

With engine "airflow" (the default) the county DAG runs through `airflow dags test` on a SQLite
metadata database in the project's AIRFLOW_HOME, no server (scripts/airflow_dags_test.py; this
package never imports Airflow itself). With engine "direct" the same stages run in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
# The DA's review deadline under AB 1793: the synthetic record runs to 2019.
DEMO_COMPUTE_AT = "2020-07-01"
DEMO_COUNTY = "los_angeles"


def _outputs(run_dir: Path) -> dict[str, str]:
    """Where a person looks after a run, from the stage summaries in the run folder."""
    found: dict[str, str] = {"run folder": str(run_dir)}
    keys = (("delivery (outbox)", "outbox_path"), ("Data Docs", "data_docs"), ("impact report", "report_html"),
            ("impact report (PDF)", "report_pdf"), ("dashboard", "dashboard"))
    summaries = sorted((run_dir / "summary").glob("*.json")) if (run_dir / "summary").is_dir() else []
    for label, key in keys:
        for path in summaries:
            value = json.loads(path.read_text()).get(key)
            if value:
                found[label] = str(value)
                break
    return found


def _print_validation(console: Console, run_dir: Path) -> None:
    """Each Great Expectations checkpoint of the run: passed or blocked, and how many checks."""
    console.print("[bold]validation (Great Expectations)[/bold]")
    for path in sorted((run_dir / "validation").glob("*.json")):
        result = json.loads(path.read_text())
        if "checkpoint" not in result:
            continue
        e = result.get("expectations", {})
        verdict = "[green]passed[/green]" if result.get("success") else "[red]BLOCKED[/red]"
        console.print(f"  {result['checkpoint']}: {verdict} — {e.get('total', '?')} expectations, "
                      f"{e.get('failed_critical', 0)} critical failed, {e.get('failed_warning', 0)} warnings")


def _print_manifest(console: Console, run_dir: Path) -> None:
    """The delivery manifest: files, rows and checksums the court receives."""
    summary_path = run_dir / "summary" / "deliver.json"
    outbox = json.loads(summary_path.read_text()).get("outbox_path") if summary_path.is_file() else None
    manifest_path = Path(outbox) / "manifest.json" if outbox else None
    if not manifest_path or not manifest_path.is_file():
        console.print("[bold]delivery[/bold]: nothing new to deliver")
        return
    manifest = json.loads(manifest_path.read_text())
    rows = manifest.get("rows", {})
    console.print(f"[bold]delivery {manifest.get('delivery')}[/bold] (policy {manifest.get('policy')} "
                  f"{manifest.get('policy_version')}): {rows.get('new', 0):,} new, {rows.get('correction', 0):,} "
                  f"corrections, {rows.get('withdrawal', 0):,} withdrawals")
    for f in manifest.get("files", []):
        console.print(f"  {f['name']}: {f['rows']:,} rows, sha256 {f['sha256'][:16]}…")


def run_demo(*, workdir: Path, rows: int, seed: int, engine: str) -> int:
    """Generate a county into `workdir`/demo_input and run it; returns a process exit status."""
    from pipelines.synth.generate import generate_county

    console = Console()
    workdir = Path(workdir).resolve()
    inputs = workdir / "demo_input"
    with console.status(f"generating a synthetic county (~{rows:,} DOJ rows, seed {seed})"):
        county = generate_county(rows=rows, seed=seed, county="LOS ANGELES", out=inputs)
    s = county.summary()
    console.print(
        f"[bold]generated[/bold] {s['doj_rows']:,} DOJ rows for {s['doj_subjects']:,} subjects and "
        f"{s['court_rows']:,} court charge rows; DOJ missed {s['doj_missed_cannabis_cases']:,} of "
        f"{s['cannabis_cases']:,} cannabis cases ({s['doj_missed_share']:.0%})"
    )
    doj = [str(p) for p in county.doj_files]
    court = [str(p) for p in county.court_files]

    if engine == "airflow":
        console.print("[bold]running[/bold] the county DAG with `airflow dags test` (embedded, SQLite, no server)")
        cmd = [sys.executable, str(ROOT / "scripts" / "airflow_dags_test.py"), "--county", DEMO_COUNTY,
               "--compute-at", DEMO_COMPUTE_AT, "--workdir", str(workdir)]
        for path in doj:
            cmd += ["--doj", path]
        for path in court:
            cmd += ["--court", path]
        env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        proc = subprocess.run(cmd, env=env, cwd=ROOT, check=False)
        if proc.returncode != 0:
            console.print("[red]the county DAG failed[/red]: see the log named above")
            return proc.returncode
        runs = sorted((workdir / DEMO_COUNTY).glob("*/spec.json"), key=lambda p: p.stat().st_mtime)
        run_dir = runs[-1].parent if runs else None
    elif engine == "direct":
        from pipelines.flow import RunSpec, run_county

        spec = RunSpec(county=DEMO_COUNTY, doj=doj, court=court, compute_at=DEMO_COMPUTE_AT, workdir=str(workdir))
        result = run_county(spec)
        for name, summary in result["stages"].items():
            console.print(f"  {name}: {summary.get('headline', '')}")
        run_dir = Path(result["run_dir"])
    else:
        console.print(f"[red]unknown engine {engine!r}[/red] (airflow or direct)")
        return 2

    if run_dir is None:
        console.print("[red]no run folder found[/red]")
        return 1
    _print_validation(console, run_dir)
    _print_manifest(console, run_dir)
    console.print("[bold]where things are[/bold]")
    for label, path in _outputs(run_dir).items():
        console.print(f"  {label}: {path}")
    return 0
