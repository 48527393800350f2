"""The impact report as files: JSON, HTML (charts drawn in, no script) and a printable PDF (fpdf2).

All three are written from the same published figures (small cells already suppressed), so
they always agree. Nothing here reads personal data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pipelines.reports import charts
from pipelines.reports.html import (
    cards,
    dict_table,
    esc,
    grid_table,
    page,
    static_chart,
    suppression_note,
    table,
)
from pipelines.reports.suppression import SUPPRESSED, THRESHOLD

DETERMINATION_COLUMNS = ("Eligible for Dismissal", "Eligible for Reduction", "Not eligible",
                         "Maybe Eligible - Flag for Review", "Hand Review", "To be reviewed by City Attorneys")
LEFT_WITH = (("no_felony", "No felony"), ("no_conviction", "No conviction"),
             ("no_conviction_last_7_years", "No conviction in the last 7 years"))
DEMOGRAPHIC_COLUMNS = ("people_with_conviction", "people_helped")
DEMOGRAPHIC_NAMES = {"people_with_conviction": "People with a cannabis conviction", "people_helped": "People helped"}
COURT_ONLY_COLUMNS = ("convictions", "eligible", "eligible_pending_state_record_check")
COURT_ONLY_NAMES = {"convictions": "Convictions", "eligible": "Eligible",
                    "eligible_pending_state_record_check": "Eligible once the state record is checked"}
FILES = {"json": "impact.json", "html": "impact.html", "pdf": "impact.pdf"}


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write a file whole or not at all (temp file + rename), owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.chmod(tmp, 0o660)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
def _left_with(figures: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    people = figures["people"]
    return {
        label: {"Current policy": people["left_with_current_policy"][key],
                "Dismiss everything": people["left_with_dismiss_everything"][key]}
        for key, label in LEFT_WITH
    }


def _nonzero_rows(grid: Mapping[str, Mapping[str, Any]], column: str) -> dict[str, Mapping[str, Any]]:
    return {k: v for k, v in grid.items() if v.get(column) != 0}


def chart_specs(figures: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's charts as Vega-Lite specs, by name (from published figures)."""
    demo = figures["demographics"]
    court = _nonzero_rows(figures["court_only"]["by_section_and_level"], "convictions")
    specs = {
        "left_with": charts.bars(
            charts.rows_from_table(_left_with(figures), ["Current policy", "Dismiss everything"]),
            title="People left with ...", value_title="people"),
        "by_determination": charts.bars(
            charts.rows_from(figures["convictions"]["by_determination"]),
            title="Cannabis convictions by determination", value_title="convictions"),
        "race": charts.bars(
            charts.rows_from_table(demo["by_race"], DEMOGRAPHIC_COLUMNS, DEMOGRAPHIC_NAMES),
            title="People by race", value_title="people"),
        "age_band": charts.bars(
            charts.rows_from_table(demo["by_age_band"], DEMOGRAPHIC_COLUMNS, DEMOGRAPHIC_NAMES),
            title="People by age at compute-at", value_title="people"),
        "gender": charts.bars(
            charts.rows_from_table(demo["by_gender"], DEMOGRAPHIC_COLUMNS, DEMOGRAPHIC_NAMES),
            title="People by gender", value_title="people"),
    }
    if court:
        specs["court_only"] = charts.bars(
            charts.rows_from_table(court, ["convictions", "eligible"], COURT_ONLY_NAMES),
            title="Convictions only the court's records show (DOJ missed them)", value_title="convictions")
    return specs


