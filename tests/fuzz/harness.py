"""atheris entry point: ``python -m tests.fuzz.harness TARGET [libFuzzer options] [CORPUS_DIR...]``.

The project's modules are imported under ``atheris.instrument_imports`` so libFuzzer sees the
coverage of the readers and normalizers (Polars itself is compiled code and is not instrumented).
Run through ``python -m tests.fuzz.run`` rather than by hand: it sets the corpus folders, the
limits and the place where findings go.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["pipelines", "tests.fuzz"]):
    # Imported here, eagerly, so that the modules the targets call lazily are instrumented too.
    import pipelines.normalize.case_numbers
    import pipelines.normalize.dates
    import pipelines.normalize.dispositions
    import pipelines.normalize.ids
    import pipelines.normalize.levels
    import pipelines.normalize.names
    import pipelines.normalize.sections
    import pipelines.sources.checks
    import pipelines.sources.court
    import pipelines.sources.doj
    import pipelines.sources.sql  # noqa: F401
    from tests.fuzz.targets import TARGETS


@atheris.instrument_func
def planted_bug(data: bytes) -> None:
    """The driver's self-test: a bug libFuzzer must find (an input starting with "BUG")."""
    if data[:1] == b"B" and data[1:2] == b"U" and data[2:3] == b"G":
        raise RuntimeError("planted bug found")


def main(argv: list[str]) -> None:
    targets = {**TARGETS, "selftest_planted_bug": planted_bug}
    if len(argv) < 2 or argv[1] not in targets:
        sys.exit(f"usage: python -m tests.fuzz.harness TARGET [libFuzzer args]; targets: {', '.join(TARGETS)}")
    atheris.Setup([argv[0], *argv[2:]], targets[argv[1]])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
