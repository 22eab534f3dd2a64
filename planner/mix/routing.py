"""Load-balancer weights for fixed replica counts: spread each bucket over the pools so that
the busiest pool is as idle as possible (an LP; scipy's HiGHS).

For one model with replicas n_p (p with n_p > 0), bucket rates λ_b, capacities κ_bp:

    minimize    u
    subject to  Σ_p y_bp = λ_b                   (every bucket fully routed)
                Σ_b y_bp / κ_bp ≤ u · n_p        (pool p at utilization ≤ u)
                y_bp ≥ 0, only where κ_bp > 0

The MILP's routing is one feasible point (u ≤ 1), so the optimum u* ≤ 1: no pool is over
100% and the load is as even as the capacities allow.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


def balance(rates: np.ndarray, capacity: np.ndarray, replicas: np.ndarray) -> np.ndarray | None:
    """Routed req/s (B, P) minimizing the peak utilization, or None if the LP fails."""
    B, P = capacity.shape
    ok = (capacity > 0) & (replicas > 0)[None, :] & (rates > 0)[:, None]
    bb, pp = np.nonzero(ok)
    nv = len(bb)
    if nv == 0:
        return np.zeros((B, P))
    # equality rows: one per bucket with rate > 0
    active = np.flatnonzero(rates > 0)
    row_of = -np.ones(B, dtype=int)
    row_of[active] = np.arange(len(active))
    a_eq = sparse.csr_matrix(
        (np.ones(nv), (row_of[bb], np.arange(nv))), shape=(len(active), nv + 1)
    )
    # load rows: Σ_b y/κ - n_p u ≤ 0, one per pool with replicas
    used = np.flatnonzero(replicas > 0)
    pos = -np.ones(P, dtype=int)
    pos[used] = np.arange(len(used))
    load = sparse.csr_matrix(
        (1.0 / capacity[bb, pp], (pos[pp], np.arange(nv))), shape=(len(used), nv + 1)
    ).tolil()
    load[np.arange(len(used)), nv] = -replicas[used].astype(float)
    cost = np.zeros(nv + 1)
    cost[nv] = 1.0
    res = linprog(
        cost,
        A_ub=load.tocsr(),
        b_ub=np.zeros(len(used)),
        A_eq=a_eq,
        b_eq=rates[active],
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        return None
    flow = np.zeros((B, P))
    flow[bb, pp] = np.maximum(res.x[:nv], 0.0)
    sums = flow.sum(axis=1)
    nz = sums > 0
    flow[nz] *= (rates[nz] / sums[nz])[:, None]
    return flow


def utilization(flow: np.ndarray, capacity: np.ndarray, replicas: np.ndarray) -> np.ndarray:
    """Per pool: Σ_b y_bp / κ_bp / n_p (0 where the pool has no replicas)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(capacity > 0, flow / np.where(capacity > 0, capacity, 1.0), 0.0).sum(0)
        return np.where(replicas > 0, load / np.maximum(replicas, 1), 0.0)
