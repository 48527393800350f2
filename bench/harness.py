"""Benchmark harness.

A benchmark module `bench/bench_<area>.py` defines `CASES`, a list of `Case`. For each case and
scale the harness calls `prepare(scale, datadir)` in-process (untimed; it may cache generated
data under bench/out/data) and then runs `run(**prepared)` in a fresh child process, measuring
wall time and CPU time (user + system) of that child alone (wait4), and its peak resident memory
(the child's own VmHWM, or the largest of the processes it waited for).

    make bench                                 # every case, every scale
    BENCH=doj SCALES=100k make bench           # filter by module name / scale label
    make bench-targets                         # only the target cases at their target scale (TARGETS=1)
    python -m bench --help                     # this text and the case list, nothing run

This VM's speed varies from day to day and hour to hour (the same code has measured 20-60%
apart), so before each case the harness also times a fixed reference workload in a fresh process
(`ref_s`: a pure-Python loop and a Polars sort and group-by, ~1 s on a quiet machine): a case's
figures are comparable across runs only together with the reference measured beside them. The
cases a target is about run three times at their target scale (`Case.repeat`), and the run with
the median figure is reported, with all three in its notes.

Results go to bench/results.json and bench/RESULTS.md, and the README's performance table
(between the `<!-- bench:start -->` and `<!-- bench:end -->` markers) is rewritten.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DATA = OUT / "data"

SCALE_ROWS = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "2M": 2_000_000, "3M": 3_000_000}


@dataclass
class Case:
    name: str  # e.g. "DOJ read + parse"
    scales: list[str]  # labels, e.g. ["100k", "1M", "2M"]
    prepare: Callable[[str, Path], dict]  # (scale, datadir) -> kwargs for run (JSON-serialisable)
    run: Callable[..., dict | None]  # timed in a child; may return extra figures (rows, F1, ...)
    target: str = ""  # e.g. "2M rows: < 4 s, < 2 GB"
    rows: Callable[[str], int] | None = None  # rows processed at a scale (for time per row)
    extra: dict = field(default_factory=dict)
    # Runs per scale where one run is not enough to judge a target on this VM (speed varies by
    # ±20% from one minute to the next): the run with the median `headline` is reported, and
    # every run's figure is listed in its notes.
    repeat: dict[str, int] = field(default_factory=dict)
    headline: str = "wall_s"  # the figure the target is about (e.g. validation_s)


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _child(module: str, case_name: str, kwargs_json: str) -> None:
    mod = importlib.import_module(module)
    case = next(c for c in mod.CASES if c.name == case_name)
    extra = case.run(**json.loads(kwargs_json)) or {}
    sys.stdout.write("\n__BENCH__" + json.dumps({**extra, "_peak_kb": _own_peak_kb()}, default=str) + "\n")


def _own_peak_kb() -> int | None:
    """Peak resident memory of this process (VmHWM) or of any process it waited for, in KiB.

    Not the wait4 figure the harness gets: Linux keeps a forked child's memory high-water mark
    across exec, so a child of the harness would report at least the harness's own size when it
    forked (which grows with the data `prepare` generated in-process: a 9 MB child of a 1.5 GB
    parent reports 1.5 GB)."""
    try:
        with open("/proc/self/status") as f:
            own = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def _machine_busy_s() -> float | None:
    """CPU seconds every process on the machine has used since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# A fixed workload, the same bytes every time: interpreter speed (GX, Airflow, pydantic are pure
# Python) and Polars on 2 threads (sort and hash group-by: memory bandwidth and cache).
_REFERENCE = """
import time
import polars as pl
t0 = time.perf_counter()
s = 0
for i in range(5_000_000):
    s += i
frame = pl.DataFrame({"k": pl.int_range(0, 5_000_000, eager=True).hash(7) % 1_000_003})
frame.sort("k")
frame.group_by("k").len()
print(round(time.perf_counter() - t0, 3))
"""


