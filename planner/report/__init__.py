"""Reports of GPU-mix plans: a self-contained HTML file (plotly, offline), Markdown, JSON and
CSV, and the console summary.

>>> from planner.report import write_report          # doctest: +SKIP
>>> write_report(alloc, "out/", rate_sweep, slo_sweep)  # doctest: +SKIP
"""

from planner.report.console import print_summary
from planner.report.html import render_html
from planner.report.markdown import md_table, render_markdown
from planner.report.write import write_report

__all__ = ["md_table", "print_summary", "render_html", "render_markdown", "write_report"]
