"""Serving-level validation: capplan's prediction of every row of a results file against the
measured value, under the rows' engine profiles (as shipped, or given)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hardware_specs.engines import EngineProfile, get_engine

from .fit import points, residual_table
from .records import Measurement

THROUGHPUT = ("output_tok_s", "total_tok_s", "request_s", "max_rate_rps")


def metric_class(metric: str) -> str:
    """'throughput' (rates, max rate) or 'latency' (everything in seconds)."""
    return "throughput" if metric in THROUGHPUT else "latency"


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per metric class: points, median |pred/meas - 1|, share predicted above the
    measurement (optimistic for throughput, pessimistic for latency), 10th/90th percentile of
    the ratio."""
    t = table.assign(cls=table.metric.map(metric_class), err=(table.ratio - 1).abs())
    rows = []
    for cls, g in t.groupby("cls"):
        r = g.ratio.replace(np.inf, np.nan).dropna()
        rows.append(
            {
                "class": cls,
                "points": len(g),
                "median_abs_error": float(g.err.median()),
                "share_above": float((g.ratio > 1).mean()),
                "ratio_p10": float(r.quantile(0.1)) if len(r) else math.nan,
                "ratio_p90": float(r.quantile(0.9)) if len(r) else math.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ServingValidation:
    """Predicted vs measured per row, the summary, and the rows capplan could not model."""

    table: pd.DataFrame
    summary: pd.DataFrame
    skipped: dict[int, str]

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {
            "points": self.table.to_dict(orient="records"),
            "summary": self.summary.to_dict(orient="records"),
            "skipped": {str(k): v for k, v in self.skipped.items()},
        }

    def to_markdown(self) -> str:
        cols = ["source", "engine", "model", "hardware", "tp", "load", "load_value", "metric",
                "measured", "predicted", "ratio"]  # fmt: skip
        return "\n\n".join(
            [
                self.summary.to_markdown(index=False, floatfmt=".3g"),
                self.table[cols].to_markdown(index=False, floatfmt=".4g"),
            ]
        )

    def write_html(self, path) -> None:
        """A plotly scatter of predicted against measured (log axes, y = x dashed)."""
        import plotly.express as px

        t = self.table.assign(cls=self.table.metric.map(metric_class))
        t = t[np.isfinite(t.predicted)]
        fig = px.scatter(t, x="measured", y="predicted", color="engine", symbol="cls",
                         facet_col="cls", log_x=True, log_y=True,
                         hover_data=["source", "model", "hardware", "load", "load_value",
                                     "metric"])  # fmt: skip
        fig.update_xaxes(matches=None)
        fig.update_yaxes(matches=None)
        for i, (_, g) in enumerate(t.groupby("cls"), start=1):
            lo, hi = (
                g[["measured", "predicted"]].min().min(),
                g[["measured", "predicted"]].max().max(),
            )
            fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line={"dash": "dash"},
                          row=1, col=i)  # fmt: skip
        fig.update_layout(title="capplan serving predictions against measurements")
        fig.write_html(path, include_plotlyjs=True)


def validate_serving(
    rows: list[Measurement], engines: dict[str, EngineProfile] | None = None
) -> ServingValidation:
    """Predict every row under its (given or shipped) engine profile."""
    pts, skipped = points(rows, engines)
    if not pts:
        raise ValueError(
            "no row can be modelled: " + "; ".join(sorted(set(skipped.values())))[:300]
        )
    profs = {p.profile: (engines or {}).get(p.profile) or get_engine(p.profile) for p in pts}
    table = residual_table(pts, profs, {})
    return ServingValidation(table, summarize(table), skipped)
