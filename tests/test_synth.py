"""The synthetic county generator: determinism, sizes, formats readable by our own readers,
consistent ground truth, the intended skew of what DOJ missed, and noise at the intended rates."""

from __future__ import annotations

import csv
import hashlib
import stat
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.normalize.case_numbers import normalize_case_number
from pipelines.sources.court import court_counts, court_persons, read_court
from pipelines.sources.doj import doj_counts, doj_persons, read_doj
from pipelines.synth import CourtNoise, county_rows, generate_county, generate_statewide
from pipelines.synth.coverage import LA_MISS_RATE
from pipelines.synth.numbering import case_numbers
from pipelines.synth.population import simulate
from pipelines.synth.tables import counties, county_named

AS_OF = date(2024, 7, 1)
ROWS = 4000


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def la(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("la")
    return generate_county(rows=ROWS, seed=11, out=out, refreshes=2, doj_files=2)


@pytest.fixture(scope="module")
def truth(la) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(la.out / "truth" / f"{name}.parquet") for name in ("persons", "cases", "counts")}


@pytest.fixture(scope="module")
def court_read(la):
    return read_court(la.court_files, "generic_csv", county=la.county, as_of=AS_OF)


@pytest.fixture(scope="module")
def doj_read(la):
    return read_doj(la.doj_files, mode="strict")


# ---- determinism, size, files -----------------------------------------------------------------

def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = generate_county(rows=1500, seed=5, out=tmp_path / "a", refreshes=2)
    b = generate_county(rows=1500, seed=5, out=tmp_path / "b", refreshes=2)
    c = generate_county(rows=1500, seed=6, out=tmp_path / "c", refreshes=2)
    assert _digest(a.out) == _digest(b.out)
    assert len(_digest(a.out)) >= 8  # DOJ file, 2 extracts, 4 truth tables, README
    assert a.doj_files[0].read_bytes() != c.doj_files[0].read_bytes()


@pytest.mark.parametrize("rows", [1, 40, 2500])
def test_rows_is_about_the_doj_rows_asked_for(tmp_path: Path, rows: int) -> None:
    g = generate_county(rows=rows, seed=3, out=tmp_path)
    if rows > 100:
        assert rows - 60 <= g.doj_rows <= rows  # it stops at the last whole person that fits
    else:
        assert 1 <= g.doj_rows <= max(rows, 80)  # at least one person
    assert sum(1 for p in g.doj_files for _ in p.open()) == g.doj_rows + len(g.doj_files)  # + a header each


def test_files_are_not_world_readable(la) -> None:
    for p in [*la.doj_files, *la.court_files, *la.truth_files.values()]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o660, p


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path: Path) -> None:
    generate_county(rows=800, seed=1, out=tmp_path, refreshes=3, doj_files=3)
    g = generate_county(rows=800, seed=1, out=tmp_path, refreshes=1)
    assert sorted(p.name for p in (tmp_path / "court").iterdir()) == [p.name for p in g.court_files]
    assert sorted(tmp_path.glob("*.dat")) == g.doj_files


# ---- the DOJ file -------------------------------------------------------------------------------

def test_doj_file_has_95_fields_per_row_and_reads_strictly(la, doj_read) -> None:
    for path in la.doj_files:
        with path.open(newline="") as f:
            widths = {len(row) for row in csv.reader(f)}
        assert widths == {95}
    assert doj_read.quarantine.height == 0
    assert doj_read.rows.height == la.doj_rows
    assert doj_read.stats["has_header"].all()


