"""The benchmark harness's own behaviour (not the benchmarks): help, argument errors, the
machine reference it records beside each case, and the table it writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import harness

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_cases_and_runs_nothing():
    results = ROOT / "bench" / "results.json"
    before = results.stat().st_mtime_ns if results.exists() else None
    done = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "BENCH=doj SCALES=100k make bench" in done.stdout
    assert "bench_validation" in done.stdout and "target 1M: < 5 s" in done.stdout
    assert "preparing" not in done.stdout  # no case ran
    assert (results.stat().st_mtime_ns if results.exists() else None) == before


def test_unknown_argument_is_an_error():
    assert harness.main(["--fast"]) == 2


def test_reference_workload_is_timed():
    ref = harness.reference_s()
    assert ref is not None and 0 < ref < 120


def test_table_shows_the_reference_beside_each_case():
    row = {"name": "case", "scale": "1M", "rows": 1_000_000, "wall_s": 2.0, "cpu_s": 3.0, "peak_mb": 10.0,
           "other_cpu_s": 0.1, "ref_s": 1.234, "measured": "2026-11-22", "target": "< 5 s", "notes": "n"}
    old = {**row, "name": "older case"}
    del old["ref_s"]
    table = harness.to_markdown([row, old], "test machine")
    assert "| ref (s) |" in table
    assert "| 0.1 | 1.234 | A | 2026-11-22 |" in table
    assert "| 0.1 |  | A | 2026-11-22 |" in table  # recorded before the reference existed: blank


def test_table_says_which_host_measured_each_row():
    row = {"name": "case", "scale": "1M", "rows": 1, "wall_s": 2.0, "cpu_s": 3.0, "peak_mb": 10.0,
           "measured": "2026-11-22", "machine": "2 cores (AMD EPYC)"}
    older = {**row, "name": "older case"}
    del older["machine"]
    table = harness.to_markdown([row, older], "2 cores (Intel Xeon)")
    assert "Machine A: 2 cores (AMD EPYC)." in table and "Machine B: 2 cores (Intel Xeon)." in table
    assert "| case | 1M |" in table.split("| older case |")[0]
    lines = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ")}
    assert "| A | 2026-11-22 |" in lines["| case"] and "| B | 2026-11-22 |" in lines["| older case"]


def test_median_run_reports_the_middle_run_and_lists_all():
    runs = [{"ok": True, "wall_s": w, "validation_s": v, "notes": f"run {i}"}
            for i, (w, v) in enumerate([(9.0, 6.3), (8.0, 5.8), (8.5, 6.1)])]
    chosen = harness.median_run(runs, "validation_s")
    assert chosen["validation_s"] == 6.1 and chosen["wall_s"] == 8.5
    assert chosen["runs"] == [6.3, 5.8, 6.1]
    assert chosen["notes"] == "3 runs, validation_s 6.3, 5.8, 6.1 (median shown); run 2"
    assert harness.median_run(runs[:2], "wall_s")["wall_s"] == 8.0  # even count: the lower middle
    assert harness.median_run(runs[:1]) is runs[0]  # one run: as measured, no note


def test_a_failed_repeat_is_reported_not_hidden():
    runs = [{"ok": True, "wall_s": 1.0}, {"ok": False, "wall_s": 2.0, "error": "boom"}, {"ok": True, "wall_s": 3.0}]
    assert harness.median_run(runs)["error"] == "boom"


def test_target_cases_repeat_at_their_target_scale():
    cases = {case.name: case for _, case in harness.discover(None)}
    assert cases["DOJ read + parse"].repeat == {"2M": 3}
    assert cases["validate 1M determinations (all suites)"].headline == "validation_s"


def test_targets_only_selects_the_target_scales():
    cases = {case.name: case for _, case in harness.discover(None)}
    doj = cases["DOJ read + parse"]
    assert [s for s in doj.scales if harness.wanted(doj, s, None, targets=True)] == ["2M"]
    assert [s for s in doj.scales if harness.wanted(doj, s, None, targets=False)] == doj.scales
    assert [s for s in doj.scales if harness.wanted(doj, s, "100k,2M", targets=False)] == ["100k", "2M"]
    assert not harness.wanted(doj, "2M", "100k", targets=True)
    chosen = {(c.name, s) for _, c in harness.discover(None) for s in c.scales if harness.wanted(c, s, None, True)}
    assert ("validate 1M determinations (all suites)", "1M") in chosen
    assert ("court extract read + normalize", "3M") in chosen and ("autoclear doj (all outputs)", "2M") in chosen
