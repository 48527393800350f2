"""Validation gates: Great Expectations suites (``expectations/*.yaml``), one per checkpoint.

    from pipelines.validation import run_checkpoint, gate
    result = run_checkpoint("determinations", frames, context=ctx, out_dir=run_dir / "validation")
    gate(result)   # ValidationFailed when a critical expectation failed: delivery is blocked

Checkpoints, in flow order: ``doj_input``, ``court_input``, ``reconciled``, ``determinations``,
``delivery``. See docs/validation.md.
"""

from pipelines.validation.gates import CheckpointResult, ExpectationOutcome, gate, run_checkpoint
from pipelines.validation.suites import CHECKPOINTS, SuiteSpec, load_suite
from pipelines.validation.tables import ValidationContext

__all__ = [
    "CHECKPOINTS", "CheckpointResult", "ExpectationOutcome", "SuiteSpec", "ValidationContext", "gate",
    "load_suite", "run_checkpoint",
]