def reference_s() -> float | None:
    """Wall time of the reference workload in a fresh process (None when it fails)."""
    try:
        done = subprocess.run([sys.executable, "-c", _REFERENCE], capture_output=True, text=True, timeout=120)
        return float(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def measure(module: str, case: Case, kwargs: dict) -> dict:
    ref = reference_s()
    busy0 = _machine_busy_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.harness", "--child", module, case.name, json.dumps(kwargs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    extra = {}
    for line in out.splitlines():
        if line.startswith("__BENCH__"):
            extra = json.loads(line[len("__BENCH__"):])
    if code != 0:
        extra["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
    cpu = usage.ru_utime + usage.ru_stime
    peak_kb = extra.pop("_peak_kb", None) or usage.ru_maxrss  # wait4's only when the child could not say
    busy1 = _machine_busy_s()
    # What the rest of the machine used meanwhile: a quiet machine shows ~0, a shared one the
    # CPU seconds the benchmark had to compete with (its wall time is then not a quiet-machine time).
    others = round(max(busy1 - busy0 - cpu, 0.0), 1) if busy0 is not None and busy1 is not None else None
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "other_cpu_s": others,
        "ref_s": ref,
        "measured": time.strftime("%Y-%m-%d"),
        "peak_mb": round(peak_kb / 1024, 1),
        "ok": code == 0,
        **extra,
    }


def discover(only: str | None) -> list[tuple[str, Case]]:
    found = []
    for path in sorted((ROOT / "bench").glob("bench_*.py")):
        mod_name = f"bench.{path.stem}"
        if only and not any(o in path.stem for o in only.split(",")):
            continue
        mod = importlib.import_module(mod_name)
        found += [(mod_name, c) for c in getattr(mod, "CASES", [])]
    return found


def median_run(runs: list[dict], headline: str = "wall_s") -> dict:
    """The run whose `headline` figure is the median (the lower middle one for an even count),
    with every run's figure in `runs` and in its notes; a failed run is reported as it is."""
    if len(runs) == 1:
        return runs[0]
    failed = [r for r in runs if not r.get("ok") or r.get(headline) is None]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r[headline])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    figures = [r[headline] for r in runs]
    chosen["runs"] = figures
    listed = ", ".join(f"{v:g}" for v in figures)
    note = f"{len(runs)} runs, {headline} {listed} (median shown)"
    chosen["notes"] = f"{note}; {chosen['notes']}" if chosen.get("notes") else note
    return chosen


