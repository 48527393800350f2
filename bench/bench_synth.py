"""Benchmark: generating synthetic counties (pipelines.synth).

- "synth: generate county": one Los Angeles-like county, `rows` DOJ rows plus a court extract of
  about 1.5 x rows charge rows and the ground truth, written as files (generic_csv). At 2M this is
  the "LA scale" workload of issue 10 (2M DOJ rows + 3M court rows). Target: well under a minute.
- "synth: generate statewide": all 58 counties, sized like California's population.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

SEED = 2019


def prepare_county(scale: str, datadir: Path) -> dict:
    return {"rows": SCALE_ROWS[scale], "out": str(datadir / "synth" / f"county_{scale}")}


def run_county(rows: int, out: str) -> dict:
    from pipelines.synth import generate_county  # noqa: PLC0415

    shutil.rmtree(out, ignore_errors=True)
    g = generate_county(rows=rows, seed=SEED, out=Path(out))
    return {"rows": g.doj_rows + g.court_rows,
            "notes": f"{g.doj_rows:,} DOJ + {g.court_rows:,} court rows, {g.persons:,} persons, DOJ missed {g.doj_missed_share:.1%}"}


def prepare_statewide(scale: str, datadir: Path) -> dict:
    return {"rows": SCALE_ROWS[scale], "out": str(datadir / "synth" / f"statewide_{scale}")}


def run_statewide(rows: int, out: str) -> dict:
    from pipelines.synth import generate_statewide  # noqa: PLC0415

    shutil.rmtree(out, ignore_errors=True)
    results = generate_statewide(rows, SEED, Path(out))
    doj = sum(g.doj_rows for g in results)
    court = sum(g.court_rows for g in results)
    return {"rows": doj + court, "notes": f"58 counties: {doj:,} DOJ + {court:,} court rows"}


CASES = [
    Case(
        name="synth: generate county",
        scales=["100k", "1M", "2M"],
        prepare=prepare_county,
        run=run_county,
        target="2M DOJ + 3M court rows: well under 60 s",
        rows=lambda scale: int(SCALE_ROWS[scale] * 2.5),
    ),
    Case(
        name="synth: generate statewide",
        scales=["1M"],
        prepare=prepare_statewide,
        run=run_statewide,
        target="",
        rows=lambda scale: int(SCALE_ROWS[scale] * 2.5),
    ),
]
