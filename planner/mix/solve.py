"""Solving a :class:`Problem` at any rate: with HiGHS (the default) the MILP on the pools a
cheaper plan could use (:mod:`planner.mix.core`), else the full MILP; with CBC, small instances
directly and large ones through an LP screen with a certificate.

With HiGHS, from ``CORE_POOLS`` pools up: the pools whose reduced cost r_mp is within
``CORE_SLACK`` of the LP bound L form the core; its MILP, proven to its bound B, is the answer
when every pool left out has L + r_mp ≥ B (no plan using it can be cheaper). Otherwise the core
grows to every pool with r_mp < U − L (U the core plan's cost) and is solved once more, and
failing that (or when the core holds every pool) the full MILP is solved: the core solves were
then extra time. The bound L ignores N+1 spares, which add a replica to every pool used, so
with spares the core's plan costs more than L + r_mp of the pools left out and the core is not
tried.

CBC's branch and bound on a large instance (10^4–10^5 routing columns) spends most of its time
proving the last 0.01% over near-equivalent pools; HiGHS proves the same instances to the cent
faster on the full model than through the screen. Under CBC, from ``SCREEN_COLUMNS`` routing
columns and ``SCREEN_POOLS`` pools up:

1. the LP relaxation (:mod:`planner.mix.relaxation`) gives a lower bound LB on every plan;
2. the MILP is solved on the promising columns only: per bucket, those the relaxation routes
   over, its ``SCREEN_KEEP`` pools of least $/h per req/s (c_p / κ_bp) and any within
   ``SCREEN_RATIO`` of the least; its plan (cost z) is feasible for the full instance;
3. if z − LB ≤ max(``mip_gap`` · z, ``ABS_GAP``) the plan is optimal within the gap,
   certified by the full relaxation; otherwise the full MILP is solved, warm-started from z.

The answer is therefore always within the gap of the optimum (or flagged "feasible" when the
time limit stops the full MILP first).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from planner.mix.capacity import CapacityMatrix
from planner.mix.core import core_problem, reduced_costs
from planner.mix.formulation import ABS_GAP, MixModel, Solution, highs_available
from planner.mix.problem import Problem
from planner.mix.relaxation import Relaxation, lp_relaxation

SCREEN_COLUMNS = 500
SCREEN_POOLS = 8  # with fewer pools branch and bound is small: solve directly
SCREEN_KEEP = 2
SCREEN_RATIO = 0.1
CORE_POOLS = 5  # with fewer pools the core saves little: solve the full MILP
CORE_SLACK = 1e-4  # first core: pools with r_mp ≤ max(CORE_SLACK · L, ABS_GAP)


def unroutable(problem: Problem) -> list[tuple[int, int]]:
    """(model, bucket) pairs with rate > 0 and no pool of capacity > 0."""
    out = []
    for m, d in enumerate(problem.demands):
        blocked = (d.bucket_rates > 0) & ~(d.capacity.rate > 0).any(axis=1)
        out += [(m, int(b)) for b in np.flatnonzero(blocked)]
    return out


def routing_columns(problem: Problem) -> int:
    """Number of routing variables of the full MILP."""
    return sum(
        int(((d.capacity.rate > 0) & (d.bucket_rates > 0)[:, None]).sum()) for d in problem.demands
    )


class MixSolver:
    """Solves ``problem`` (at any rate scale) to within ``mip_gap``; models are built once and
    re-solved (the full MILP lazily, only when needed)."""

    def __init__(
        self,
        problem: Problem,
        solver: str = "auto",
        mip_gap: float = 0.0,
        time_limit_s: float = 60.0,
    ) -> None:
        self.problem = problem
        self.options = {"solver": solver, "mip_gap": mip_gap, "time_limit_s": time_limit_s}
        self.mip_gap = mip_gap
        self.highs = solver == "highs" or (solver == "auto" and highs_available())
        self.unroutable = unroutable(problem)
        self.columns = routing_columns(problem)
        self._full: MixModel | None = None
        self._cores: dict[bytes, MixModel] = {}

    @property
    def full(self) -> MixModel:
        """The full MILP (built on first use)."""
        if self._full is None:
            self._full = MixModel(self.problem, **self.options)
        return self._full

    def solve(self, rate_scale: float = 1.0) -> Solution:
        """The cheapest plan at every rate x ``rate_scale``."""
        P = len(self.problem.pools)
        if self.unroutable:
            return Solution("infeasible", math.nan, np.zeros((len(self.problem.demands), P), int))
        small = self.columns < SCREEN_COLUMNS or len(self.problem.pools) < SCREEN_POOLS
        spares = any(pool.n_plus_one for pool in self.problem.pools)
        if self.highs and len(self.problem.pools) >= CORE_POOLS and not spares:
            sol = self._solve_core(rate_scale)
            if sol is not None:
                return sol
        if self.highs or small:
            return self.full.solve(rate_scale=rate_scale)
        start = time.perf_counter()
        relax = lp_relaxation(self.problem, rate_scale)
        if not relax.feasible:
            return Solution(
                "infeasible",
                math.nan,
                np.zeros((len(self.problem.demands), P), int),
                solve_time_s=time.perf_counter() - start,
            )
        restricted = screened(self.problem, relax)
        sol = MixModel(restricted, **self.options).solve(rate_scale=rate_scale)
        if sol.feasible:
            slack = max(0.0, sol.cost - relax.bound)
            if slack <= max(self.mip_gap * sol.cost, ABS_GAP):
                gap = slack / sol.cost if sol.cost > 0 else 0.0
                return replace(
                    sol,
                    status="optimal",
                    gap=gap,
                    bound=min(relax.bound, sol.cost),
                    solve_time_s=time.perf_counter() - start,
                )
            self.full.warm_start(sol.replicas, sol.flows)
        out = self.full.solve(rate_scale=rate_scale, warm=sol.feasible)
        return replace(out, solve_time_s=time.perf_counter() - start)

    def _solve_core(self, rate_scale: float) -> Solution | None:
        """The plan proven on the core (see module), or None when the full MILP is needed. A
        core solve stopped by the time limit is the answer ("best found", its gap against
        the bound min(core bound, L + least r left out), which holds for every plan)."""
        start = time.perf_counter()
        bound, reduced = reduced_costs(self.problem, rate_scale)
        slack = max(CORE_SLACK * bound, ABS_GAP)
        for _ in range(2):
            keep = reduced <= slack
            if keep[np.isfinite(reduced)].all():
                return None
            key = keep.tobytes()
            if key not in self._cores:
                self._cores[key] = MixModel(core_problem(self.problem, keep), **self.options)
            sol = self._cores[key].solve(rate_scale=rate_scale)
            elapsed = time.perf_counter() - start
            if sol.status == "not_solved":
                return replace(sol, solve_time_s=elapsed)
            if not sol.feasible or sol.bound is None:
                return None
            overall = min(sol.bound, bound + float(reduced[~keep].min()))
            gap = max(0.0, sol.cost - overall) / sol.cost if sol.cost > 0 else 0.0
            proven = sol.cost - overall <= max(self.mip_gap * sol.cost, ABS_GAP)
            if proven or sol.status != "optimal":
                status = "optimal" if proven and sol.status == "optimal" else "feasible"
                return replace(sol, status=status, gap=gap, bound=overall, solve_time_s=elapsed)
            slack = sol.cost - bound
        return None


def screened(problem: Problem, relax: Relaxation) -> Problem:
    """The instance with only the promising routing columns (others get capacity 0)."""
    demands = []
    for m, d in enumerate(problem.demands):
        cap = d.capacity.rate
        price = np.array([p.usd_per_hour for p in problem.pools])
        with np.errstate(divide="ignore"):
            ce = np.where(cap > 0, price[None, :] / np.where(cap > 0, cap, 1.0), np.inf)
        order = np.argsort(ce, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(cap.shape[1])[None, :], axis=1)
        best = ce.min(axis=1, keepdims=True)
        keep = (rank < SCREEN_KEEP) | (ce <= best * (1 + SCREEN_RATIO)) | (relax.flows[m] > 0)
        keep &= cap > 0
        demands.append(replace(d, capacity=CapacityMatrix(np.where(keep, cap, 0.0), {})))
    return replace(problem, demands=tuple(demands))