def test_doj_file_has_the_realities_of_the_research_file(doj_read, truth) -> None:
    rows = doj_read.rows
    counts = doj_counts(rows)
    steps = set(counts["step_type"].unique())
    assert {"ARREST", "COURT", "REGISTRATION", "DECEASED"} <= steps
    assert (rows["OFFENSE_DESCR"] == "SEE COMMENT FOR CHARGE").sum() > 0
    split = rows.group_by("SUBJECT_ID", "CNT_ORDER").len().filter(pl.col("len") > 1)
    assert split.height > 0, "sentences split over several rows"
    assert rows.filter(pl.col("STP_ORI_CNTY_NAME") != "LOS ANGELES").height > 0, "out-of-county events"
    conv = counts.filter(pl.col("is_conviction"))
    assert conv.filter(pl.col("event_date") >= date(2016, 11, 9)).height > 0
    assert conv.filter(pl.col("event_date") < date(1970, 1, 1)).height > 0
    assert set(conv.filter(pl.col("section").is_in(["11357", "11358", "11359", "11360"]))["section"]) == {
        "11357", "11358", "11359", "11360"}
    assert {"F", "M"} <= set(conv["level"].drop_nulls())
    cmt = rows.filter(pl.col("COMMENT_TEXT").str.contains("CHRG|HS-"))
    assert cmt.height > 0
    # PRI_NAME "LAST,FIRST M" (quoted in the file), dates YYYYMMDD, CNT_ORDER 12 digits.
    assert rows["PRI_NAME"].str.contains(r"^[A-Z' -]+( (JR|SR|II|III))?,[A-Z]").all()
    assert rows["PRI_DOB"].str.contains(r"^(19|20)\d{6}$").all()
    assert rows["CNT_ORDER"].str.contains(r"^\d{9}000$").all()
    # A person under two SUBJECT_IDs.
    doj_persons_truth = truth["persons"].filter(pl.col("source") == "doj")
    assert doj_persons_truth.group_by("true_person_id").len().filter(pl.col("len") == 2).height > 0
    assert doj_persons(rows).height == doj_persons_truth.height


def test_deceased_and_pc290_and_superstrikes_present(doj_read) -> None:
    rows = doj_read.rows
    assert rows.filter(pl.col("STP_TYPE_DESCR") == "DECEASED").height > 0
    assert rows.filter((pl.col("STP_TYPE_DESCR") == "REGISTRATION") & pl.col("OFFENSE_DESCR").str.starts_with("290")).height > 0
    superstrikes = ("187", "664/187", "261", "288", "269", "207")
    assert rows.filter(pl.col("OFFENSE_DESCR").str.extract(r"^([0-9/.]+)", 1).is_in(superstrikes)).height > 0


# ---- the court extract ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["sf_cms", "legacy_fixed_width", "generic_parquet", "generic_xlsx"])
def test_court_extract_reads_through_each_layout(tmp_path: Path, layout: str) -> None:
    g = generate_county(rows=700, seed=21, out=tmp_path, court_layout=layout, county="San Francisco")
    read = read_court(g.court_files, layout, county=g.county, as_of=AS_OF)
    assert read.quarantine.height == 0, read.quarantine.group_by("reason").len()
    assert read.rows.height == g.court_rows
    truth_counts = pl.read_parquet(g.out / "truth" / "counts.parquet").filter(pl.col("court_count_id").is_not_null())
    ids = court_counts(read.rows, county=g.county)["count_id"]
    assert truth_counts["court_count_id"].is_in(ids.implode()).all()
    truth_persons = pl.read_parquet(g.out / "truth" / "persons.parquet").filter(pl.col("source") == "court")
    assert set(court_persons(read.rows, county=g.county)["person_id"]) == set(truth_persons["person_id"])


def test_generic_csv_extract_matches_the_truth(la, court_read, truth) -> None:
    assert court_read.quarantine.height == 0
    assert court_read.rows.height == la.court_rows
    counts = court_counts(court_read.rows, county=la.county)
    truth_court = truth["counts"].filter(pl.col("court_count_id").is_not_null())
    joined = truth_court.join(counts, left_on="court_count_id", right_on="count_id", how="left")
    assert joined["case_id"].null_count() == 0
    # The reader sees the section we meant, except where the court mistyped it.
    clean = joined.filter(~pl.col("court_charge_miskeyed"))
    assert (clean["section"] == clean["section_right"]).mean() > 0.995
    assert (joined["disposition"] == joined["disposition_right"]).all()


