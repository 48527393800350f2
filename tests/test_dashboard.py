"""The report stage end to end on a generated county: two refreshes, a delivery with the court's
answers, the statewide report, the dashboard in a real headless browser, the personal-data scan
and the local server.

One module-scoped work folder (two runs of Los Angeles) feeds every test here.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

import polars as pl
import pytest

from pipelines.reports.dashboard import REVIEW_PAGE, dashboard_dir

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Stages copied unchanged from the first run into the second (same inputs, later compute-at).
SHARED_STAGES = ("doj_rows", "doj_quarantine", "doj_stats", "doj_persons", "doj_counts", "court_rows",
                 "court_quarantine", "court_stats", "court_persons", "court_counts", "court_counts_deduped",
                 "doj_clusters", "court_clusters", "person_matches", "person_links", "reconciled", "counts", "persons")


def _respond(run_dir: Path, workdir: Path) -> Path:
    """The court's answer to the first delivery: the first row rejected, the rest accepted."""
    upload = next((workdir / "outbox").rglob("court_upload.csv"))
    ids = pl.read_csv(upload, infer_schema=False)["DELIVERY_ID"].to_list()
    answer = pl.DataFrame({"delivery_id": ids, "status": ["rejected"] + ["accepted"] * (len(ids) - 1),
                           "order_date": ["2020-09-01"] * len(ids)})
    path = run_dir.parent / "court_response.csv"
    answer.write_csv(path)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    from pipelines.delivery.run import deliver_run_dir
    from pipelines.flow import RunSpec, plan_run, run_stage
    from pipelines.ledger import Ledger
    from pipelines.reports import write_reports, write_statewide_report
    from pipelines.synth.generate import generate_county

    base = tmp_path_factory.mktemp("reports")
    generated = generate_county(rows=1500, seed=1, out=base / "county")
    doj = generated.doj_files[0]
    with open(doj, "a", encoding="utf-8") as f:
        f.write("1,2,3\n")  # a row with 3 fields: the reader quarantines it
    work = base / "work"
    spec = RunSpec(county="los_angeles", doj=[str(p) for p in generated.doj_files],
                   court=[str(p) for p in generated.court_files], compute_at="2020-07-01", workdir=str(work))
    first = plan_run(spec)
    for name in ("read_doj", "read_court", "validate_inputs", "link", "reconcile", "eligibility"):
        run_stage(name, first)
    deliver_run_dir(first, validate=False)
    first_summary = write_reports(first, workdir=work)

    with Ledger(workdir=work) as ledger:
        ledger.record_ack("LOS ANGELES", _respond(first, work))

    # A refresh a year later: same inputs (their frames copied), decided as of the new date.
    second = plan_run(RunSpec(**{**json.loads((first / "spec.json").read_text()), "compute_at": "2021-07-01",
                                 "run_id": "", "input_fingerprints": {}}))
    assert second != first
    for name in SHARED_STAGES:
        shutil.copy2(first / f"{name}.parquet", second / f"{name}.parquet")
    for folder in ("linkage", "review"):
        shutil.copytree(first / folder, second / folder, dirs_exist_ok=True)
    (second / "validation").mkdir(exist_ok=True)
    for checkpoint in ("doj_input", "court_input"):
        shutil.copy2(first / "validation" / f"{checkpoint}.json", second / "validation" / f"{checkpoint}.json")
    shutil.copytree(first / "validation" / "data_docs", second / "validation" / "data_docs", dirs_exist_ok=True)
    (second / "summary").mkdir(exist_ok=True)
    for name in ("read_doj", "read_court", "validate_inputs", "link", "reconcile"):
        shutil.copy2(first / "summary" / f"{name}.json", second / "summary" / f"{name}.json")
    run_stage("eligibility", second)
    deliver_run_dir(second, validate=False)
    second_summary = write_reports(second, workdir=work)
    statewide = write_statewide_report(work)
    (base / "summaries.json").write_text(json.dumps(
        {"first": str(first), "second": str(second), "first_summary": first_summary,
         "second_summary": second_summary, "statewide": statewide}, default=str))
    return work


@pytest.fixture(scope="module")
def runs(workdir: Path) -> dict:
    return json.loads((workdir.parent / "summaries.json").read_text())


