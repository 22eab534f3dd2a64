"""Pools a cheaper plan cannot use, proven from the LP bound's reduced costs.

Relax the load rows Σ_b y_bp / κ_bp ≤ n_mp of model m with multipliers π_p ≥ 0. For routed
shares x_bp = y_bp / λ_b and loads a_bp = λ_b / κ_bp, every feasible plan (n, x) then costs

    Σ_p c_p n_mp ≥ Σ_b min_p π_p a_bp + Σ_p (c_p − π_p) n_mp                      (1)

because π_p (Σ_b a_bp x_bp − n_mp) ≤ 0 and each bucket's shares sum to one. With π_p = c_p on
the pools that are the cheapest per load for some bucket, and on every other pool the lowest
π_p that keeps each bucket's minimum, π_p = max_b m_b / a_bp with m_b = min_q c_q a_bq, the
first sum is the LP bound L = Σ_b m_b and the reduced cost r_p = c_p − π_p ≥ 0 is how much
cheaper pool p would have to be to become the best pool of some bucket:

    r_p = c_p − max_b min_q c_q κ_bp / κ_bq                                       (2)

(independent of the rates). By (1) a plan with n_mp ≥ 1 costs at least L + r_mp, so a plan
cheaper than a known one of cost U uses only pools with r_mp < U − L. Floors, caps, cover
rows, N+1 spares and type limits only remove plans, so (1) holds for the whole model.

:class:`~planner.mix.solve.MixSolver` solves the MILP on the *core*, the pools with
r_mp ≤ τ, and is done when every pool left out has L + r_mp at or above the core's proven bound
(the 1,000-bucket x 10-GPU benchmark instance: 4 of 10 pools, its MILP in half the time).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.mix.capacity import CapacityMatrix
from planner.mix.problem import Problem


def reduced_costs(problem: Problem, rate_scale: float = 1.0) -> tuple[float, np.ndarray]:
    """(L, r): the LP bound of (1) at every rate x ``rate_scale`` ($/h) and the reduced cost
    (2) of every (model, pool), (M, P); ``inf`` where the pool serves none of the model's
    buckets with traffic."""
    price = np.array([pool.usd_per_hour for pool in problem.pools])
    bound, reduced = 0.0, np.full((len(problem.demands), len(price)), np.inf)
    for m, d in enumerate(problem.demands):
        rates = d.bucket_rates * rate_scale
        ok = (d.capacity.rate > 0) & (rates > 0)[:, None]
        served = ok.any(axis=1)
        if not served.any():
            continue
        load = np.where(ok, rates[:, None] / np.where(ok, d.capacity.rate, 1.0), np.inf)
        best = (price * load).min(axis=1)
        bound += float(best[served].sum())
        ratio = np.where(ok, best[:, None] / np.where(ok, load, 1.0), -np.inf)
        top = ratio.max(axis=0)
        reduced[m] = np.where(np.isfinite(top), np.maximum(price - top, 0.0), np.inf)
    return bound, reduced


def core_problem(problem: Problem, keep: np.ndarray) -> Problem:
    """``problem`` with the (model, pool) pairs outside ``keep`` (M, P) unable to serve."""
    demands = tuple(
        replace(d, capacity=CapacityMatrix(np.where(keep[m][None, :], d.capacity.rate, 0.0), {}))
        for m, d in enumerate(problem.demands)
    )
    return replace(problem, demands=demands)