def test_overlapping_refreshes_repeat_rows_identically(la) -> None:
    assert len(la.court_files) == 2
    a, b = (pl.read_csv(p, infer_schema=False) for p in la.court_files)
    both = a.join(b, on=a.columns, how="semi", nulls_equal=True)
    assert both.height > 0, "the second refresh re-reads the end of the first window"
    assert a.height + b.height - both.height < la.court_rows  # overlap counted once per file
    (lo1, hi1), (lo2, hi2) = la.extract_windows
    assert lo1 < lo2 <= hi1 < hi2


# ---- the truth ------------------------------------------------------------------------------------

def test_every_cannabis_count_is_classified_once(truth) -> None:
    counts = truth["counts"]
    assert set(counts["classification"].unique()) == {"matched", "court_only", "doj_only"}
    court_ids = counts["court_count_id"].drop_nulls()
    doj_ids = counts["doj_count_id"].drop_nulls()
    assert court_ids.n_unique() == court_ids.len() and doj_ids.n_unique() == doj_ids.len()
    by = {c: counts.filter(pl.col("classification") == c) for c in ("matched", "court_only", "doj_only")}
    assert by["matched"]["court_count_id"].null_count() == 0 and by["matched"]["doj_count_id"].null_count() == 0
    assert by["court_only"]["doj_count_id"].null_count() == by["court_only"].height
    assert by["doj_only"]["court_count_id"].null_count() == by["doj_only"].height
    assert set(by["court_only"]["reason"]) == {"DOJ missed the case"}
    assert set(by["doj_only"]["reason"]) <= {"out of county", "court record destroyed"}
    assert counts["section"].is_in(["11357", "11358", "11359", "11360"]).all()
    # Cannabis charges dismissed in plea bargains are there, and they are never convictions.
    plea = counts.filter(pl.col("plea_dismissal"))
    assert plea.height > 0 and (plea["disposition"] == "dismissed").all()


def test_truth_ids_are_the_ids_the_readers_build(truth, doj_read) -> None:
    doj_ids = doj_counts(doj_read.rows)["count_id"]
    assert truth["counts"]["doj_count_id"].drop_nulls().is_in(doj_ids.implode()).all()
    # The DOJ case number of a matched count is the court's, or the court's without its suffix.
    counts = doj_counts(doj_read.rows).select("count_id", normalize_case_number(pl.col("case_number")).alias("case_number"))
    matched = truth["counts"].filter(pl.col("classification") == "matched").join(
        counts, left_on="doj_count_id", right_on="count_id").join(
        truth["cases"].select("court_case_id", "true_case_number"), left_on=pl.col("court_count_id").str.replace(r":\d+$", ""),
        right_on="court_case_id")
    known = matched.filter(pl.col("case_number").is_not_null())
    assert known.height > 0.9 * matched.height
    same = (known["case_number"] == known["true_case_number_right"]) | (
        known["case_number"] == known["true_case_number_right"].str.replace(r"(-\d\d|[AB])$", ""))
    assert same.all()
    doj_person_ids = set(doj_persons(doj_read.rows)["person_id"])
    assert set(truth["persons"].filter(pl.col("source") == "doj")["person_id"]) == doj_person_ids


def test_doj_missed_share_and_its_skew(la, truth) -> None:
    cases = truth["cases"].filter((pl.col("county") == "LOS ANGELES") & pl.col("has_cannabis"))
    assert abs(la.doj_missed_share - LA_MISS_RATE) < 0.05
    share = cases.group_by(misd=pl.col("case_level") != "F").agg(pl.col("doj_missed").mean()).sort("misd")["doj_missed"]
    assert share[1] > share[0] + 0.15, "misdemeanors are missed more often"
    year = pl.col("filed_date").dt.year()
    old = cases.filter(year < 1985)["doj_missed"].mean()
    new = cases.filter(year >= 2000)["doj_missed"].mean()
    assert old > new + 0.1, "old cases are missed more often"
    # court_only counts are exactly the cannabis counts of the cases DOJ missed
    missed = set(cases.filter(pl.col("doj_missed") & pl.col("in_court_extract"))["court_case_id"])
    court_only = truth["counts"].filter(pl.col("classification") == "court_only")
    assert set(court_only["court_count_id"].str.replace(r":\d+$", "")) == missed


