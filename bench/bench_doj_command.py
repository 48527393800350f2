"""Benchmark: the incumbent-compatible `autoclear doj` command, all output files written.

Data: a synthetic Los Angeles DOJ research file from pipelines.synth (cached under
bench/out/data/doj_command/<scale>/). The timed child runs the same code as the command line
(`run_doj`): read, person records, facts, policy, All_Results.csv, All_Results_Condensed.csv,
Prop64_Results.csv, the summary JSON and our extra files. The incumbent took 92.8 s on 2M rows on
this machine class; the target is 20 times faster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

COUNTY = "LOS ANGELES"
COMPUTE_AT = "2019-11-11"


def prepare(scale: str, datadir: Path) -> dict:
    rows = SCALE_ROWS[scale]
    folder = datadir / "doj_command" / scale
    files = sorted(folder.glob("*.dat"))
    if not files:
        from pipelines.synth import generate_county  # noqa: PLC0415

        folder.mkdir(parents=True, exist_ok=True)
        generated = generate_county(rows=rows, seed=64, county=COUNTY, out=folder, court_ratio=0.0)
        files = generated.doj_files
    outputs = datadir / "doj_command" / f"{scale}_outputs"
    return {"inputs": [str(f) for f in files], "outputs": str(outputs)}


def run(inputs: list[str], outputs: str) -> dict:
    from datetime import date  # noqa: PLC0415

    from pipelines.compat.command import run_doj  # noqa: PLC0415
    from pipelines.eligibility import load_policy  # noqa: PLC0415

    shutil.rmtree(outputs, ignore_errors=True)
    result = run_doj(inputs, county=COUNTY, compute_at=date.fromisoformat(COMPUTE_AT),
                     policy=load_policy("los_angeles"), outputs=outputs)
    decided = sum(result.determinations.values())
    return {"rows": result.rows_read, "notes": f"{decided:,} cannabis convictions decided"}


CASES = [
    Case(
        name="autoclear doj (all outputs)",
        scales=["100k", "1M", "2M"],
        prepare=prepare,
        run=run,
        target="2M: < 4.6 s, < 2 GB",
        repeat={"2M": 3},
        rows=lambda scale: SCALE_ROWS[scale],
    ),
]
