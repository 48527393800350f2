"""Impact reports and the data-quality dashboard (issue 9). See docs/reports.md.

    from pipelines.reports import write_reports, write_statewide_report
    summary = write_reports(run_dir, workdir=workdir)   # the flow's "report" stage
    summary = write_statewide_report(workdir)            # statewide, after the counties

Pure figure functions: `impact_figures` (impact.py), `what_if` (whatif.py), `run_quality`
(quality.py), `suppress` (suppression.py). Pages: dashboard.py, impact_report.py. Server: serve.py.
"""

from pipelines.reports.dashboard import build_dashboard, dashboard_dir
from pipelines.reports.impact import county_facts, impact_figures, total_figures
from pipelines.reports.quality import published_quality, run_quality
from pipelines.reports.suppression import SUPPRESSED, THRESHOLD, suppress
from pipelines.reports.whatif import compared_rows, what_if
from pipelines.reports.write import published_report, run_what_if, write_reports, write_statewide_report

__all__ = [
    "SUPPRESSED", "THRESHOLD", "build_dashboard", "compared_rows", "county_facts", "dashboard_dir",
    "impact_figures", "published_quality", "published_report", "run_quality", "run_what_if", "suppress",
    "total_figures", "what_if", "write_reports", "write_statewide_report",
]
