"""Coverage-guided fuzzing of every target with atheris (libFuzzer): ``make fuzz``.

    python -m tests.fuzz.run --seconds 300              # all targets, 300 s in total
    python -m tests.fuzz.run --seconds 600 --target doj --target court_delimited

Each target runs in its own process for its share of the time, starting from the committed
seeds in ``tests/fuzz/corpus/<target>/`` plus a working corpus in ``<workdir>/corpus/<target>/``
that keeps growing from one run to the next (``--workdir``, default ``work/fuzz``, not committed).

A finding (an exception other than the reader's InputError, a broken conservation invariant, a
timeout or running out of memory) is written to ``<workdir>/findings/<target>/``, the run goes on
with the next target, and the exit status is 1. To keep a finding as a regression test: fix the
bug, then copy the file into ``tests/fuzz/corpus/<target>/`` (tests/test_fuzz_corpus.py replays
every file there on each ``make test``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "corpus"
TARGET_NAMES = ("doj", "court_delimited", "court_fixed_width", "court_excel", "court_parquet", "court_sql",
                "normalizers")
# Longest input libFuzzer builds per target: a few DOJ rows, a small extract, a small table.
MAX_LEN = {"doj": 8192, "court_delimited": 4096, "court_fixed_width": 4096}
DEFAULT_MAX_LEN = 1024
FINDING_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


@dataclass
class FuzzResult:
    """What one target's run did."""

    target: str
    seconds: float
    returncode: int
    executions: int = 0
    new_units: int = 0
    coverage: int = 0
    findings: list[Path] = field(default_factory=list)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.findings and self.returncode == 0


def _stat(text: str, name: str) -> int:
    found = re.findall(rf"stat::{name}:\s*(\d+)", text)
    return int(found[-1]) if found else 0


def fuzz_target(target: str, seconds: float, workdir: Path, *, seeds: Path = SEEDS,
                extra_args: list[str] | None = None) -> FuzzResult:
    """Fuzz one target for about `seconds` in a child process; returns counts and findings."""
    corpus = workdir / "corpus" / target
    findings_dir = workdir / "findings" / target
    logs = workdir / "logs"
    for d in (corpus, findings_dir, logs):
        d.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in findings_dir.iterdir()}
    seed_dir = seeds / target
    cmd = [
        sys.executable, "-m", "tests.fuzz.harness", target,
        f"-max_total_time={max(1, round(seconds))}", f"-max_len={MAX_LEN.get(target, DEFAULT_MAX_LEN)}",
        "-rss_limit_mb=4096", "-timeout=60", "-print_final_stats=1", f"-artifact_prefix={findings_dir}/",
        *(extra_args or []), str(corpus), *([str(seed_dir)] if seed_dir.is_dir() else []),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "GX_ANALYTICS_ENABLED": "False", "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "2")}
    log = logs / f"{target}.log"
    with log.open("wb") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    text = log.read_text(errors="replace")
    cov = re.findall(r"cov: (\d+)", text)
    new = sorted(p for p in findings_dir.iterdir() if p.name not in before and p.name.startswith(FINDING_PREFIXES))
    return FuzzResult(target=target, seconds=seconds, returncode=proc.returncode,
                      executions=_stat(text, "number_of_executed_units"), new_units=_stat(text, "new_units_added"),
                      coverage=int(cov[-1]) if cov else 0, findings=new, log=log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300, help="total time, shared by the targets (default 300)")
    parser.add_argument("--target", action="append", choices=TARGET_NAMES, help="fuzz only this target (repeat)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "work" / "fuzz",
                        help="working corpus, findings and logs (default work/fuzz)")
    args = parser.parse_args(argv)
    targets = args.target or list(TARGET_NAMES)
    share = max(1.0, args.seconds / len(targets))
    print(f"fuzzing {len(targets)} target(s), {share:.0f} s each; findings go to {args.workdir / 'findings'}", flush=True)
    results = []
    for target in targets:
        result = fuzz_target(target, share, args.workdir)
        results.append(result)
        status = "ok" if result.ok else f"FINDINGS: {len(result.findings)} (exit {result.returncode})"
        print(f"  {target:<18} {result.executions:>8,} inputs  cov {result.coverage:>6,}  "
              f"+{result.new_units} corpus  {status}", flush=True)
        for finding in result.findings:
            print(f"      {finding}  (log: {result.log})", flush=True)
    if all(r.ok for r in results):
        return 0
    print("\nReplay a finding with: .venv/bin/python -c \"from pathlib import Path; from tests.fuzz.targets import "
          "TARGETS; TARGETS['<target>'](Path('<file>').read_bytes())\"\nthen fix it and copy the file into "
          "tests/fuzz/corpus/<target>/ as a regression test.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
