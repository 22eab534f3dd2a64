"""The MILP of a plan over time: a fleet per period of a daily or weekly rate curve, bought as a
committed base (reserved price, held in every period) plus on-demand and spot GPUs on top.

Indices as in :mod:`planner.mix.formulation`, plus periods t = 1..T of ``period_hours`` each (a
cycle that repeats over the month). Data: λ_mbt = share_mb x rate_mt x (1 + headroom); GPU
prices per class c^res_g, c^od_g, c^spot_g ($/GPU-hour); spot availability S̄_g; scale-up limit
U_g; H hours per month, so period t is billed w = H / T hours a month.

    minimize    H Σ_g c^res_g R_g + w Σ_{t,g} (c^od_g O_gt + c^spot_g S_gt)      ($/month)
    subject to  Σ_p y_mbpt = λ_mbt                               every bucket routed, each t
                Σ_b y_mbpt / κ_mbp ≤ n_mpt                       replicas carry their load
                G_gt := Σ_{m, p∈g} G_p n_mpt ≤ R_g + O_gt + S_gt  GPUs bought cover GPUs used
                G_gt ≤ N_g,  S_gt ≤ S̄_g,  G_gt − G_g,t−1 ≤ U_g (cyclic)
                Σ_p n_mpt ≥ r_m
                n, R ∈ Z≥0;  y, O, S ≥ 0

Periods may carry their own hours (``hours``, w_t in place of w): planner.mix.overtime merges
periods of equal rates into one when no scale-up limit orders them, which is exact (given R,
each period's fleet is its own problem, and equal periods have the same optimum).

O and S need no integrality: with integer n and R, an optimum takes them integral. The MILP is
warm-started from the plan sized for the peak (every period as at the peak, bought at the
cheaper of reserved and on-demand), which is one of its feasible points: the answer is never
costlier than that plan. The comparisons say what the curve saves against the peak-sized plan
and what a mean-sized plan would miss (the periods whose traffic its fleet cannot carry).
"""

from __future__ import annotations

import math

import numpy as np
import pulp

from planner.mix.curves import Curves, Prices
from planner.mix.errors import PlanSpecError
from planner.mix.formulation import make_solver, new_var, proven_bound, run_lp, tiny_buckets
from planner.mix.problem import Problem