def test_miss_rate_is_configurable(tmp_path: Path) -> None:
    g = generate_county(rows=3000, seed=2, out=tmp_path, doj_miss_rate=0.2)
    assert abs(g.doj_missed_share - 0.2) < 0.05
    g0 = generate_county(rows=1000, seed=2, out=tmp_path / "none", doj_miss_rate=0.0)
    counts = pl.read_parquet(g0.out / "truth" / "counts.parquet")
    assert g0.doj_missed_share == 0 and counts.filter(pl.col("classification") == "court_only").height == 0


# ---- noise -------------------------------------------------------------------------------------------

def test_court_noise_at_the_intended_rates(la, truth) -> None:
    noise = CourtNoise()
    cases = truth["cases"].filter(pl.col("in_court_extract"))
    assert cases.height > 2000

    def share(expr: pl.Expr) -> float:
        return cases.select(expr.cast(pl.Float64).mean()).item()

    assert abs(share(pl.col("name_swapped")) - noise.swapped_names) < 0.01
    assert abs(share(pl.col("name_typo")) - noise.name_typo) < 0.015
    assert 0.01 < share(pl.col("name_nickname")) <= noise.nickname + 0.01  # only names that have one
    assert share(pl.col("name_accented")) > 0
    assert abs(share(pl.col("dob_written") == "missing") - noise.dob_missing) < 0.015
    assert share(pl.col("dob_written") == "day/month transposed") > 0 and share(pl.col("dob_written") == "typo") > 0
    forms = cases["surname_form"].drop_nulls()
    assert set(forms) == {"full", "hyphenated", "first part", "second part"}, "compound surnames written four ways"
    assert abs((forms == "full").mean() - noise.compound_full) < 0.08
    court_people = truth["persons"].filter(pl.col("source") == "court").group_by("true_person_id").len()
    assert court_people.filter(pl.col("len") > 1).height > 0, "some people have two court person keys"

    rows = pl.concat([pl.read_csv(p, infer_schema=False) for p in la.court_files])
    assert abs(rows["cii"].is_null().mean() - noise.cii_missing) < 0.04
    cii = rows["cii"].drop_nulls()
    assert cii.str.starts_with("A").any() and (~cii.str.starts_with("A")).any() and cii.str.contains(r"^\d{8}$").any()
    in_comment = rows.filter(pl.col("charge").is_null() | (pl.col("charge") == "SEE COMMENT"))
    assert 0.01 < in_comment.height / rows.height < 0.05
    assert in_comment["comment"].str.contains(r"\d{3}").all()
    number = rows["court_case_number"]
    assert (number != number.str.to_uppercase().str.replace_all(" ", "")).mean() > 0.01, "case-number surface forms"
    assert number.str.contains(r"-0[12]$").any(), "defendant suffixes"
    assert rows["charge"].drop_nulls().str.contains(r"^(HS|H&S) ?1135|^1135\d(\(\w\))? ?(HS|H&S)").any()
    assert truth["counts"]["court_charge_miskeyed"].any()


def test_personal_ids_identify_one_person(la, truth) -> None:
    rows = pl.concat([pl.read_csv(p, infer_schema=False) for p in la.court_files])
    people = truth["persons"].filter(pl.col("source") == "court").select("person_id", "true_person_id")
    rows = rows.with_columns(person_id=pl.lit("court:LOS ANGELES:") + pl.col("person_key")).join(people, on="person_id")
    for col, clean in (("cii", r"^A"), ("ssn", "-"), ("dl_number", " CA$")):
        per_id = rows.filter(pl.col(col).is_not_null()).group_by(pl.col(col).str.replace_all(clean, "")).agg(
            pl.col("true_person_id").n_unique())
        assert per_id.height > 100 and (per_id["true_person_id"] == 1).all(), col


