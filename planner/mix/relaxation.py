"""The LP relaxation of the GPU-mix MILP in matrix form (scipy's HiGHS), vectorized.

Same rows as :mod:`planner.mix.formulation` with n_mp ≥ 0 and z_g ∈ [0, 1] continuous. Its
optimum is a lower bound on every plan's cost; its routing shows which (bucket, pool) columns
matter. Built with numpy and scipy.sparse, so a 10^5-column instance takes a fraction of a
second (no Python object per variable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from planner.mix.problem import Problem


@dataclass(frozen=True)
class Relaxation:
    """Lower bound ($/h) and the relaxation's routed rates per model (B, P), or infeasible."""

    feasible: bool
    bound: float
    flows: tuple[np.ndarray, ...] = ()


def lp_relaxation(problem: Problem, rate_scale: float = 1.0) -> Relaxation:
    """Solve the relaxation at every rate x ``rate_scale``."""
    P = len(problem.pools)
    price = np.array([p.usd_per_hour for p in problem.pools])
    gpus = np.array([p.gpus for p in problem.pools], dtype=float)
    cols_b, cols_p, cols_m, weights = [], [], [], []
    eq_rows, eq_rhs = [], []
    offset = 0
    for m, d in enumerate(problem.demands):
        rates = d.bucket_rates * rate_scale
        ok = (d.capacity.rate > 0) & (rates > 0)[:, None]
        served = rates > 0
        if np.any(served & ~ok.any(axis=1)):
            return Relaxation(False, math.nan)
        bb, pp = np.nonzero(ok)
        cols_b.append(bb)
        cols_p.append(pp)
        cols_m.append(np.full(len(bb), m))
        weights.append(1.0 / d.capacity.rate[bb, pp])
        active = np.flatnonzero(served)
        row = -np.ones(len(rates), dtype=int)
        row[active] = offset + np.arange(len(active))
        eq_rows.append(row[bb])
        eq_rhs.append(rates[active])
        offset += len(active)
    b_all, p_all, m_all = map(np.concatenate, (cols_b, cols_p, cols_m))
    w_all, eq_all = np.concatenate(weights), np.concatenate(eq_rows)
    ny, M = len(b_all), len(problem.demands)
    nn = M * P  # n_mp, index m * P + p
    types = list(problem.gpu_types)
    use_k = problem.max_gpu_types is not None
    nz = len(types) if use_k else 0
    nv = ny + nn + nz
    cost = np.concatenate([np.zeros(ny), np.tile(price, M), np.zeros(nz)])
    a_eq = sparse.csr_matrix((np.ones(ny), (eq_all, np.arange(ny))), shape=(offset, nv))
    rows, cols, vals, rhs = _load_rows(m_all, p_all, w_all, ny, M, P)
    r = len(rhs)
    for gi, g in enumerate(types):
        members = [m * P + p for m in range(M) for p in range(P) if problem.pools[p].gpu == g]
        cap = problem.gpu_caps.get(g)
        if cap is None and not use_k:
            continue
        rows += [r] * len(members)
        cols += [ny + k for k in members]
        vals += [gpus[k % P] for k in members]
        if use_k:
            bound = problem.type_bound(g, rate_scale)
            rows.append(r)
            cols.append(ny + nn + gi)
            vals.append(-bound)
            rhs.append(0.0)
        else:
            rhs.append(float(cap))
        r += 1
    if use_k:
        rows += [r] * nz
        cols += list(range(ny + nn, nv))
        vals += [1.0] * nz
        rhs.append(float(problem.max_gpu_types))  # type: ignore[arg-type]
        r += 1
    for m, d in enumerate(problem.demands):
        usable = np.unique(p_all[m_all == m])
        if d.min_replicas > 0:
            rows += [r] * len(usable)
            cols += [ny + m * P + int(p) for p in usable]
            vals += [-1.0] * len(usable)
            rhs.append(-float(d.min_replicas))
            r += 1
    a_ub = sparse.csr_matrix((vals, (rows, cols)), shape=(r, nv))
    bounds = np.zeros((nv, 2))
    bounds[:, 1] = np.inf
    bounds[ny + nn :, 1] = 1.0
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.asarray(rhs),
        A_eq=a_eq,
        b_eq=np.concatenate(eq_rhs),
        bounds=bounds,
        method="highs",
    )
    if res.status != 0:
        return Relaxation(False, math.nan)
    flows = []
    for m, d in enumerate(problem.demands):
        f = np.zeros((len(d.buckets), P))
        sel = m_all == m
        f[b_all[sel], p_all[sel]] = np.maximum(res.x[:ny][sel], 0.0)
        flows.append(f)
    return Relaxation(True, float(res.fun), tuple(flows))


def _load_rows(m_all, p_all, w_all, ny: int, M: int, P: int):
    """Rows Σ_b y_mbp / κ_mbp − n_mp ≤ 0, one per (m, p)."""
    key = m_all * P + p_all
    rows = list(key) + list(range(M * P))
    cols = list(range(ny)) + [ny + k for k in range(M * P)]
    vals = list(w_all) + [-1.0] * (M * P)
    return rows, cols, vals, [0.0] * (M * P)
