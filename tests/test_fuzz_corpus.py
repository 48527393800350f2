"""The fuzzing corpus as regression tests, and a short bounded coverage-guided run of every harness.

Every file in ``tests/fuzz/corpus/<target>/`` (seeds, and the inputs that found bugs, named
``found-*``) is replayed through its target on each run. Each atheris harness then fuzzes for a
few seconds from that corpus (the long run is ``make fuzz``); a finding fails the test and names
the file to replay. A planted bug checks that the driver does report what libFuzzer finds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.run import SEEDS, TARGET_NAMES, fuzz_target
from tests.fuzz.targets import TARGETS

CORPUS = sorted(p for p in SEEDS.glob("*/*") if p.is_file())
SHORT_RUN_SECONDS = 2


def test_every_target_has_a_corpus() -> None:
    assert set(TARGETS) == set(TARGET_NAMES)
    for name in TARGETS:
        assert any((SEEDS / name).glob("seed-*")), f"no seeds for {name} (python -m tests.fuzz.seeds)"


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_corpus_input_is_handled(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGET_NAMES)
def test_short_fuzzing_run_finds_nothing(target: str, tmp_path: Path) -> None:
    result = fuzz_target(target, SHORT_RUN_SECONDS, tmp_path)
    assert result.executions > 0, result.log.read_text()[-2000:]
    assert result.ok, f"findings {[str(f) for f in result.findings]}; log:\n{result.log.read_text()[-4000:]}"


@pytest.mark.slow
def test_the_driver_reports_what_libfuzzer_finds(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    (seeds / "selftest_planted_bug").mkdir(parents=True)
    (seeds / "selftest_planted_bug" / "near").write_bytes(b"BUF")
    result = fuzz_target("selftest_planted_bug", 20, tmp_path / "work", seeds=seeds)
    assert not result.ok and result.findings, result.log.read_text()[-2000:]
    assert result.findings[0].read_bytes().startswith(b"BUG")
