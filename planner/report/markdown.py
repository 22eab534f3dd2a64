"""A Markdown report of a GPU-mix plan (tables only; the charts live in the HTML report)."""

from __future__ import annotations

import math

import pandas as pd

from planner.mix.result import Allocation
from planner.report.tables import (
    baselines_table,
    headline,
    headroom_table,
    pools_table,
    routing_table,
    slices_table,
)


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.4g}"
    return "" if value is None else str(value).replace("|", "\\|")


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    if frame.empty:
        return "(none)\n"
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def render_markdown(
    alloc: Allocation,
    rate_sweep: pd.DataFrame | None = None,
    slo_sweep: pd.DataFrame | None = None,
) -> str:
    """The report as Markdown."""
    out = [f"# GPU-mix plan: {alloc.name}\n"]
    out += [f"- **{k}**: {v}" for k, v in headline(alloc)]
    out.append("")
    if alloc.issues:
        out.append("## Why no plan\n" if not alloc.feasible else "## Warnings\n")
        for i in alloc.issues:
            out.append(
                f"- **{i.kind}**: {i.message}"
                + (f"\n  - fix: {i.suggestion}" if i.suggestion else "")
            )
        out.append("")
    if alloc.feasible:
        out += ["## Allocation\n", md_table(pools_table(alloc))]
    if alloc.baselines:
        out += ["## Single-GPU-type baselines\n", md_table(baselines_table(alloc))]
    if alloc.headroom_costs:
        out += ["## Stated headroom and its cost\n", md_table(headroom_table(alloc))]
    if alloc.slices:
        out += ["## Mélange slice formulation\n", md_table(slices_table(alloc))]
    if alloc.feasible:
        out += ["## Routing table (load-balancer weights)\n", md_table(routing_table(alloc))]
    if rate_sweep is not None:
        out += ["## Cost vs rate ($/h)\n", md_table(rate_sweep)]
    if slo_sweep is not None:
        out += ["## Cost vs SLO ($/h)\n", md_table(slo_sweep)]
    if alloc.exclusions:
        out += ["## Ineligible (bucket, pool) pairs\n", md_table(alloc.exclusions_frame())]
    return "\n".join(out)
