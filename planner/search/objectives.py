"""Plan metrics, the search objectives, and Pareto frontiers.

Metrics of a plan (one deployable unit: an aggregated replica, or x prefill + y decode
replicas) at its highest rate under the SLO, rate λ (req/s):
- output tokens/s = λ·E[O]; per GPU (AIConfigurator's objective) and per user = 1/TPOT;
- $/hour = GPUs x the catalog's on-demand $/GPU-hour; $/1M output tokens = $/h / (3600 tok/s)·1e6;
- energy per output token (J) = GPUs·TDP·(p_idle + (1 - p_idle)·ρ) / (tok/s), ρ = λ/capacity,
  p_idle = 0.3 of TDP (a linear power model in utilization; an estimate, not a measurement);
- GPUs for a target rate = ceil(target/λ) units x GPUs per unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .screen import IDLE_POWER

#: objective name -> (column, True when larger is better)
OBJECTIVES: dict[str, tuple[str, bool]] = {
    "tokens_per_gpu": ("tokens_per_s_per_gpu", True),
    "rate_per_dollar": ("rate_per_usd_hour", True),
    "usd_per_mtok": ("usd_per_mtok", False),
    "min_gpus": ("gpus_for_target", False),
    "energy": ("energy_j_per_token", False),
}
#: the two frontiers: (x column, x larger better, y column, y larger better)
FRONTIERS = {
    "throughput_vs_interactivity": ("tokens_per_s_per_user", True, "tokens_per_s_per_gpu", True),
    "cost_vs_ttft": ("ttft_s", False, "usd_per_mtok", False),
}


def check_objective(objective: str) -> None:
    """Refuse an unknown objective, listing the closest names."""
    if objective not in OBJECTIVES:
        from perfmodel.errors import unknown

        raise unknown("objective", objective, sorted(OBJECTIVES))


def add_metrics(
    frame: pd.DataFrame, mean_out: float, price, tdp, target_rate: float | None
) -> pd.DataFrame:
    """``frame`` (gpus, rate_rps, capacity_rps, tpot_s, feasible; price / tdp per row) with
    the metric columns of the module docstring added (in place; returned)."""
    rate = frame["rate_rps"].to_numpy(float)
    gpus = frame["gpus"].to_numpy(float)
    tok = rate * mean_out
    ok = frame["feasible"].to_numpy(bool) & (rate > 0)
    usd_h = gpus * np.asarray(price, float)
    rho = np.divide(rate, frame["capacity_rps"].to_numpy(float), where=ok, out=np.zeros_like(rate))
    watts = gpus * np.asarray(tdp, float) * (IDLE_POWER + (1 - IDLE_POWER) * np.minimum(rho, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["output_tokens_per_s"] = tok
        frame["tokens_per_s_per_gpu"] = tok / gpus
        frame["tokens_per_s_per_user"] = np.where(ok, 1 / frame["tpot_s"].to_numpy(float), 0.0)
        frame["usd_per_hour"] = usd_h
        frame["rate_per_usd_hour"] = rate / usd_h
        frame["usd_per_mtok"] = np.where(ok, usd_h / (3600 * tok) * 1e6, np.inf)
        frame["energy_j_per_token"] = np.where(ok, watts / tok, np.inf)
        units = np.ceil(target_rate / rate) if target_rate else np.ones_like(rate)
        frame["gpus_for_target"] = np.where(ok, units * gpus, np.inf)
    return frame


def rank(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Feasible plans best first by ``objective`` (ties: fewer GPUs, then lower $/hour)."""
    col, larger = OBJECTIVES[objective]
    ok = frame[frame["feasible"] & (frame["rate_rps"] > 0)]
    return ok.sort_values(
        [col, "gpus", "usd_per_hour"], ascending=[not larger, True, True], kind="stable"
    )


def pareto_mask(x, y, x_larger: bool = True, y_larger: bool = True) -> np.ndarray:
    """Non-dominated points of (x, y): no other point is at least as good in both and
    better in one. O(n log n): sort by x best first (ties: y best first), keep the points
    whose y beats every y before them."""
    x = np.asarray(x, float) * (1 if x_larger else -1)
    y = np.asarray(y, float) * (1 if y_larger else -1)
    order = np.lexsort((-y, -x))
    best = np.maximum.accumulate(np.concatenate([[-np.inf], y[order][:-1]]))
    keep = np.zeros(x.size, dtype=bool)
    keep[order] = y[order] > best
    return keep


def frontier(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The Pareto set of ``frame``'s feasible plans on frontier ``name`` (FRONTIERS), sorted
    along its x axis."""
    xc, xl, yc, yl = FRONTIERS[name]
    ok = frame[frame["feasible"] & (frame["rate_rps"] > 0)]
    if ok.empty:
        return ok
    mask = pareto_mask(ok[xc].to_numpy(), ok[yc].to_numpy(), xl, yl)
    return ok[mask].sort_values(xc)
