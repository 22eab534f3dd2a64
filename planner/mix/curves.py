"""Rate curves of a plan over time (one rate per period, or a trace of arrivals counted per
period) and the GPU prices per pricing class that planner.mix.overtime buys with."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.cells import numeric_cells
from planner.mix.errors import PlanSpecError
from planner.mix.spec import PlanSpec

CLASSES = ("committed", "on_demand", "spot")


@dataclass(frozen=True)
class Curves:
    """Rates (M, T) req/s of each model in each period, and the period length."""

    rates: np.ndarray
    period_hours: float

    @property
    def periods(self) -> int:
        return self.rates.shape[1]


def curves(spec: PlanSpec) -> Curves:
    """The models' rate curves (traces counted per period); all of one length."""
    rows = []
    hours = 1.0
    for m in spec.models:
        c = m.rate_curve
        if c is None:
            raise PlanSpecError(f"model {m.name!r}: no rate_curve (give every model one)")
        hours = c.period_hours
        rows.append(np.asarray(c.rates_rps if c.trace is None else _trace_rates(spec, c), float))
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise PlanSpecError(
            f"rate curves have {sorted(lengths)} periods; give every model the same number"
        )
    return Curves(np.vstack(rows), hours)


def _trace_rates(spec: PlanSpec, curve) -> list[float]:
    """Arrivals of a trace counted per period (from the first arrival), as req/s."""
    path = spec.path(curve.trace)
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PlanSpecError(
            f"{path}: cannot read the rate-curve trace (a UTF-8 CSV): {exc}"
        ) from None
    if "arrival_s" not in frame or len(frame) < 2:
        raise PlanSpecError(f"{path}: a rate-curve trace needs an arrival_s column and 2+ rows")
    arrival = numeric_cells(
        frame["arrival_s"],
        "arrival_s",
        str(path),
        error=PlanSpecError,
        minimum=0,
        fix="use seconds >= 0",
    )
    seconds = curve.period_hours * 3600.0
    t = np.asarray(arrival, float) - float(np.min(arrival))
    periods = max(2, math.ceil((t.max() + 1e-9) / seconds))
    counts = np.bincount(np.minimum((t // seconds).astype(int), periods - 1), minlength=periods)
    return list(counts / seconds)


def at_rates(spec: PlanSpec, rates: np.ndarray) -> PlanSpec:
    """``spec`` as a one-rate plan with model m at ``rates[m]`` req/s (curves dropped)."""
    models = [
        m.model_copy(update={"rate_rps": float(max(r, 1e-12)), "rate_curve": None})
        for m, r in zip(spec.models, rates, strict=True)
    ]
    return spec.model_copy(update={"models": models})


@dataclass(frozen=True)
class Prices:
    """$/GPU-hour of each GPU type per class (spot None: not bought), limits per type."""

    on_demand: dict[str, float]
    committed: dict[str, float]
    spot: dict[str, float | None]
    spot_cap: dict[str, int]
    scale_up: dict[str, int | None]


def prices(spec: PlanSpec) -> Prices:
    """Class prices from the plan file, else the catalog; committed falls back to on-demand."""
    od, res, spot, cap, up = {}, {}, {}, {}, {}
    for g in spec.gpus:
        od[g.name] = g.price("on_demand")
        reserved = g.class_price("reserved") if spec.schedule.committed else None
        res[g.name] = od[g.name] if reserved is None else reserved
        spot[g.name] = g.class_price("spot") if g.max_spot_gpus else None
        cap[g.name] = g.max_spot_gpus or 0
        up[g.name] = g.max_scale_up_gpus
    return Prices(od, res, spot, cap, up)
