"""LinkageSettings: every knob of deduplication and DOJ <-> court linkage, in one reviewable object.

The defaults are the ones the project is tested and benchmarked with. A county changes them in its
config (for example a wider review band while it gets to know its data); the settings used are saved
with the trained model of every run (`save_model_artifacts`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LinkageSettings(BaseModel):
    """Settings of one linkage (or deduplication) run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A pair is a link when its match probability reaches this value.
    match_threshold: float = Field(0.9, gt=0, le=1)
    # Pairs whose probability falls in [low, high) go to the review queue.
    review_band: tuple[float, float] = (0.5, 0.95)
    # Pairs below this probability are not kept at all (they are not evidence of anything).
    keep_threshold: float = Field(0.2, ge=0, le=1)

    # Deterministic pass (Polars): identifiers and (county, case number) with agreeing name.
    deterministic: bool = True
    deterministic_ids: tuple[str, ...] = ("cii", "ssn", "cdl")
    # Records of the right frame resolved by the deterministic pass are not blocked against the left
    # frame again (their links are certain; only those links are scored, for the evidence); every
    # record of the left frame stays a candidate, so a duplicate record of the same person on the
    # right still finds its partner.
    skip_resolved: bool = True

    # Probabilistic pass (Splink, DuckDB backend).
    probabilistic: bool = True
    seed: int = 20241105
    # The model is trained on at most this many records per side (a seeded sample): m and u need
    # no more, and training time stays flat as counties grow.
    train_records: int = Field(100_000, ge=100)
    u_max_pairs: float = 5e5
    em_max_pairs: float = 3e5
    em_max_iterations: int = Field(25, ge=1)
    # An estimate of the share of true links the deterministic id rules find (used to set Splink's
    # prior, the probability that two random records match).
    deterministic_recall: float = Field(0.6, gt=0, le=1)
    # DuckDB threads; a fixed number keeps runs reproducible and leaves cores for other work.
    threads: int = Field(2, ge=1)
    # DuckDB memory limit, e.g. "4GB"; None leaves DuckDB's default (80% of RAM).
    memory_limit: str | None = None
    # Where DuckDB may spill; None keeps everything in memory.
    temp_directory: str | None = None

    # Optional extra nickname table (CSV with columns name,canonical) added to the packaged one.
    extra_nicknames: str | None = None

    @model_validator(mode="after")
    def _check_band(self) -> LinkageSettings:
        low, high = self.review_band
        if not 0 <= low <= high <= 1:
            raise ValueError(f"review_band must satisfy 0 <= low <= high <= 1, got {self.review_band}")
        if self.keep_threshold > low:
            raise ValueError("keep_threshold must not exceed the review band's lower bound")
        unknown = set(self.deterministic_ids) - {"cii", "ssn", "cdl", "fbi"}
        if unknown:
            raise ValueError(f"unknown identifier(s) in deterministic_ids: {sorted(unknown)}")
        return self
