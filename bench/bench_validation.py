"""Benchmark: validate a county's frames with every checkpoint's suite (Great Expectations).

The frames come from `pipelines.validation.sample.clean_county`, sized so the determinations
frame has the scale's row count (1M determinations: 666,668 DOJ rows and counts, as many court
rows and counts, 1M reconciled rows, 666,668 delivery rows, as many ledger rows, and the delivery
files' rows read back: 2 x 666,668). They are cached as Parquet under
bench/out/data/validation2_<scale>/ (untimed; "2": the delivery checkpoint takes the ledger's and
the files' rows since the ledger reconciliation was made independent).

The timed child reads the Parquet frames, runs the five checkpoints (doj_input, court_input,
reconciled, determinations, delivery) and builds the run's Data Docs. Its notes split the time:
`import` (Python + Polars + Great Expectations), `read` (Parquet), `prepare` (Polars tables),
`validation` (wall time of the five checkpoints: GX setup, Polars tables built in a worker thread
while GX validates the previous one, GX checkpoints, the gate's decision), `docs` (Data Docs
rendering, a separate step). The target is about the validation itself.

What the headline figure (`validation_s`) holds: the wall time of the five checkpoints' validation,
each from its call to the end of its last GX validation: building every Polars table (and its
pandas copy), GX context and suite set-up, every GX validation (and the re-run with failing rows'
positions when one fails), the outcomes. What it leaves out: Python/Polars/GX imports, reading the
Parquet frames, Data Docs rendering and the summary JSON. `validation_cpu_s` is the CPU time of the
same span (all threads), Data Docs' CPU taken out; `cpu_with_docs_s` keeps it in.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

_STARTED = time.perf_counter()


def _doj_counts_for(determinations: int) -> int:
    # The sample decides every DOJ count and the court-only half of the court counts: 1.5 per DOJ count.
    n = round(determinations / 1.5)
    return n + (n % 2)


def prepare(scale: str, datadir: Path) -> dict:
    out = Path(datadir) / f"validation2_{scale}"
    done = out / "done"
    if not done.exists():
        from pipelines.validation.sample import clean_county

        county = clean_county(_doj_counts_for(SCALE_ROWS[scale]))
        for checkpoint, frames in county.frames.items():
            (out / checkpoint).mkdir(parents=True, exist_ok=True)
            for name, frame in frames.items():
                frame.write_parquet(out / checkpoint / f"{name}.parquet")
        import json

        (out / "context.json").write_text(json.dumps(county.context, default=str))
        done.write_text("ok")
    return {"data": str(out), "work": str(Path(datadir).parent / f"validation_run_{scale}")}


def run(data: str, work: str) -> dict:
    import json
    import shutil

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (timed apart: every validating process pays it once)
    import polars as pl

    from pipelines.validation import gate, run_checkpoint

    imported = time.perf_counter()
    data_dir = Path(data)
    contexts = json.loads((data_dir / "context.json").read_text())
    frames = {
        cp: {p.stem: pl.read_parquet(p) for p in sorted((data_dir / cp).glob("*.parquet"))}
        for cp in contexts
    }
    read = time.perf_counter()

    out = Path(work)
    shutil.rmtree(out, ignore_errors=True)
    totals = {"prepare": 0.0, "gx_setup": 0.0, "validate": 0.0, "docs": 0.0, "docs_cpu": 0.0}
    rows = 0
    per_checkpoint = []
    # CPU seconds tell more than wall time on a busy machine: all threads, and GX's (main) thread.
    cpu0, gx_cpu0 = time.process_time(), time.thread_time()
    for checkpoint, context in contexts.items():
        result = gate(run_checkpoint(checkpoint, frames[checkpoint], context=context, out_dir=out / "validation"))
        for key in totals:
            totals[key] += result.timings.get(key, 0.0)
        per_checkpoint.append(f"{checkpoint} {result.timings['validate']:.2f}")
        if checkpoint == "determinations":
            rows = result.table_rows["determinations"]
    cpu, gx_cpu = time.process_time() - cpu0, time.thread_time() - gx_cpu0
    validation = totals["validate"]
    validation_cpu = cpu - totals["docs_cpu"]
    notes = (
        f"validation {validation:.2f} s wall, {validation_cpu:.2f} s CPU (all suites: Polars tables "
        f"{totals['prepare']:.2f} s, built while GX validates; GX setup {totals['gx_setup']:.2f} s; GX thread "
        f"{gx_cpu - totals['docs_cpu']:.2f} s CPU); outside it: "
        f"Data Docs {totals['docs']:.2f} s; read {read - imported:.2f} s; import {imported - t0:.2f} s; "
        f"per checkpoint: {', '.join(per_checkpoint)}"
    )
    return {"rows": rows, "validation_s": round(validation, 3), "docs_s": round(totals["docs"], 3),
            "validation_cpu_s": round(validation_cpu, 3), "cpu_with_docs_s": round(cpu, 3),
            "gx_thread_cpu_s": round(gx_cpu - totals["docs_cpu"], 3),
            "notes": notes}


CASES = [
    Case(
        name="validate 1M determinations (all suites)",
        scales=["100k", "1M"],
        prepare=prepare,
        run=run,
        target="1M: < 5 s",
        repeat={"1M": 3},
        headline="validation_s",
        rows=lambda scale: SCALE_ROWS[scale],
    )
]
