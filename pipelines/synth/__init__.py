"""Synthetic counties with ground truth.

A simulated population of people and their criminal histories (1961-2019) is drawn once per
county; the DOJ research file, the court's case-management extract and the ground truth are views
of it. See docs/synth.md.

    from pipelines.synth import generate_county
    g = generate_county(rows=100_000, seed=7, out=Path("work/la"))
"""

from pipelines.synth.coverage import LA_MISS_RATE
from pipelines.synth.doj_view import DojNoise
from pipelines.synth.generate import GeneratedCounty, county_rows, generate_county, generate_statewide
from pipelines.synth.noise import CourtNoise

__all__ = [
    "LA_MISS_RATE", "CourtNoise", "DojNoise", "GeneratedCounty", "county_rows", "generate_county", "generate_statewide",
]
