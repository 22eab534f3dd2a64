"""Latency versus offered rate for one replica (the serving model's rate sweep)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.serving import analyze


def rate_sweep(engine, prepared, points: int = 20, top: float = 0.98, slo=None) -> pd.DataFrame:
    """Analytic TTFT / TPOT / E2E percentiles at ``points`` rates up to ``top`` x capacity."""
    cap = analyze(engine, prepared, 1e-9).capacity
    rows = []
    for rate in np.linspace(cap * top / points, cap * top, points):
        r = analyze(engine, prepared, float(rate), slo)
        rows.append(
            {
                "rate": rate,
                "utilization": r.utilization,
                **{
                    f"{m}_{s}": getattr(r, m).get(s)
                    for m in ("ttft", "tpot", "e2e")
                    for s in ("mean", "p50", "p90", "p99")
                },
                "goodput": r.goodput,
            }
        )
    return pd.DataFrame(rows)


def sweep_figure(frame: pd.DataFrame, title: str):
    """Plotly figure: TTFT and TPOT percentiles (ms) against the offered rate."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("TTFT (ms)", "TPOT (ms)"))
    for col, metric in ((1, "ttft"), (2, "tpot")):
        for stat in ("p50", "p90", "p99"):
            fig.add_scatter(
                x=frame.rate,
                y=frame[f"{metric}_{stat}"] * 1e3,
                name=f"{metric} {stat}",
                mode="lines+markers",
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="offered rate (req/s)")
    fig.update_layout(title=title, template="plotly_white")
    return fig
