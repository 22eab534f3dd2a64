"""The cost-minimizing GPU-mix MILP (PuLP; CBC bundled, HiGHS when ``highspy`` is installed).

Indices: models m, buckets b of model m, pools p (GPU type x replica configuration), GPU
types g. Data: planned bucket rate λ_mb (req/s), per-replica capacity κ_mbp (req/s; pairs
with κ = 0 are ineligible and get no variable), replica price c_p ($/h), GPUs per replica
G_p, cap N_g (GPUs), redundancy floor r_m, type limit K.

    minimize    Σ_{m,p} c_p n_mp
    subject to  Σ_p y_mbp = λ_mb                       every bucket fully routed
                Σ_b y_mbp / κ_mbp ≤ n_mp               replicas carry their load
                Σ_{m, p∈g} G_p n_mp ≤ N_g z_g          GPU caps (z_g = 1 without K)
                Σ_g z_g ≤ K                            at most K GPU types (optional)
                Σ_p n_mp ≥ r_m                         redundancy floor per model
                n_mp ∈ Z≥0,  y_mbp ≥ 0,  z_g ∈ {0, 1}

y_mbp is the rate (req/s) of bucket b routed to pool p: a continuous split, so no slice
factor is involved. Replicas are per model (a replica serves one model). Load additivity
across buckets (Σ_b y/κ ≤ n) is the assumption Mélange makes too. The model is built once;
:meth:`MixModel.solve` re-solves it with types switched off (single-type baselines) or every
rate scaled (cost-vs-rate curves) by changing bounds and right-hand sides only.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.mix.errors import SolverError
from planner.mix.problem import Problem

FLOW_TOL = 1e-7


@dataclass(frozen=True)
class Solution:
    """A solved MILP: replicas per (model, pool), routed rates per model (B, P), cost."""

    status: str  # optimal | feasible (time limit, incumbent) | infeasible | not_solved (time limit)
    cost: float  # $/h (nan when infeasible)
    replicas: np.ndarray  # (M, P) int
    flows: tuple[np.ndarray, ...] = field(default=())  # per model (B, P) req/s
    solve_time_s: float = 0.0
    solver: str = ""
    gap: float | None = None  # (cost - lower bound) / cost when measured; None: within mip_gap

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible")

    def gpus_by_type(self, problem: Problem) -> dict[str, int]:
        """GPUs used per GPU type."""
        out: dict[str, int] = {}
        for p, pool in enumerate(problem.pools):
            out[pool.gpu] = out.get(pool.gpu, 0) + int(self.replicas[:, p].sum()) * pool.gpus
        return out


def new_var(
    lp: pulp.LpProblem,
    name: str,
    low: float | None = 0.0,
    up: float | None = None,
    cat: str = pulp.LpContinuous,
) -> pulp.LpVariable:
    """A variable of ``lp`` (PuLP >= 3.3 ``add_variable``; plain LpVariable before)."""
    if hasattr(lp, "add_variable"):
        return lp.add_variable(name, low, up, cat)
    return pulp.LpVariable(name, low, up, cat)


def highs_available() -> bool:
    """True when PuLP can drive HiGHS through ``highspy``."""
    try:
        return bool(pulp.HiGHS(msg=False).available())
    except (AttributeError, pulp.PulpError):
        return False


def make_solver(
    name: str = "auto", mip_gap: float = 1e-3, time_limit_s: float = 60.0, warm: bool = False
):
    """A PuLP solver: ``cbc`` (bundled), ``highs`` (needs highspy) or ``auto`` (HiGHS if
    available, else CBC); ``warm`` starts from the variables' current values."""
    if name == "highs" or (name == "auto" and highs_available()):
        if not highs_available():
            raise SolverError(
                "solver 'highs' needs the highspy package (pip install capplan[highs])"
            )
        return pulp.HiGHS(msg=False, gapRel=mip_gap, timeLimit=time_limit_s, warmStart=warm)
    if name not in ("auto", "cbc"):
        raise SolverError(f"unknown solver {name!r}; use auto, cbc or highs")
    with warnings.catch_warnings():  # PuLP 3.3 deprecates the bundled CBC in favour of 4.0's
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, gapRel=mip_gap, timeLimit=time_limit_s, warmStart=warm)


