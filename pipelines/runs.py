"""The run folder: where a run keeps each stage's frames, so stages can be re-run, inspected,
or handed from one Airflow task to the next by path.

    <workdir>/<county-slug>/<run_id>/<stage>.parquet

A run id is derived from the inputs' fingerprints, the policy and compute-at (not the clock), so
the same inputs give the same run folder and re-running a stage overwrites its own outputs.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

# Output files and folders are readable by owner and group only: these are criminal records.
os.umask(0o007)


def county_slug(county: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", county.strip().lower()).strip("_")


def file_fingerprint(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_run_id(*parts: str) -> str:
    """A short, deterministic id from the run's defining inputs."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunFolder:
    workdir: Path
    county: str
    run_id: str

    @property
    def path(self) -> Path:
        return Path(self.workdir) / county_slug(self.county) / self.run_id

    def stage(self, name: str) -> Path:
        return self.path / f"{name}.parquet"

    def sub(self, name: str) -> Path:
        p = self.path / name
        p.mkdir(parents=True, exist_ok=True, mode=0o770)
        return p

    def create(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o770)
        return self

    def write(self, name: str, frame: pl.DataFrame) -> Path:
        """Write a stage frame atomically (temp file + rename), so a killed task leaves no half file."""
        target = self.stage(name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
        tmp = target.with_suffix(".parquet.tmp")
        frame.write_parquet(tmp, statistics=False)
        os.replace(tmp, target)
        return target

    def read(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.stage(name))

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.stage(name))

    def has(self, name: str) -> bool:
        return self.stage(name).exists()