def to_markdown(results: list[dict], machine_desc: str) -> str:
    """The results table. Rows measured on different hosts (this VM is not always placed on the
    same CPU model) say which one: `machine_desc` stands for rows that do not record their own."""
    hosts: list[str] = []
    for r in results:
        if r.get("machine", machine_desc) not in hosts:
            hosts.append(r.get("machine", machine_desc))
    label = {h: chr(ord("A") + i) for i, h in enumerate(hosts)}
    lines = [
        *(f"Machine {label[h]}: {h}." for h in hosts),
        f"Table written {time.strftime('%Y-%m-%d')}.",
        "",
        "`other CPU` is what the rest of the machine used during the measurement (0 on a quiet machine).",
        "`ref` is the harness's fixed reference workload, timed just before the case: this VM's speed",
        "varies, and a case's time is comparable across runs only beside its `ref` (blank: not recorded).",
        "",
        "| benchmark | scale | rows | wall (s) | CPU (s) | peak RSS (MB) | µs/row | other CPU (s) | ref (s) | machine | measured | target | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in results:
        per_row = f"{r['wall_s'] / r['rows'] * 1e6:.2f}" if r.get("rows") else ""
        notes = r.get("notes", "") or r.get("error", "")
        lines.append(
            f"| {r['name']} | {r['scale']} | {r.get('rows', '') or ''} | {r['wall_s']} | {r['cpu_s']} | "
            f"{r['peak_mb']} | {per_row} | {_blank(r.get('other_cpu_s'))} | {_blank(r.get('ref_s'))} | "
            f"{label[r.get('machine', machine_desc)]} | {r.get('measured', '')} | "
            f"{r.get('target', '')} | {notes} |"
        )
    return "\n".join(lines) + "\n"


def _blank(value: object) -> str:
    return "" if value is None else str(value)


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{table}{end}{tail}")


def write_results(previous: list[dict], results: list[dict], previous_machine: str | None = None) -> str:
    """Merge this run's results over earlier ones (filtered runs keep the rest) and write them out.

    Each row keeps the host it was measured on; rows from before rows recorded it carry the
    file-level machine of the run that wrote them (`previous_machine`)."""
    if previous_machine:
        previous = [{"machine": previous_machine, **r} for r in previous]
    keys = {(r["name"], r["scale"]) for r in results}
    merged = [r for r in previous if (r["name"], r["scale"]) not in keys] + results
    desc = machine()
    for r in results:
        r.setdefault("machine", desc)
    order = {(m, c.name): i for i, (m, c) in enumerate(discover(None))}
    merged.sort(key=lambda r: (min((v for (m, n), v in order.items() if n == r["name"]), default=999),
                               list(SCALE_ROWS).index(r["scale"]) if r["scale"] in SCALE_ROWS else 99))
    (ROOT / "bench" / "results.json").write_text(json.dumps({"machine": desc, "results": merged}, indent=2) + "\n")
    table = to_markdown(merged, desc)
    (ROOT / "bench" / "RESULTS.md").write_text("# Benchmark results\n\n" + table)
    update_readme(table)
    return table


def wanted(case: Case, scale: str, scales: str | None, targets: bool) -> bool:
    """Whether a run filtered by SCALES (comma-separated labels) and TARGETS (only the scales a
    target is about: those the case repeats) measures `case` at `scale`."""
    if scales and scale not in scales.split(","):
        return False
    return not targets or scale in case.repeat


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        if argv[0] not in ("-h", "--help"):
            print(f"bench: unknown argument {argv[0]!r} (filters are environment variables: BENCH, SCALES)",
                  file=sys.stderr)
            return 2
        print(__doc__)
        for module, case in discover(os.environ.get("BENCH")):
            print(f"  {module.removeprefix('bench.'):22s} {case.name} @ {', '.join(case.scales)}"
                  f"{f'  (target {case.target})' if case.target else ''}")
        return 0
    only = os.environ.get("BENCH")
    scales = os.environ.get("SCALES")
    DATA.mkdir(parents=True, exist_ok=True)
    results_path = ROOT / "bench" / "results.json"
    earlier = json.loads(results_path.read_text()) if results_path.exists() else {}
    previous, previous_machine = earlier.get("results", []), earlier.get("machine")
    results = []
    failed = False
    targets = os.environ.get("TARGETS", "") not in ("", "0")
    for module, case in discover(only):
        for scale in case.scales:
            if not wanted(case, scale, scales, targets):
                continue
            print(f"bench: {case.name} @ {scale}: preparing", flush=True)
            kwargs = case.prepare(scale, DATA)
            print(f"bench: {case.name} @ {scale}: running", flush=True)
            r = median_run([measure(module, case, kwargs) for _ in range(max(case.repeat.get(scale, 1), 1))],
                           case.headline)
            r.update(name=case.name, scale=scale, target=case.target)
            if case.rows and "rows" not in r:
                r["rows"] = case.rows(scale)
            failed |= not r["ok"]
            print(f"bench: {case.name} @ {scale}: {r}", flush=True)
            results.append(r)
            # Written after every case: a run of an hour or more that is stopped keeps what it measured.
            write_results(previous, results, previous_machine)
    print(write_results(previous, results, previous_machine))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:5])
    else:
        sys.exit(main())