class MixModel:
    """The MILP of a :class:`Problem`, built once and re-solvable (see the module docstring).

    ``unroutable`` lists (model, bucket) pairs with rate > 0 and no eligible pool; the model
    is then infeasible without solving.
    """

    def __init__(
        self,
        problem: Problem,
        solver: str = "auto",
        mip_gap: float = 1e-3,
        time_limit_s: float = 60.0,
    ) -> None:
        self.problem = problem
        self.mip_gap = mip_gap
        self.solver = make_solver(solver, mip_gap, time_limit_s)
        self.warm_solver = make_solver(solver, mip_gap, time_limit_s, warm=True)
        self.lp = pulp.LpProblem("gpu_mix", pulp.LpMinimize)
        self.n: dict[tuple[int, int], pulp.LpVariable] = {}
        self.route: list[dict[tuple[int, int], pulp.LpVariable]] = []
        self.demand_rows: list[dict[int, pulp.LpConstraint]] = []
        self.type_rows: dict[str, pulp.LpConstraint] = {}
        self.z: dict[str, pulp.LpVariable] = {}
        self.unroutable: list[tuple[int, int]] = []
        self._build()

    # ---- building --------------------------------------------------------------------------
    def _routing_data(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per model: RHS of each bucket's routing row, load weight of a unit of the routing
        variable (B, P) and the rate (req/s) one unit carries (B,). Continuous: λ, 1/κ, 1."""
        d = self.problem.demands[m]
        cap = d.capacity.rate
        with np.errstate(divide="ignore"):
            weight = np.where(cap > 0, 1.0 / np.where(cap > 0, cap, 1.0), 0.0)
        return d.bucket_rates, weight, np.ones(len(d.buckets))

    def _route_var(self, m: int, b: int, p: int) -> pulp.LpVariable:
        """The routing variable of (m, b, p): continuous rate ≥ 0."""
        return new_var(self.lp, f"y{m}_{b}_{p}")

    def _build(self) -> None:
        """Variables and constraints of the formulation."""
        prob = self.problem
        objective = []
        load_terms: dict[tuple[int, int], list] = {}
        for m, d in enumerate(prob.demands):
            rhs, weight, _ = self._routing_data(m)
            ok = (d.capacity.rate > 0) & (d.bucket_rates > 0)[:, None]
            routes, rows = {}, {}
            for b in range(len(d.buckets)):
                if d.bucket_rates[b] <= 0:
                    continue
                pools = np.flatnonzero(ok[b])
                if pools.size == 0:
                    self.unroutable.append((m, b))
                    continue
                terms = []
                for p in pools:
                    v = self._route_var(m, b, int(p))
                    routes[(b, int(p))] = v
                    terms.append((v, 1.0))
                    load_terms.setdefault((m, int(p)), []).append((v, float(weight[b, p])))
                row = pulp.LpConstraint(
                    pulp.LpAffineExpression(terms),
                    pulp.LpConstraintEQ,
                    f"route{m}_{b}",
                    float(rhs[b]),
                )
                self.lp += row
                rows[b] = row
            self.route.append(routes)
            self.demand_rows.append(rows)
        for (m, p), terms in load_terms.items():
            n = new_var(self.lp, f"n{m}_{p}", cat=pulp.LpInteger)
            self.n[(m, p)] = n
            objective.append((n, prob.pools[p].usd_per_hour))
            expr = pulp.LpAffineExpression([*terms, (n, -1.0)])
            self.lp += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"load{m}_{p}", 0.0)
        self.lp.setObjective(pulp.LpAffineExpression(objective))
        self._floors()
        self._type_rows()

    def _floors(self) -> None:
        """Σ_p n_mp ≥ r_m."""
        for m, d in enumerate(self.problem.demands):
            ns = [(v, 1.0) for (mm, _), v in self.n.items() if mm == m]
            if d.min_replicas > 0 and ns:
                self.lp += pulp.LpConstraint(
                    pulp.LpAffineExpression(ns),
                    pulp.LpConstraintGE,
                    f"floor{m}",
                    float(d.min_replicas),
                )

    def _type_rows(self) -> None:
        """GPU caps, and the K-type limit with binary z_g."""
        prob = self.problem
        limit = prob.max_gpu_types
        for g in prob.gpu_types:
            terms = [
                (v, float(prob.pools[p].gpus))
                for (_, p), v in self.n.items()
                if prob.pools[p].gpu == g
            ]
            if not terms or (limit is None and g not in prob.gpu_caps):
                continue
            if limit is None:
                row = pulp.LpConstraint(
                    pulp.LpAffineExpression(terms),
                    pulp.LpConstraintLE,
                    f"cap_{len(self.type_rows)}",
                    float(prob.gpu_caps[g]),
                )
            else:
                z = new_var(self.lp, f"z{len(self.z)}", 0, 1, pulp.LpBinary)
                self.z[g] = z
                expr = pulp.LpAffineExpression([*terms, (z, -prob.type_bound(g, 1.0))])
                row = pulp.LpConstraint(expr, pulp.LpConstraintLE, f"cap_{len(self.type_rows)}", 0)
            self.lp += row
            self.type_rows[g] = row
        if limit is not None and self.z:
            zs = pulp.LpAffineExpression([(z, 1.0) for z in self.z.values()])
            self.lp += pulp.LpConstraint(zs, pulp.LpConstraintLE, "types", float(limit))

    # ---- solving ---------------------------------------------------------------------------
    def solve(
        self,
        allowed_gpus: Iterable[str] | None = None,
        rate_scale: float = 1.0,
        warm: bool = False,
    ) -> Solution:
        """Solve with only ``allowed_gpus`` (default: all) at every rate x ``rate_scale``;
        ``warm`` starts from the plan loaded by :meth:`warm_start`."""
        prob = self.problem
        P = len(prob.pools)
        if self.unroutable:
            return Solution("infeasible", math.nan, np.zeros((len(prob.demands), P), int))
        allowed = set(prob.gpu_types if allowed_gpus is None else allowed_gpus)
        for (_, p), v in self.n.items():
            v.upBound = None if prob.pools[p].gpu in allowed else 0
        for g, z in self.z.items():
            z.upBound = 1 if g in allowed else 0
            self.type_rows[g].expr[z] = -prob.type_bound(g, rate_scale)
        self._set_rates(rate_scale)
        start = time.perf_counter()
        self._run(self.warm_solver if warm else self.solver)
        return self._solution(time.perf_counter() - start)

    def _run(self, solver) -> None:
        """One solver call on the model as it stands."""
        try:
            self.lp.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"MILP solver failed: {exc}") from exc

    def warm_start(self, replicas: np.ndarray, flows: tuple[np.ndarray, ...]) -> None:
        """Load a known plan as the next solve's starting point (used by the warm solver)."""
        for (m, p), v in self.n.items():
            v.setInitialValue(float(replicas[m, p]))
        for m, routes in enumerate(self.route):
            _, _, unit = self._routing_data(m)
            for (b, p), v in routes.items():
                v.setInitialValue(float(flows[m][b, p] / unit[b]))
        for g, z in self.z.items():
            used = any(
                replicas[:, p].sum() > 0
                for p, pool in enumerate(self.problem.pools)
                if pool.gpu == g
            )
            z.setInitialValue(1.0 if used else 0.0)

    def _set_rates(self, scale: float) -> None:
        """Right-hand sides of the routing rows at rate x ``scale``."""
        for m, rows in enumerate(self.demand_rows):
            rhs, _, _ = self._routing_data(m)
            for b, row in rows.items():
                row.changeRHS(float(rhs[b] * scale))
        self._rate_scale = scale

    def _solution(self, elapsed: float) -> Solution:
        """Read the variables back; flows cleaned (clipped at 0, rows summing to λ)."""
        prob = self.problem
        status = pulp.LpStatus.get(self.lp.status, "Undefined")
        sol_status = getattr(self.lp, "sol_status", None)
        name = type(self.solver).__name__
        M, P = len(prob.demands), len(prob.pools)
        replicas = np.zeros((M, P), dtype=int)
        if status != "Optimal" and sol_status != pulp.LpSolutionIntegerFeasible:
            kind = "not_solved" if status == "Not Solved" else "infeasible"
            return Solution(kind, math.nan, replicas, (), elapsed, name)
        for (m, p), v in self.n.items():
            replicas[m, p] = round(v.varValue or 0.0)
        flows = tuple(self._flows(m) for m in range(M))
        cost = float(
            sum(replicas[:, p].sum() * pool.usd_per_hour for p, pool in enumerate(prob.pools))
        )
        status_out = "optimal" if sol_status == pulp.LpSolutionOptimal else "feasible"
        return Solution(status_out, cost, replicas, flows, elapsed, name)

    def _flows(self, m: int) -> np.ndarray:
        """Routed req/s (B, P) of model m, rows rescaled to the bucket rates."""
        d = self.problem.demands[m]
        _, _, unit = self._routing_data(m)
        scale = self._rate_scale
        flow = np.zeros((len(d.buckets), len(self.problem.pools)))
        for (b, p), v in self.route[m].items():
            flow[b, p] = max(0.0, (v.varValue or 0.0) * unit[b])
        target = d.bucket_rates * scale
        sums = flow.sum(axis=1)
        ok = sums > FLOW_TOL
        flow[ok] *= (target[ok] / sums[ok])[:, None]
        return flow