def test_write_reports_summary_files_and_modes(workdir: Path, runs: dict):
    summary = runs["second_summary"]
    for key in ("report_html", "report_pdf", "report_json", "what_if_json", "quality_json", "dashboard"):
        path = Path(summary[key])
        assert path.is_file(), key
        assert not path.stat().st_mode & stat.S_IROTH, f"{key} is world-readable"
    assert summary["dashboard"] == str(dashboard_dir(workdir) / "index.html")
    assert "people with some relief" in summary["headline"]
    report = json.loads(Path(summary["report_json"]).read_text())
    assert report["meta"]["run_id"] == Path(runs["second"]).name and report["meta"]["compute_at"] == "2021-07-01"
    assert report["figures"]["court_only"]["available"] is True
    # The summary's figures are the published ones.
    assert summary["people_with_some_relief"] == report["figures"]["people"]["with_some_relief"]
    assert Path(summary["report_pdf"]).read_bytes().startswith(b"%PDF-")


def test_what_if_current_column_is_the_impact_report(runs: dict):
    summary = runs["second_summary"]
    report = json.loads(Path(summary["report_json"]).read_text())
    what_if = json.loads(Path(summary["what_if_json"]).read_text())
    current = [c for c in what_if["policies"] if c["current"]]
    assert len(current) == 1 and current[0]["policy"] == "los_angeles"
    assert current[0]["figures"] == report["figures"]
    from pipelines.eligibility import available_policies

    names = {c["policy"] for c in what_if["policies"]}
    assert names == set(available_policies())  # each shipped policy once (LA's is the current one)


def test_reports_are_deterministic(workdir: Path, runs: dict):
    from pipelines.reports import write_reports

    first = Path(runs["first"])
    before = {n: (first / "report" / n).read_bytes() for n in ("impact.json", "impact.html", "impact.pdf",
                                                                  "what_if.json", "quality.json")}
    write_reports(first, workdir=workdir, with_dashboard=False)
    for name, data in before.items():
        assert (first / "report" / name).read_bytes() == data, name


def test_quality_figures_and_changes_since_previous_refresh(runs: dict):
    first = json.loads((Path(runs["first"]) / "report" / "quality.json").read_text())
    second = json.loads((Path(runs["second"]) / "report" / "quality.json").read_text())
    doj = next(f for f in first["inputs"]["files"] if f["source"] == "doj")
    assert doj["rows_quarantined"] == 1 and doj["rows_add_up"]
    assert first["inputs"]["quarantine_by_reason"] == {"field_count": 1}
    assert first["validation"]["doj_input"]["data_docs"] == "validation/data_docs/index.html"
    assert first["changes_from_previous"] == {}
    changes = second["changes_from_previous"]
    assert changes["previous_run"] == Path(runs["first"]).name
    assert set(changes) >= {"new_convictions", "determination_changed", "unchanged", "by_change"}


def test_statewide_report_adds_up_the_counties(workdir: Path, runs: dict):
    statewide = json.loads((workdir / "statewide" / "impact.json").read_text())
    county = json.loads(Path(runs["second_summary"]["report_json"]).read_text())
    assert statewide["meta"]["scope"] == "statewide" and statewide["meta"]["county_count"] == 1
    assert statewide["counties"][0]["run_id"] == Path(runs["second"]).name  # the latest run
    # One county: the statewide figures are that county's.
    assert statewide["figures"]["people"] == county["figures"]["people"]
    assert statewide["figures"]["incumbent_summary"]["county"] == "STATEWIDE"
    assert (dashboard_dir(workdir) / "statewide" / "impact.html").is_file()


# ---------------------------------------------------------------------------------------------
def _pages(workdir: Path, runs: dict) -> list[Path]:
    site = dashboard_dir(workdir)
    first, second = Path(runs["first"]).name, Path(runs["second"]).name
    return [site / "index.html", site / "los_angeles" / "index.html",
            site / "los_angeles" / first / "index.html", site / "los_angeles" / second / "index.html",
            site / "los_angeles" / second / "what_if.html", site / "los_angeles" / second / "impact.html",
            site / "statewide" / "impact.html"]


