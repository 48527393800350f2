"""Reliability test kit: fuzz targets, hostile-input builders and the fuzzing driver.

- ``targets``: one function per input kind (DOJ file, each court layout kind, the normalizers)
  taking raw bytes; it returns quietly, raises InputError's caller-visible kind only by
  swallowing it, and fails (any other exception, or a broken row-conservation invariant) on a
  bug. Used by hypothesis properties, by the corpus replay and by atheris.
- ``harness``: the atheris entry point (``python -m tests.fuzz.harness TARGET [libFuzzer args]``).
- ``run``: ``python -m tests.fuzz.run --seconds N`` (``make fuzz``): coverage-guided fuzzing of
  every target, seeded with ``corpus/<target>/``; findings are written for replay.
- ``corpus/<target>/``: seeds and the interesting inputs found; every file is replayed as a
  regression test by tests/test_fuzz_corpus.py.
- ``inputs``: builders of hostile and broken files (spreadsheet-saved, truncated, re-encoded,
  sparse multi-GB garbage) used by tests/test_hostile_inputs.py.
"""