def test_population_mix_and_names(truth, la) -> None:
    doj = pl.read_csv(la.doj_files[0], infer_schema=False)
    race = doj.unique("SUBJECT_ID")["RACE_DESCR"].value_counts(normalize=True)
    share = dict(zip(race["RACE_DESCR"], race["proportion"], strict=True))
    assert 0.38 < share["HISPANIC"] < 0.52 and 0.25 < share["BLACK"] < 0.39 and 0.14 < share["WHITE"] < 0.26
    names = doj.unique("SUBJECT_ID")["PRI_NAME"].str.extract(r"^([^,]+),", 1)
    assert names.n_unique() > 0.5 * names.len(), "names drawn from the census tables, not a short list"
    assert names.str.contains(r"^[A-Z]+ [A-Z]+$").mean() > 0.03, "compound surnames (GARCIA LOPEZ)"


def test_case_numbers_are_in_normalized_form_in_every_county_style() -> None:
    rng = np.random.default_rng(0)
    pop = simulate(rng, 4000, county_named("Los Angeles"), cannabis=True, out_of_county=0.9)
    cn = case_numbers(pop, rng)
    numbers = cn.case_number.drop_nulls()
    assert len(set(pop.cyc_county.tolist())) > 40
    normalized = pl.select(normalize_case_number(pl.lit(numbers))).to_series()
    assert (normalized == numbers).all()
    doj = pl.select(normalize_case_number(pl.lit(cn.doj_form.drop_nulls()))).to_series()
    base = numbers.str.replace(r"(-\d\d|[AB])$", "")
    assert (doj.is_in(numbers.implode()) | doj.is_in(base.implode())).all()
    assert (cn.doj_form.drop_nulls() != numbers).any(), "DOJ writes some numbers in another form"
    assert numbers.str.contains(r"-0[12]$").any() and numbers.str.contains(r"^\d\d[A-Z]+\d{5}$").any()


# ---- statewide and the command line --------------------------------------------------------------------

def test_statewide_sizes_follow_population() -> None:
    plan = county_rows(10_000_000)
    assert len(plan) == 58 == len(counties())
    assert 0.23 < plan["LOS ANGELES"] / sum(plan.values()) < 0.27
    assert max(plan, key=plan.get) == "LOS ANGELES" and min(plan.values()) >= 20


def test_generate_statewide_writes_every_county(tmp_path: Path) -> None:
    results = generate_statewide(2400, seed=4, out=tmp_path)
    assert len(results) == 58
    assert {r.county for r in results} == {c.name for c in counties()}
    la = next(r for r in results if r.county == "LOS ANGELES")
    assert la.doj_rows == max(r.doj_rows for r in results)
    assert all(r.doj_files[0].is_file() and r.court_files[0].is_file() for r in results)


def test_cli_generate_prints_counts_not_people(tmp_path: Path) -> None:
    from pipelines.cli import app

    result = CliRunner().invoke(app, ["generate", "--rows", "1200", "--seed", "9", "--out", str(tmp_path / "g"),
                                      "--county", "sacramento", "--refreshes", "2"])
    assert result.exit_code == 0, result.output
    assert "Sacramento" in result.output and "DOJ missed" in result.output
    doj = pl.read_csv(next((tmp_path / "g").glob("*.dat")), infer_schema=False)
    surnames = set(doj["PRI_NAME"].str.extract(r"^([^,]+),", 1))
    assert not any(f" {s} " in f" {result.output} " for s in surnames if len(s) > 3)
    bad = CliRunner().invoke(app, ["generate", "--rows", "10", "--seed", "1", "--out", str(tmp_path / "x"),
                                   "--court-layout", "no_such_layout"])
    assert bad.exit_code == 2 and "no_such_layout" in bad.output
