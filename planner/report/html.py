"""A self-contained HTML report of a GPU-mix plan: plotly.js is embedded once (no CDN), so
the file works offline."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from planner.mix.result import Allocation
from planner.report import figures
from planner.report.tables import (
    baselines_table,
    headline,
    headroom_table,
    pools_table,
    routing_table,
    slices_table,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.issue { background: #fff3f3; border-left: 4px solid #c0392b; padding: 0.5rem 1rem; }
.fix { color: #1e6f5c; } .muted { color: #777; }
"""


def _table(frame: pd.DataFrame) -> str:
    """A DataFrame as an HTML table (numbers to 4 significant digits, blanks for NaN)."""
    if frame.empty:
        return "<p class='muted'>(none)</p>"
    return frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.4g}", border=0)


def _figures(figs: list[go.Figure]) -> str:
    """Figures as HTML divs; the first embeds plotly.js inline."""
    parts = []
    for k, fig in enumerate(figs):
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs=(k == 0), config={"displaylogo": False})
        )
    return "\n".join(parts)


def _issues(alloc: Allocation) -> str:
    """Why the plan is infeasible and what would fix it."""
    items = []
    for i in alloc.issues:
        fix = f"<div class='fix'>&rarr; {html.escape(i.suggestion)}</div>" if i.suggestion else ""
        items.append(f"<div class='issue'><b>{i.kind}</b>: {html.escape(i.message)}{fix}</div>")
    return "\n".join(items)


def render_html(
    alloc: Allocation,
    rate_sweep: pd.DataFrame | None = None,
    slo_sweep: pd.DataFrame | None = None,
) -> str:
    """The whole report as one HTML document."""
    body = [f"<h1>GPU-mix plan: {html.escape(alloc.name)}</h1>"]
    head = pd.DataFrame(headline(alloc), columns=["", "value"])
    body.append(_table(head))
    figs: list[go.Figure] = []
    if alloc.feasible:
        if alloc.issues:
            body.append("<h2>Warnings</h2>" + _issues(alloc))
        body.append("<h2>Allocation</h2>" + _table(pools_table(alloc)))
        figs = [
            figures.cost_breakdown(alloc),
            figures.allocation(alloc),
            figures.utilization(alloc),
        ]
        if alloc.baselines:
            figs.append(figures.savings(alloc))
        if alloc.routes:
            figs.append(figures.routing(alloc))
    else:
        body.append("<h2>Why no plan</h2>" + _issues(alloc))
    if rate_sweep is not None and not rate_sweep.empty:
        figs.append(figures.cost_vs_rate(rate_sweep))
    if slo_sweep is not None and not slo_sweep.empty:
        figs.append(figures.cost_vs_slo(slo_sweep))
    if figs:
        body.append("<h2>Charts</h2>" + _figures(figs))
    if alloc.baselines:
        body.append("<h2>Single-GPU-type baselines</h2>" + _table(baselines_table(alloc)))
    if alloc.headroom_costs:
        body.append("<h2>Stated headroom and its cost</h2>" + _table(headroom_table(alloc)))
    if alloc.slices:
        body.append("<h2>Mélange slice formulation</h2>" + _table(slices_table(alloc)))
    if alloc.feasible:
        body.append("<h2>Routing table (load-balancer weights)</h2>" + _table(routing_table(alloc)))
    if rate_sweep is not None:
        body.append("<h2>Cost vs rate</h2>" + _table(rate_sweep))
    if slo_sweep is not None:
        body.append("<h2>Cost vs SLO</h2>" + _table(slo_sweep))
    if alloc.exclusions:
        body.append("<h2>Ineligible (bucket, pool) pairs</h2>" + _table(alloc.exclusions_frame()))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>capplan plan: {html.escape(alloc.name)}</title><style>{STYLE}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