def _incumbent_rows(summary: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in summary.items():
        if isinstance(v, dict):
            rows += _incumbent_rows(v, f"{prefix}{k}.") if v else [(f"{prefix}{k}", "(none)")]
        else:
            rows.append((f"{prefix}{k}", v))
    return rows


def _headline_cards(figures: Mapping[str, Any]) -> list[tuple[str, Any]]:
    people, conv, court = figures["people"], figures["convictions"], figures["court_only"]
    items = [
        ("People with a cannabis conviction", people["with_cannabis_conviction"]),
        ("People with some relief", people["with_some_relief"]),
        ("Convictions decided", conv["decided"]),
        ("Eligible for dismissal", conv["by_determination"].get("Eligible for Dismissal")),
        ("Eligible for reduction", conv["by_determination"].get("Eligible for Reduction")),
    ]
    if court.get("available"):
        items.append(("Eligible convictions DOJ missed (court records only)", court["eligible"]))
    return items


def subtitle(meta: Mapping[str, Any]) -> str:
    parts = []
    if meta.get("scope") == "statewide":
        parts.append(f"{meta.get('county_count', 0)} counties")
    if meta.get("run_id"):
        parts.append(f"run {meta['run_id']}")
    parts.append(f"as of {meta.get('compute_at')}")
    if meta.get("policy"):
        parts.append(f"policy {meta['policy']} {meta.get('policy_version') or ''}".strip())
    return " \u00b7 ".join(parts)


def render_html(report: Mapping[str, Any], *, nav: list[tuple[str, str]] | None = None) -> str:
    """The impact report page (charts drawn in as SVG: it opens with no script and no network)."""
    meta, figures = report["meta"], report["figures"]
    specs = chart_specs(figures)
    svg = {name: static_chart(charts.to_svg(spec)) for name, spec in specs.items()}
    people, conv, court, demo = figures["people"], figures["convictions"], figures["court_only"], figures["demographics"]
    parts = [cards(_headline_cards(figures)), suppression_note()]
    if meta.get("scope") == "statewide" and report.get("counties"):
        parts += ["<h2>Counties</h2>", table(
            ["County", "Run", "As of", "Policy", "People with some relief", "Convictions eligible for dismissal",
             "Court-only convictions eligible"],
            [[c["display_name"], c["run_id"], c["compute_at"], c["policy"], c["people_helped"], c["dismissals"],
              c["court_only_eligible"]] for c in report["counties"]], numeric=[4, 5, 6])]
    parts += [
        "<h2>People left with no felony, no conviction, no recent conviction</h2>",
        '<p class="note">People whose every felony (or every conviction, or every conviction in the 7 years '
        f"before {esc(meta.get('compute_at'))}) is dismissed or reduced under the current policy, and what "
        '"dismiss every cannabis conviction" would do.</p>',
        grid_table(_left_with(figures), key="People left with", columns=["Current policy", "Dismiss everything"]),
        '<div class="charts">' + svg["left_with"] + "</div>",
        "<h2>Convictions</h2>",
        '<div class="charts">' + svg["by_determination"] + "</div>",
        "<h3>By section and determination</h3>",
        grid_table(conv["by_section"], key="HS section", columns=DETERMINATION_COLUMNS),
        "<h3>By level as convicted</h3>", dict_table(conv["by_level"], key="Level", value="Convictions"),
        "<h3>People by their best outcome</h3>", dict_table(people["by_relief"], key="Outcome", value="People"),
        "<h2>Convictions only the court's records show</h2>",
    ]
    if court.get("available"):
        parts += [
            '<p class="note">Cannabis convictions found in the court\'s case-management records that the DOJ '
            "research file did not have. For people DOJ has no record of at all, an eligible outcome is held for a "
            "check of the state record first (counted as \u201celigible once the state record is checked\u201d).</p>",
            cards([("Convictions", court["convictions"]), ("Eligible", court["eligible"]),
                   ("Eligible once the state record is checked", court["eligible_pending_state_record_check"]),
                   ("People", court["people"]), ("People eligible", court["people_eligible"])]),
            grid_table(_nonzero_rows(court["by_section_and_level"], "convictions") or court["by_section_and_level"],
                       key="Section and level", columns=COURT_ONLY_COLUMNS, names=COURT_ONLY_NAMES),
            '<div class="charts">' + svg.get("court_only", "") + "</div>",
        ]
    else:
        parts.append('<p class="note">This run read the DOJ file only: no court records to compare.</p>')
    parts += [
        "<h2>People helped, by race, gender and age</h2>",
        '<p class="note">People with a cannabis conviction decided in this report, and those with at least one '
        "conviction eligible for dismissal or reduction. Age is at the compute-at date.</p>",
        grid_table(demo["by_race"], key="Race", columns=DEMOGRAPHIC_COLUMNS, names=DEMOGRAPHIC_NAMES),
        grid_table(demo["by_gender"], key="Gender", columns=DEMOGRAPHIC_COLUMNS, names=DEMOGRAPHIC_NAMES),
        grid_table(demo["by_age_band"], key="Age", columns=DEMOGRAPHIC_COLUMNS, names=DEMOGRAPHIC_NAMES),
        '<div class="charts">' + svg["race"] + svg["age_band"] + svg["gender"] + "</div>",
        "<h2>The incumbent tool's summary figures</h2>",
        '<p class="note">The figures Clear My Record\'s summary JSON reports, key for key (the "last 7 years" '
        "figures as of compute-at).</p>",
        table(["Figure", "Value"], _incumbent_rows(figures["incumbent_summary"]), numeric=[1]),
    ]
    return page(meta["title"], "\n".join(parts), subtitle=subtitle(meta), nav=nav or [])


# ---------------------------------------------------------------------------------------------
def _latin1(text: Any) -> str:
    """Core PDF fonts are Latin-1: replace what they cannot draw."""
    s = str(text).replace("\u2014", "-").replace("\u2013", "-").replace("\u00b7", "-")
    s = s.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    return s.encode("latin-1", "replace").decode("latin-1")


def _pdf_cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return _latin1("-" if v is None else v)


def render_pdf(report: Mapping[str, Any]) -> bytes:
    """The impact report as a printable PDF (US Letter), the same figures as the HTML."""
    from fpdf import FPDF  # noqa: PLC0415
    from fpdf.fonts import FontFace  # noqa: PLC0415

    meta, figures = report["meta"], report["figures"]
    specs = chart_specs(figures)
    pdf = FPDF(orientation="portrait", unit="mm", format="letter")
    # Same figures, same bytes: the creation date is the compute-at date, not the clock.
    pdf.set_creation_date(datetime.combine(date.fromisoformat(str(meta["compute_at"])), time()).astimezone())
    pdf.set_title(_latin1(meta["title"]))
    pdf.set_author("autoclear")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    heading = FontFace(emphasis="BOLD", fill_color=(230, 235, 240))

    def h1(text: str) -> None:
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def h2(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def note(text: str) -> None:
        pdf.set_font("Helvetica", "I", 8)
        pdf.multi_cell(0, 4, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def grid(headers: list[str], rows: list[list[Any]], widths: tuple[int, ...] | None = None) -> None:
        pdf.set_font("Helvetica", "", 8)
        aligns = ["LEFT", *["RIGHT"] * (len(headers) - 1)]
        with pdf.table(col_widths=widths, text_align=aligns, headings_style=heading, line_height=4.5,
                       first_row_as_headings=True) as t:
            t.row([_latin1(h) for h in headers])
            for r in rows:
                t.row([_pdf_cell(v) for v in r])
        pdf.ln(2)

    def chart(name: str) -> None:
        if name in specs:
            png = charts.to_png(specs[name], scale=2)
            import io  # noqa: PLC0415

            pdf.image(io.BytesIO(png), w=150)
            pdf.ln(2)

    h1(meta["title"])
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(subtitle(meta)), new_x="LMARGIN", new_y="NEXT")
    note(f'Figures about fewer than {THRESHOLD} people are shown as "{SUPPRESSED}" (and one more where a hidden '
         "figure could be worked out from a total). No names, dates of birth or identifiers appear in this report.")
    h2("Key figures")
    grid(["Figure", "Value"], [[k, v] for k, v in _headline_cards(figures)], (120, 40))
    if meta.get("scope") == "statewide" and report.get("counties"):
        h2("Counties")
        grid(["County", "As of", "People with relief", "Dismissals", "Court-only eligible"],
             [[c["display_name"], c["compute_at"], c["people_helped"], c["dismissals"], c["court_only_eligible"]]
              for c in report["counties"]], (60, 30, 30, 30, 30))
    h2("People left with no felony, no conviction, no recent conviction")
    grid(["People left with", "Current policy", "Dismiss everything"],
         [[k, v["Current policy"], v["Dismiss everything"]] for k, v in _left_with(figures).items()], (90, 45, 45))
    chart("left_with")
    conv = figures["convictions"]
    h2("Convictions by determination")
    grid(["Determination", "Convictions"], [[k, v] for k, v in conv["by_determination"].items()], (120, 40))
    h2("Convictions by section and determination")
    grid(["Section", "Dismissal", "Reduction", "Not eligible", "Flagged", "Hand review", "City attorneys"],
         [[s, *[row.get(c) for c in DETERMINATION_COLUMNS]] for s, row in conv["by_section"].items()],
         (25, 25, 25, 25, 25, 25, 30))
    h2("Convictions by level as convicted")
    grid(["Level as convicted", "Convictions"], [[k, v] for k, v in conv["by_level"].items()], (120, 40))
    court = figures["court_only"]
    h2("Convictions only the court's records show (DOJ missed them)")
    if court.get("available"):
        grid(["Figure", "Value"], [["Convictions", court["convictions"]], ["Eligible", court["eligible"]],
                                   ["Eligible once the state record is checked",
                                    court["eligible_pending_state_record_check"]],
                                   ["People", court["people"]], ["People eligible", court["people_eligible"]]], (120, 40))
        rows = _nonzero_rows(court["by_section_and_level"], "convictions") or court["by_section_and_level"]
        grid(["Section and level", "Convictions", "Eligible", "Pending state record check"],
             [[k, *[v.get(c) for c in COURT_ONLY_COLUMNS]] for k, v in rows.items()], (60, 35, 35, 50))
        chart("court_only")
    else:
        note("This run read the DOJ file only: no court records to compare.")
    demo = figures["demographics"]
    for key, label, name in (("by_race", "Race", "race"), ("by_gender", "Gender", "gender"),
                             ("by_age_band", "Age at compute-at", "age_band")):
        h2(f"People helped by {label.lower()}")
        grid([label, "With a cannabis conviction", "Helped"],
             [[k, v["people_with_conviction"], v["people_helped"]] for k, v in demo[key].items()], (80, 50, 50))
        chart(name)
    h2("The incumbent tool's summary figures")
    grid(["Figure", "Value"], [[k, v] for k, v in _incumbent_rows(figures["incumbent_summary"])], (130, 50))
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------------------
def write_impact_report(report: Mapping[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write impact.json, impact.html and impact.pdf into `out_dir`; returns their paths.

    `report` is {"meta": ..., "figures": published figures, ...} (see `published_report`).
    """
    out = Path(out_dir)
    return {
        "json": write_atomic(out / FILES["json"], json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
        "html": write_atomic(out / FILES["html"], render_html(report)),
        "pdf": write_atomic(out / FILES["pdf"], render_pdf(report)),
    }
