"""Generate a synthetic county (DOJ file + court extract + ground truth), or all 58 counties."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import runs  # noqa: F401  (sets umask 007: files are not world-readable)
from pipelines.synth import court_files, court_view, coverage, doj_view, numbering, truth
from pipelines.synth.coverage import LA_MISS_RATE
from pipelines.synth.doj_view import DojNoise
from pipelines.synth.noise import CourtNoise
from pipelines.synth.population import Population, concat, simulate
from pipelines.synth.tables import County, counties, county_named

# DOJ rows per cannabis person and court rows per background person, measured on large runs;
# only used to size the first attempt (a short attempt is retried larger).
DOJ_ROWS_PER_PERSON = 6.1
COURT_ROWS_PER_BACKGROUND_PERSON = 3.9
DEFAULT_COURT_RATIO = 1.5
WRITE_CHUNK = 250_000  # rows formatted and written at a time (bounds memory on large files)

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class GeneratedCounty:
    """What `generate_county` wrote, with counts for a summary (no personal values)."""

    county: str
    out: Path
    doj_files: list[Path]
    court_files: list[Path]
    court_layout: str
    truth_files: dict[str, Path]
    doj_rows: int
    court_rows: int  # rows in all extract files (refresh overlaps counted once per file)
    persons: int  # true persons (cannabis history + court-only background)
    doj_subjects: int
    court_cases: int  # county court cases in the extract
    cannabis_cases: int  # county court cases with a cannabis count (in the extract or DOJ)
    doj_missed_cannabis_cases: int
    doj_missed_share: float  # of the county's cannabis court cases, the share DOJ missed
    extract_windows: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        """Counts only (safe to print and log)."""
        return {
            "county": self.county, "doj_rows": self.doj_rows, "court_rows": self.court_rows, "persons": self.persons,
            "doj_subjects": self.doj_subjects, "court_cases": self.court_cases, "cannabis_cases": self.cannabis_cases,
            "doj_missed_cannabis_cases": self.doj_missed_cannabis_cases,
            "doj_missed_share": round(self.doj_missed_share, 4),
            "doj_files": [p.name for p in self.doj_files], "court_files": [p.name for p in self.court_files],
        }


def _fit(rng_seq: np.random.SeedSequence, county: County, target: int, wanted: int, *, cannabis: bool,
         doj_miss_rate: float, per_person: float, uid_offset: int, id_seed: int) -> tuple[Population, coverage.Coverage]:
    """Simulate enough people that their DOJ rows (cannabis people) or court rows (background)
    reach `wanted`, then keep the shortest prefix of people that gets there without passing it."""
    n = max(2, math.ceil(wanted / per_person * 1.08) + 8)
    for attempt, child in enumerate(rng_seq.spawn(6)):
        rng = np.random.default_rng(child)
        pop = simulate(rng, n, county, cannabis=cannabis, uid_offset=uid_offset, id_seed=id_seed)
        cov = coverage.decide(pop, target, rng, doj_miss_rate=doj_miss_rate, cannabis=cannabis)
        rows = cov.doj_rows if cannabis else cov.court_rows
        cum = np.cumsum(rows)
        if cum[-1] >= wanted or attempt == 5:
            cut = max(1, int(np.searchsorted(cum, wanted, side="right")))
            head = pop.head(cut)
            return head, coverage.head(cov, head)
        n = math.ceil(n * wanted / max(int(cum[-1]), 1) * 1.1) + 8
    raise AssertionError("unreachable")


def generate_county(
    *, rows: int, seed: int, county: str = "LOS ANGELES", court_layout: str = "generic_csv",
    doj_miss_rate: float = LA_MISS_RATE, refreshes: int = 1, out: Path, court_ratio: float = DEFAULT_COURT_RATIO,
    doj_files: int = 1, doj_header: bool = True, court_noise: CourtNoise | None = None,
    doj_noise: DojNoise | None = None, progress: Progress | None = None,
) -> GeneratedCounty:
    """Generate one synthetic county into `out`.

    - ``out/<county>_doj_NN.dat``: the DOJ research file (95 columns), about `rows` rows (it stops
      at the last whole person that fits, so at most one person's rows, typically under 30, short;
      at least one person), split into `doj_files` files.
    - ``out/court/extract_NN.<ext>``: the court extract in `court_layout` (a name in
      config/layouts or a YAML path), `refreshes` files whose filed-date windows overlap. The
      extract holds every charge of the county's cases: those of the DOJ people plus court-only
      background people, about ``court_ratio × rows`` rows in all.
    - ``out/truth/*.parquet`` + README.md: who is who, what DOJ missed, expected classifications.

    Same arguments, same bytes. `doj_miss_rate` is the share of the county's cannabis court cases
    DOJ misses (default like Los Angeles: 58,000 of 124,000), skewed toward misdemeanors and old
    cases.
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if not 0 <= doj_miss_rate < 1:
        raise ValueError("doj_miss_rate must be in [0, 1)")
    if refreshes < 1:
        raise ValueError("refreshes must be at least 1")
    report = progress or (lambda _step, _frac: None)
    c = county_named(county)
    target = next(i for i, x in enumerate(counties()) if x.name == c.name)
    layout = court_files.load_layout(court_layout)
    court_noise = court_noise or CourtNoise()
    if "comment" not in layout.fields:  # nowhere to put a charge typed in a comment
        court_noise = dataclasses.replace(court_noise, charge_in_comment=0.0)
    doj_noise = doj_noise or DojNoise()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True, mode=0o770)
    slug = runs.county_slug(c.name)
    # A previous run into the same folder must not leave files a reader would pick up with ours.
    for stale in [*out.glob(f"{slug}_doj_*.dat"), *(out / "court").glob("extract_*"), *(out / "truth").glob("*.parquet")]:
        stale.unlink()
    root = np.random.SeedSequence([int(seed), int(c.code)])
    seq_people, seq_background, seq_rest = root.spawn(3)
    id_seed = int(root.generate_state(1)[0])
    rng_numbers, rng_keys, rng_court, rng_doj = (np.random.default_rng(s) for s in seq_rest.spawn(4))

    report("people and their histories", 0.0)
    pop_c, cov_c = _fit(seq_people, c, target, rows, cannabis=True, doj_miss_rate=doj_miss_rate,
                        per_person=DOJ_ROWS_PER_PERSON, uid_offset=0, id_seed=id_seed)
    court_wanted = int(court_ratio * rows) - int(cov_c.court_rows.sum())
    if court_wanted > 0:
        pop_b, cov_b = _fit(seq_background, c, target, court_wanted, cannabis=False, doj_miss_rate=doj_miss_rate,
                            per_person=COURT_ROWS_PER_BACKGROUND_PERSON, uid_offset=pop_c.n_persons,
                            id_seed=id_seed)
        pop, cov = concat(pop_c, pop_b), coverage.concat(cov_c, cov_b)
    else:
        pop, cov = pop_c, cov_c
    report("case numbers", 0.25)
    cn = numbering.case_numbers(pop, rng_numbers)
    keys = numbering.person_keys(pop, c.name, cov.split_cycle >= 0, rng_keys,
                                 duplicate_key_rate=court_noise.second_person_key)

    report("DOJ file", 0.35)
    doj = doj_view.build(pop, cov, cn, keys, c, rng_doj, noise=doj_noise)
    doj_paths = _write_doj(doj, out, slug, doj_files, doj_header)
    doj_rows = doj.height
    doj.frame = pl.DataFrame()  # written; free the memory before the court view

    report("court extract", 0.6)
    court = court_view.build(pop, cov, cn, keys, c, rng_court, noise=court_noise, refreshes=refreshes)
    court_paths: list[Path] = []
    files_meta = []
    for i, (lo, hi) in enumerate(court.windows):
        written = court_files.write_extract(court.extract(i), layout, out / "court" / f"extract_{i + 1:02d}")
        court_paths += written
        files_meta += [(p.name, lo, hi) for p in written]
    court_rows = court.height
    court.frame = court.frame.clear()  # written; free the memory

    report("ground truth", 0.85)
    tables = truth.build(pop, cov, cn, c, doj, court, files_meta)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True, mode=0o770)
    truth_paths = {}
    for name, frame in tables.items():
        p = truth_dir / f"{name}.parquet"
        frame.write_parquet(p, compression="zstd", statistics=False)
        os.chmod(p, 0o660)
        truth_paths[name] = p
    readme = truth_dir / "README.md"
    readme.write_text(truth.TRUTH_README + "\n" + _extracts_table(files_meta), encoding="utf-8")
    os.chmod(readme, 0o660)
    truth_paths["README"] = readme
    report("done", 1.0)

    cases = tables["cases"].filter(pl.col("county") == c.name)
    can = cases.filter(pl.col("has_cannabis") & (pl.col("in_court_extract") | pl.col("in_doj")))
    missed = int(can["doj_missed"].sum())
    return GeneratedCounty(
        county=c.name, out=out, doj_files=doj_paths, court_files=court_paths, court_layout=layout.name,
        truth_files=truth_paths, doj_rows=doj_rows, court_rows=court_rows, persons=pop.n_persons,
        doj_subjects=doj.subjects.height, court_cases=int(cases["in_court_extract"].sum()), cannabis_cases=can.height,
        doj_missed_cannabis_cases=missed, doj_missed_share=missed / can.height if can.height else 0.0,
        extract_windows=list(court.windows),
    )


def _extracts_table(files_meta: list[tuple[str, str, str]]) -> str:
    lines = ["| file | first filed date | last filed date |", "|---|---|---|"]
    lines += [f"| court/{f} | {lo} | {hi} |" for f, lo, hi in files_meta]
    return "\n".join(lines) + "\n"


def _write_doj(doj: doj_view.DojView, out: Path, slug: str, n_files: int, header: bool) -> list[Path]:
    """The DOJ file, split into `n_files` parts at arbitrary row boundaries (as DOJ splits),
    written in chunks. Blank fields are nulls, so they are written bare, as DOJ writes them."""
    paths = []
    n_files = max(1, min(n_files, max(doj.height, 1)))
    size = -(-doj.height // n_files) if doj.height else 0
    for i in range(n_files):
        p = out / f"{slug}_doj_{i + 1:02d}.dat"
        start, stop = i * size, min((i + 1) * size, doj.height)
        with open(p, "wb") as f:
            for j, offset in enumerate(range(start, max(stop, start + 1), WRITE_CHUNK)):
                doj.rows(offset, min(WRITE_CHUNK, stop - offset)).write_csv(
                    f, include_header=header and j == 0, quote_style="necessary")
        os.chmod(p, 0o660)
        paths.append(p)
    return paths


def county_rows(total_rows: int) -> dict[str, int]:
    """DOJ rows per county for a statewide workload of `total_rows`, by 2020 population
    (Los Angeles about a quarter), at least 20 rows each."""
    cs = counties()
    pop = np.array([c.population for c in cs], dtype=np.float64)
    share = pop / pop.sum()
    rows = np.maximum(np.floor(share * total_rows).astype(np.int64), 20)
    return {c.name: int(r) for c, r in zip(cs, rows, strict=True)}


def generate_statewide(total_rows: int, seed: int, out: Path, *, court_layout: str = "generic_csv",
                       doj_miss_rate: float = LA_MISS_RATE, refreshes: int = 1,
                       progress: Progress | None = None) -> list[GeneratedCounty]:
    """All 58 counties into ``out/<county-slug>/`` (each as `generate_county`), sized like
    California's population, about `total_rows` DOJ rows in all."""
    plan = county_rows(total_rows)
    results = []
    done = 0
    for name, n in sorted(plan.items(), key=lambda kv: -kv[1]):
        def sub(step: str, frac: float, _name=name, _n=n, _done=done) -> None:
            if progress:
                progress(f"{_name.title()}: {step}", (_done + frac * _n) / total_rows)
        results.append(generate_county(
            rows=n, seed=seed, county=name, court_layout=court_layout, doj_miss_rate=doj_miss_rate,
            refreshes=refreshes, out=Path(out) / runs.county_slug(name), progress=sub,
        ))
        done += n
    return sorted(results, key=lambda r: r.county)
