"""Whole-file checks on what the readers read, before anything downstream uses it.

The readers quarantine bad rows and carry on, which is right for a damaged line or two. A file
that is wrong as a whole is refused instead, with an InputError naming the file and the reason,
so that nothing is decided or delivered from it:

- ``check_input_files``: the same file given twice (by path or by content);
- ``check_doj_read``: a DOJ file with no rows, with no readable row, mostly unreadable, or whose
  court events are mostly in another county (a research file sent for another county);
- ``check_court_read``: the same for a court extract, where "another county" shows as an extract
  that shares none of its case numbers with the DOJ file's court cases in this county.

Messages carry counts, file names and county names only, never a personal value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from pipelines.errors import InputError

# A file with more than this share of its rows quarantined is refused as a whole.
MAX_QUARANTINED_SHARE = 0.5
# The wrong-county test for court extracts needs this many distinct case numbers on each side.
MIN_CASES_FOR_COUNTY_CHECK = 20


def check_input_files(paths: Sequence[str | os.PathLike], fingerprints: Mapping[str, str]) -> None:
    """Refuse a run given one file twice: the same path, or two files with the same contents.

    ``fingerprints`` maps each path (as given) to its SHA-256. A DOJ file read twice would double
    every sentence; a court extract read twice hides nothing but is always a mistake.
    """
    seen: dict[str, str] = {}
    by_path: dict[str, str] = {}
    for p in paths:
        key = str(Path(p).resolve())
        if key in by_path:
            raise InputError("the same file is given twice; give each input file once", file=Path(p).name,
                             kind="DUPLICATE")
        by_path[key] = str(p)
        digest = fingerprints[str(p)]
        if digest in seen:
            raise InputError(f"has the same contents as {Path(seen[digest]).name}: the same file given twice "
                             "(under two names); give each input file once", file=Path(p).name, kind="DUPLICATE")
        seen[digest] = str(p)


def _check_stats(stats: pl.DataFrame, what: str) -> None:
    for file, read, accepted, quarantined in stats.select(
        "source_file", "rows_read", "rows_accepted", "rows_quarantined"
    ).iter_rows():
        if read == 0:
            raise InputError(f"holds no {what} rows (an empty file, or a header only)", file=file, kind="EMPTY")
        if accepted == 0:
            raise InputError(f"none of its {read:,} rows is a readable {what} row (wrong file, wrong encoding or "
                             "binary data); see the quarantine for the reasons", file=file, kind="UNREADABLE")
        if quarantined > read * MAX_QUARANTINED_SHARE:
            raise InputError(f"{quarantined:,} of its {read:,} rows are unreadable (more than "
                             f"{MAX_QUARANTINED_SHARE:.0%}): a damaged or re-saved file is refused as a whole; "
                             "see the quarantine for the reasons", file=file, kind="UNREADABLE")


def check_doj_read(stats: pl.DataFrame, counts: pl.DataFrame, *, county: str) -> None:
    """Refuse DOJ files that are empty, unreadable, mostly unreadable, or for another county.

    ``stats`` is read_doj's per-file stats, ``counts`` doj_counts of its rows, ``county`` the
    county as DOJ writes it. A county's research file lists people with convictions in that
    county, so most of its court events are in it; a file whose court events are mostly in one
    other county was sent for that county.
    """
    _check_stats(stats, "DOJ")
    court = counts.filter(pl.col("step_type") == "COURT").group_by("source_file", "county").len()
    for (file,), events in court.group_by("source_file", maintain_order=True):
        total = int(events["len"].sum())
        here = int(events.filter(pl.col("county") == county)["len"].sum())
        top = events.filter(pl.col("county").is_not_null()).sort(["len", "county"], descending=[True, False])
        if top.height and here * 2 < total and top["county"][0] != county:
            raise InputError(
                f"{here:,} of its {total:,} court events are in {county} and {int(top['len'][0]):,} in "
                f"{top['county'][0]}: a DOJ research file for another county?", file=file, kind="COUNTY",
            )


def check_court_read(stats: pl.DataFrame, counts: pl.DataFrame, doj_counts: pl.DataFrame | None, *,
                     county: str) -> None:
    """Refuse court extracts that are empty, unreadable, mostly unreadable, or from another court.

    An extract from this county's court shares case numbers with the DOJ file's court events in
    the county (DOJ received many of the court's cases, though not all). An extract with at least
    MIN_CASES_FOR_COUNTY_CHECK case numbers that shares none of them with at least as many DOJ
    court cases of the county is from another county's court (case numbers are only unique within
    a county, so using it would attach other people's cases to this county's records).
    """
    _check_stats(stats, "court")
    if doj_counts is None or counts.height == 0:
        return
    doj_cases = (
        doj_counts.filter((pl.col("step_type") == "COURT") & (pl.col("county") == county))
        .select(pl.col("case_number").drop_nulls().unique())
        .to_series()
    )
    if doj_cases.len() < MIN_CASES_FOR_COUNTY_CHECK:
        return
    cases = counts.select("source_file", "case_number", "case_number_base").unique()
    per_file = cases.group_by("source_file", maintain_order=True).agg(
        pl.col("case_number").n_unique().alias("cases"),
        (pl.col("case_number").is_in(doj_cases.implode()) | pl.col("case_number_base").is_in(doj_cases.implode()))
        .sum().alias("shared"),
    )
    for file, n_cases, shared in per_file.iter_rows():
        if n_cases >= MIN_CASES_FOR_COUNTY_CHECK and shared == 0:
            raise InputError(
                f"none of its {n_cases:,} case numbers is among the DOJ file's {doj_cases.len():,} court cases in "
                f"{county}: an extract from another county's court?", file=file, kind="COUNTY",
            )