class TimeMixModel:
    """The MILP of the module docstring over the pools and demands of ``problem`` (built at
    each model's peak rate) and the period rates ``curves``."""

    def __init__(
        self,
        problem: Problem,
        curves: Curves,
        prices: Prices,
        month_hours: float,
        solver: str = "auto",
        mip_gap: float = 0.0,
        time_limit_s: float = 60.0,
        hours: np.ndarray | None = None,
    ):
        self.problem, self.curves, self.prices = problem, curves, prices
        self.H = month_hours
        #: hours a month each period is billed (H / T each unless given)
        self.hours = (
            np.full(curves.periods, month_hours / curves.periods)
            if hours is None
            else np.asarray(hours, dtype=float)
        )
        self.solver = make_solver(solver, mip_gap, time_limit_s, warm=True)
        self.time_limit_s = time_limit_s
        self.lp = pulp.LpProblem("gpu_mix_over_time", pulp.LpMinimize)
        self.n: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self.y: dict[tuple[int, int, int, int], pulp.LpVariable] = {}
        self.R: dict[str, pulp.LpVariable] = {}
        self.O: dict[tuple[str, int], pulp.LpVariable] = {}
        self.S: dict[tuple[str, int], pulp.LpVariable] = {}
        self.spares: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self.used: dict[tuple[str, int], list] = {}  # (GPU type, t) -> [(n, GPUs per replica)]
        self._build()

    def rates(self, m: int, t: int) -> np.ndarray:
        """Planned req/s of each bucket of model m in period t."""
        d = self.problem.demands[m]
        return d.buckets.prob * self.curves.rates[m, t] * (1.0 + d.headroom)

    def _build(self) -> None:
        prob, T = self.problem, self.curves.periods
        for t in range(T):
            for m, d in enumerate(prob.demands):
                self._route(m, t, d, self.used)
        cost = []
        for g in prob.gpu_types:
            self.R[g] = new_var(self.lp, f"R_{len(self.R)}", cat=pulp.LpInteger)
            cost.append((self.R[g], self.H * self.prices.committed[g]))
            for t in range(T):
                self._buy(g, t, self.uses(g, t), cost)
        self.lp.setObjective(pulp.LpAffineExpression(cost))

    def _route(self, m: int, t: int, d, used) -> None:
        """Routing rows, load rows and the floor of model m in period t."""
        lam = self.rates(m, t)
        cap = d.capacity.rate
        loads: dict[int, list] = {}
        for b in np.flatnonzero(lam > 0):
            pools = np.flatnonzero(cap[b] > 0)
            if pools.size == 0:
                raise PlanSpecError(f"model {d.name!r}: bucket {d.buckets.labels[b]} has no pool")
            terms = []
            for p in pools:
                v = new_var(self.lp, f"y{m}_{b}_{p}_{t}")
                self.y[(m, b, int(p), t)] = v
                terms.append((v, 1.0))
                loads.setdefault(int(p), []).append((v, 1.0 / cap[b, p]))
            self.lp += pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintEQ, f"r{m}_{b}_{t}", float(lam[b])
            )
        ns = []
        for p in set(loads) | (
            {int(p) for p in np.flatnonzero((cap > 0).any(0))} if d.min_replicas else set()
        ):
            n = new_var(self.lp, f"n{m}_{p}_{t}", cat=pulp.LpInteger)
            self.n[(m, p, t)] = n
            ns.append((n, 1.0))
            pool = self.problem.pools[p]
            used.setdefault((pool.gpu, t), []).append((n, float(pool.gpus)))
            terms = loads.get(p, [])
            spare = []
            if pool.n_plus_one and terms:  # as MixModel._spare: a spare when the pool serves
                s = self.spares[(m, p, t)] = new_var(self.lp, f"s{m}_{p}_{t}", 0, 1, pulp.LpBinary)
                big = float(np.sum(lam / np.where(cap[:, p] > 0, cap[:, p], np.inf))) + 2.0
                self.lp += pulp.LpConstraint(
                    pulp.LpAffineExpression([*terms, (s, -big)]),
                    pulp.LpConstraintLE,
                    f"s{m}_{p}_{t}",
                    0.0,
                )
                spare = [(s, 1.0)]
            expr = pulp.LpAffineExpression([*terms, (n, -1.0), *spare])
            self.lp += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"l{m}_{p}_{t}", 0.0)
        if d.min_replicas and ns:
            self.lp += pulp.LpConstraint(
                pulp.LpAffineExpression(ns), pulp.LpConstraintGE, f"f{m}_{t}", d.min_replicas
            )
        for b in tiny_buckets(lam, cap):  # see MixModel._cover_rows
            cover = [(self.n[(m, int(p), t)], 1.0) for p in np.flatnonzero(cap[b] > 0)]
            self.lp += pulp.LpConstraint(
                pulp.LpAffineExpression(cover), pulp.LpConstraintGE, f"c{m}_{b}_{t}", 1.0
            )

    def _buy(self, g: str, t: int, terms: list, cost: list) -> None:
        """GPUs of type g in period t: bought as committed + on-demand + spot; caps."""
        k = len(self.O)
        o = self.O[(g, t)] = new_var(self.lp, f"O_{k}")
        cost.append((o, self.hours[t] * self.prices.on_demand[g]))
        bought = [(self.R[g], -1.0), (o, -1.0)]
        spot = self.prices.spot[g]
        if spot is not None:
            s = self.S[(g, t)] = new_var(self.lp, f"S_{k}", 0.0, float(self.prices.spot_cap[g]))
            cost.append((s, self.hours[t] * spot))
            bought.append((s, -1.0))
        self.lp += pulp.LpConstraint(
            pulp.LpAffineExpression([*terms, *bought]), pulp.LpConstraintLE, f"buy{k}", 0.0
        )
        cap = self.problem.gpu_caps.get(g)
        if cap is not None and terms:
            self.lp += pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, f"cap{k}", float(cap)
            )
        up = self.prices.scale_up[g]
        T = self.curves.periods
        if up is not None and t == T - 1:
            for tt in range(T):
                now = self.uses(g, tt)
                before = [(v, -c) for v, c in self.uses(g, (tt - 1) % T)]
                self.lp += pulp.LpConstraint(
                    pulp.LpAffineExpression(now + before),
                    pulp.LpConstraintLE,
                    f"up{k}_{tt}",
                    float(up),
                )

    def uses(self, g: str, t: int) -> list:
        """(n variable, GPUs per replica) of every pool of type g in period t."""
        return self.used.get((g, t), [])

    def warm_start(self, replicas: np.ndarray, flows: tuple[np.ndarray, ...]) -> None:
        """Start from one fleet held in every period (the peak-sized plan), flows scaled down."""
        for (m, p, _), v in self.n.items():
            v.setInitialValue(float(replicas[m, p]))
        for (m, p, _), v in self.spares.items():
            v.setInitialValue(1.0 if replicas[m, p] > 0 else 0.0)
        for (m, b, p, t), v in self.y.items():
            peak = max(float(self.curves.rates[m].max()), 1e-300)
            v.setInitialValue(float(flows[m][b, p]) * self.curves.rates[m, t] / peak)
        for g, r in self.R.items():
            gpus = sum(
                int(replicas[:, p].sum()) * pool.gpus
                for p, pool in enumerate(self.problem.pools)
                if pool.gpu == g
            )
            cheaper = self.prices.committed[g] <= self.prices.on_demand[g]
            r.setInitialValue(gpus if cheaper else 0)
            for t in range(self.curves.periods):
                self.O[(g, t)].setInitialValue(0 if cheaper else gpus)
                if (g, t) in self.S:
                    self.S[(g, t)].setInitialValue(0)

    def solve(self) -> tuple[str, float, float | None]:
        """Solve; (status, $/month, gap) with status optimal | feasible | infeasible |
        not_solved."""
        run_lp(self.lp, self.solver)
        status = pulp.LpStatus.get(self.lp.status, "Undefined")
        sol = getattr(self.lp, "sol_status", None)
        if status != "Optimal" and sol != pulp.LpSolutionIntegerFeasible:
            return ("not_solved" if status == "Not Solved" else "infeasible"), math.nan, None
        value = float(pulp.value(self.lp.objective) or 0.0)
        gap = proven_bound(self.lp, value)[1]
        return ("optimal" if sol == pulp.LpSolutionOptimal else "feasible"), value, gap
