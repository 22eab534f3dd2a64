"""Plotly figures of a GPU-mix plan: cost breakdown, allocation, utilization, routing, savings
against single-type plans, and the cost-versus-rate and cost-versus-SLO curves."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from planner.mix.result import Allocation

LAYOUT = {"template": "plotly_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}


def cost_breakdown(alloc: Allocation) -> go.Figure:
    """$/h per pool, stacked by model."""
    frame = alloc.to_frame()
    fig = go.Figure()
    for model, sub in frame.groupby("model", sort=False):
        fig.add_bar(
            name=str(model),
            x=sub.pool,
            y=sub.usd_per_hour,
            text=[f"${v:,.2f}" for v in sub.usd_per_hour],
        )
    fig.update_layout(
        title=f"Cost breakdown (total ${alloc.usd_per_hour:,.2f}/h)",
        barmode="stack",
        yaxis_title="$/h",
        **LAYOUT,
    )
    return fig


def allocation(alloc: Allocation) -> go.Figure:
    """Replicas and GPUs per pool."""
    frame = alloc.to_frame()
    fig = go.Figure()
    fig.add_bar(name="replicas", x=frame.model + " · " + frame.pool, y=frame.replicas)
    fig.add_bar(name="GPUs", x=frame.model + " · " + frame.pool, y=frame.gpus)
    fig.update_layout(title="Allocation", barmode="group", yaxis_title="count", **LAYOUT)
    return fig


def utilization(alloc: Allocation) -> go.Figure:
    """Per-pool utilization (load / replicas)."""
    frame = alloc.to_frame()
    fig = go.Figure(
        go.Bar(
            x=frame.model + " · " + frame.pool,
            y=100 * frame.utilization,
            text=[f"{100 * u:.1f}%" for u in frame.utilization],
        )
    )
    fig.update_layout(
        title="Utilization per pool", yaxis_title="% of capacity", yaxis_range=[0, 105], **LAYOUT
    )
    return fig


def savings(alloc: Allocation) -> go.Figure:
    """Mix cost against each feasible single-type plan."""
    base = alloc.baselines_frame()
    base = base[base.feasible]
    names = ["mix", *base.gpu]
    costs = [alloc.usd_per_hour, *base.usd_per_hour]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=costs,
            text=[f"${c:,.2f}" for c in costs],
            marker_color=["#2a9d8f"] + ["#8d99ae"] * len(base),
        )
    )
    fig.update_layout(title="Mix against single-GPU-type plans", yaxis_title="$/h", **LAYOUT)
    return fig


def routing(alloc: Allocation) -> go.Figure:
    """Bucket x pool routing weights (first model)."""
    mat = alloc.routing_matrix()
    fig = go.Figure(
        go.Heatmap(
            z=mat.to_numpy(),
            x=list(mat.columns),
            y=list(mat.index),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "share"},
        )
    )
    model = alloc.routing.model.iloc[0] if len(alloc.routes) else ""
    fig.update_layout(title=f"Routing weights ({model})", **LAYOUT)
    return fig


def _cost_lines(frame: pd.DataFrame, x: str, title: str, xaxis: str) -> go.Figure:
    """Mix and single-type $/h against ``x``."""
    fig = go.Figure()
    fig.add_scatter(
        x=frame[x], y=frame.mix_usd_per_hour, name="mix", mode="lines+markers", line={"width": 3}
    )
    for col in frame.columns:
        if col.endswith("_usd_per_hour") and col not in (
            "mix_usd_per_hour",
            "best_single_usd_per_hour",
        ):
            fig.add_scatter(
                x=frame[x],
                y=frame[col],
                name=col.removesuffix("_usd_per_hour"),
                mode="lines+markers",
                line={"dash": "dot"},
            )
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title="$/h", **LAYOUT)
    return fig


def cost_vs_rate(frame: pd.DataFrame) -> go.Figure:
    """Cheapest mix and each single type against the total request rate."""
    return _cost_lines(frame, "rate_rps", "Cost vs request rate", "total rate (req/s)")


def cost_vs_slo(frame: pd.DataFrame) -> go.Figure:
    """Cheapest mix and each single type against the SLO multiplier (> 1 looser)."""
    fig = _cost_lines(frame, "slo_scale", "Cost vs SLO", "SLO multiplier (x plan's targets)")
    fig.update_xaxes(type="log")
    return fig