def test_dashboard_renders_every_chart_in_headless_chromium(workdir: Path, runs: dict, artifacts_dir: Path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (make browser) to run the dashboard test")
    from playwright.sync_api import sync_playwright

    pages = _pages(workdir, runs)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=BROWSER_ARGS,
                                                       headless=True, viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        def only_files(route):
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        browser.route("**/*", only_files)
        try:
            for path in pages:
                page = browser.new_page()
                problems: list[str] = []
                page.on("console", lambda m, problems=problems: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                containers = page.locator(".chart")
                assert containers.count() > 0, f"{path.name}: no chart"
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('svg, canvas'))",
                    timeout=20_000)
                drawn = page.eval_on_selector_all(
                    ".chart", "els => els.map(e => [e.id, e.querySelectorAll('svg .mark-rect, svg .mark-line, "
                              "svg .mark-text, svg .mark-symbol, svg path, svg rect').length])")
                assert all(n > 0 for _, n in drawn), f"{path}: empty chart {drawn}"
                assert problems == [], f"{path}: {problems}"
                if path == pages[3]:
                    page.screenshot(path=str(artifacts_dir / "dashboard_run.png"), full_page=True)
                if path == pages[0]:
                    page.screenshot(path=str(artifacts_dir / "dashboard_index.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert outside == [], f"pages asked the network for {outside}"
    assert (artifacts_dir / "dashboard_run.png").stat().st_size > 10_000


def test_run_page_links_data_docs_splink_charts_review_and_reports(workdir: Path, runs: dict):
    run_dir = dashboard_dir(workdir) / "los_angeles" / Path(runs["first"]).name
    html = (run_dir / "index.html").read_text()
    for href in re.findall(r'href="([^"#]+)"', html):
        assert (run_dir / href).resolve().is_file(), f"broken link {href}"
    assert 'href="data_docs/index.html"' in html and 'href="data_docs/validations/doj_input/counts/' in html
    assert 'href="linkage/match_weights.html"' in html and f'href="{REVIEW_PAGE}"' in html
    assert "impact.pdf" in html and "what_if.html" in html
    county = (dashboard_dir(workdir) / "los_angeles" / "index.html").read_text()
    assert "los_angeles_00001" in county and "los_angeles_00002" in county  # both deliveries, with answers
    review = (run_dir / REVIEW_PAGE).read_text()
    assert "CONFIDENTIAL" in review


# ---------------------------------------------------------------------------------------------
WORDS = re.compile(r"[A-Z][A-Z'-]*")
TOKENS = re.compile(r"[0-9A-Za-z]+")
DATES = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}")


def _personal_values(run_dirs: list[Path]) -> tuple[set[tuple[str, str]], set[str]]:
    """Every input person's name (as word pairs: LAST FIRST and FIRST LAST, however separated) and
    identifiers and dates of birth (as tokens: CII, SSN, licence, DOJ subject id, dates in 3 forms)."""
    names: set[tuple[str, str]] = set()
    tokens: set[str] = set()
    dobs: set = set()
    event_dates: set = set()
    for run in run_dirs:
        for frame in ("doj_persons", "court_persons"):
            people = pl.read_parquet(run / f"{frame}.parquet")
            for last, first in people.select("last_name", "first_name").iter_rows():
                if last and first:
                    last_words, first_words = WORDS.findall(last.upper()), WORDS.findall(first.upper())
                    if last_words and first_words:
                        names |= {(last_words[-1], first_words[0]), (first_words[-1], last_words[0])}
            for column in ("cii", "ssn", "cdl"):
                tokens |= {v for v in people[column].drop_nulls().to_list() if len(v) >= 6}
            if frame == "doj_persons":
                tokens |= {v for v in people["source_person_key"].drop_nulls().to_list() if len(v) >= 6}
            dobs |= set(people["dob"].drop_nulls().to_list())
        for frame in ("doj_counts", "court_counts"):
            event_dates |= set(pl.read_parquet(run / f"{frame}.parquet")["event_date"].drop_nulls().to_list())
    # A date that is also some event's date cannot be told apart from that event: not scanned.
    for d in dobs - event_dates:
        tokens |= {d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%Y%m%d")}
    return names, tokens


def _hits(path: Path, names: set[tuple[str, str]], tokens: set[str]) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    words = WORDS.findall(text.upper())
    found = [" ".join(pair) for pair in names & set(zip(words, words[1:], strict=False))]
    found += sorted(tokens & (set(TOKENS.findall(text)) | set(DATES.findall(text))))
    return found


def test_no_personal_data_on_any_page_but_the_review_page(workdir: Path, runs: dict):
    run_dirs = [Path(runs["first"]), Path(runs["second"])]
    names, tokens = _personal_values(run_dirs)
    assert names and tokens
    # The scanner finds personal data where it is: the court upload file has names, DOBs and CII.
    upload = next((workdir / "outbox").rglob("court_upload.csv"))
    assert _hits(upload, names, tokens)

    scanned = []
    targets = [p for p in dashboard_dir(workdir).rglob("*") if p.is_file()]
    targets += [p for run in run_dirs for p in (run / "report").iterdir()]
    targets += list((workdir / "statewide").iterdir())
    for path in targets:
        if path.name == REVIEW_PAGE or path.parent.name == "assets" or path.suffix in (".png", ".gif", ".ico",
                                                                                       ".otf", ".pdf"):
            continue
        hits = _hits(path, names, tokens)
        assert not hits, f"{path} shows personal data: {hits[:3]}"
        scanned.append(path)
    assert len(scanned) > 20
    # The PDF: its text is compressed; the figures pages carry no names (checked on the HTML twin).


def test_small_cells_are_suppressed_on_every_page(runs: dict):
    report = json.loads(Path(runs["second_summary"]["report_json"]).read_text())

    def numbers(tree):
        if isinstance(tree, dict):
            for k, v in tree.items():
                if k not in ("lineCount",):
                    yield from numbers(v)
        elif isinstance(tree, list):
            for v in tree:
                yield from numbers(v)
        elif isinstance(tree, int) and not isinstance(tree, bool):
            yield tree

    assert all(n == 0 or n >= 11 for n in numbers(report["figures"]))
    assert "<11" in json.dumps(report["figures"])
    quality = json.loads(Path(runs["second_summary"]["quality_json"]).read_text())
    for section in ("reconciliation", "determinations", "changes_from_previous"):
        assert all(n == 0 or n >= 11 for n in numbers(quality[section])), section
    assert all(n == 0 or n >= 11 for n in numbers(quality["linkage"]["people"]))
    what_if = json.loads(Path(runs["second_summary"]["what_if_json"]).read_text())
    assert all(n == 0 or n >= 11 for column in what_if["policies"] for n in numbers(column["figures"]))
    html = Path(runs["second_summary"]["report_html"]).read_text()
    assert "&lt;11" in html


# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def server(workdir: Path):
    from pipelines.reports.serve import make_server

    httpd = make_server(dashboard_dir(workdir), host="127.0.0.1", port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_serve_only_files_under_the_dashboard(workdir: Path, server: int):
    site = dashboard_dir(workdir)
    status, body = _get(server, "/")
    assert status == 200 and b"data quality" in body
    assert _get(server, "/los_angeles/")[0] == 200
    for path in ("/../ledger.sqlite", "/%2e%2e/ledger.sqlite", "/..%2fledger.sqlite", "/los_angeles/../../ledger.sqlite",
                 "/.lock", "/assets/", "/nothing.html", "/%00"):
        assert _get(server, path)[0] == 404, path
    outside = workdir / "secret.txt"
    outside.write_text("not for the dashboard")
    link = site / "escape.txt"
    os.symlink(outside, link)
    try:
        assert _get(server, "/escape.txt")[0] == 404
    finally:
        link.unlink()
    assert _get(server, "/index.html", method="POST")[0] == 405


def test_cli_what_if_and_statewide_report(workdir: Path, runs: dict):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["what-if", "--run-dir", runs["second"], "--policy", "statute", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["policy"] for c in data["policies"]] == ["los_angeles", "statute"]
    result = runner.invoke(app, ["report", "--statewide", "--workdir", str(workdir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counties"] == 1
    result = runner.invoke(app, ["report", "--run-dir", str(workdir / "nowhere")])
    assert result.exit_code == 1 and "not a run folder" in result.output


def test_dashboard_rebuilds_only_the_counties_asked_for(workdir: Path, runs: dict):
    """After one county's run only its pages are rewritten (plus the index, and any county whose
    pages are missing); other counties' pages stand. A statewide refresh relies on this."""
    from pipelines.reports.dashboard import build_dashboard, dashboard_dir

    site = dashboard_dir(workdir)
    build_dashboard(workdir)
    county_page, index = site / "los_angeles" / "index.html", site / "index.html"
    run_pages = sorted((site / "los_angeles").glob("*/index.html"))
    assert run_pages

    def inodes() -> dict[Path, int]:
        return {p: p.stat().st_ino for p in [county_page, index, *run_pages]}

    before = inodes()
    build_dashboard(workdir, counties=["some_other_county"])
    after = inodes()
    assert after[index] != before[index]  # the index is always rewritten
    assert all(after[p] == before[p] for p in [county_page, *run_pages])  # the others stand

    build_dashboard(workdir, counties=["los_angeles"])
    rewritten = inodes()
    assert all(rewritten[p] != after[p] for p in [county_page, *run_pages])

    county_page.unlink()  # a county whose pages are missing is built whatever was asked
    build_dashboard(workdir, counties=[])
    assert county_page.is_file()
