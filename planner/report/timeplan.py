"""The report of a plan over time (planner.mix.overtime): the fleet per period as a stacked
chart, the monthly bill by pricing class, and the saving against single plans sized for the
peak and the mean; HTML (self-contained), Markdown, JSON and CSV, written atomically."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from planner.mix.time_result import TimePlan
from planner.outdir import ReportFiles, write_folder
from planner.output import strict_json
from planner.report.html import STYLE, _figures, _table
from planner.report.markdown import md_table

FILES = {
    "html": "timeplan.html",
    "markdown": "timeplan.md",
    "json": "timeplan.json",
    "fleet": "fleet.csv",
    "pools": "pools.csv",
    "bill": "bill.csv",
    "static": "static_plans.csv",
}


def fleet_figure(tp: TimePlan) -> go.Figure:
    """GPUs per period stacked by GPU type and pricing class, with each model's rate."""
    frame = tp.fleet_frame()
    fig = go.Figure()
    for gpu in frame.gpu.unique() if not frame.empty else []:
        sub = frame[frame.gpu == gpu]
        for kind in ("committed", "on_demand", "spot"):
            if sub[kind].sum() > 0:
                fig.add_bar(x=sub.period, y=sub[kind], name=f"{gpu} {kind.replace('_', '-')}")
    for name, rates in zip(tp.models, tp.rates, strict=True):
        fig.add_scatter(y=list(rates), name=f"{name} req/s", yaxis="y2", mode="lines")
    fig.update_layout(
        barmode="stack",
        title="Fleet per period (GPUs in use by pricing class) and the rate",
        xaxis_title=f"period ({tp.period_hours:g} h)",
        yaxis_title="GPUs",
        yaxis2={"title": "req/s", "overlaying": "y", "side": "right"},
    )
    return fig


def headline(tp: TimePlan) -> list[tuple[str, str]]:
    """Key figures as (label, value) pairs."""
    if not tp.feasible:
        return [("status", tp.proof)]
    rows = [("cost", f"${tp.usd_per_month:,.0f}/month ({tp.proof}, {tp.solver})")]
    rows += [(f"  {k.replace('_', '-')}", f"${v:,.0f}") for k, v in tp.bill.items() if v > 0]
    for s in tp.static:
        saved = tp.saving_pct(s.sized_for)
        if s.feasible and saved is not None:
            extra = f"; {s.note}" if s.note else ""
            what = f"saves {saved:.1f}%" if saved >= 0 else f"costs {-saved:.1f}% more"
            rows.append(
                (
                    f"vs one fleet sized for the {s.sized_for}",
                    f"${s.usd_per_month:,.0f}/month, the curve {what}{extra}",
                )
            )
    return rows


def render_markdown(tp: TimePlan) -> str:
    """The report as Markdown."""
    out = [f"# Plan over time: {tp.name}\n"]
    out += [f"- **{k}**: {v}" for k, v in headline(tp)] + [""]
    out += [
        f"- {i.kind}: {i.message}" + (f" (fix: {i.suggestion})" if i.suggestion else "")
        for i in tp.issues
    ]
    out += ["\n## Monthly bill by pricing class\n", md_table(tp.bill_frame())]
    out += ["\n## Single plans\n", md_table(tp.static_frame())]
    out += ["\n## Fleet per period\n", md_table(tp.fleet_frame())]
    return "\n".join(out) + "\n"


def render_html(tp: TimePlan) -> str:
    """A self-contained HTML page (plotly.js embedded once)."""
    head = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in headline(tp)
    )
    issues = "".join(
        f"<div class='issue'><b>{i.kind}</b>: {html.escape(i.message)}"
        + (f"<div class='fix'>&rarr; {html.escape(i.suggestion)}</div>" if i.suggestion else "")
        + "</div>"
        for i in tp.issues
    )
    body = [f"<h1>Plan over time: {html.escape(tp.name)}</h1>", f"<table>{head}</table>", issues]
    if tp.feasible:
        body += [_figures([fleet_figure(tp)])]
    body += ["<h2>Monthly bill by pricing class</h2>", _table(tp.bill_frame())]
    body += ["<h2>Single plans (one fleet all month)</h2>", _table(tp.static_frame())]
    body += ["<h2>Fleet per period</h2>", _table(tp.fleet_frame())]
    body += ["<h2>Replicas per period</h2>", _table(tp.to_frame())]
    title = html.escape(tp.name)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def write_time_report(tp: TimePlan, out_dir: str | Path) -> ReportFiles:
    """Write every file of :data:`FILES` into ``out_dir`` (whole, through a temporary folder)."""
    texts = {
        "html": render_html(tp),
        "markdown": render_markdown(tp),
        "json": strict_json(tp.to_dict()),
        "fleet": tp.fleet_frame().to_csv(index=False),
        "pools": tp.to_frame().to_csv(index=False),
        "bill": tp.bill_frame().to_csv(index=False),
        "static": pd.DataFrame(tp.static_frame()).to_csv(index=False),
    }
    written = write_folder(
        out_dir, {FILES[k]: t for k, t in texts.items()}, "plan", known=FILES.values()
    )
    files = ReportFiles({k: written[FILES[k]] for k in texts})
    files.note = written.note
    return files
