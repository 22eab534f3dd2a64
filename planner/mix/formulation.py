"""The cost-minimizing GPU-mix MILP (PuLP driving HiGHS by default, CBC as the fallback).

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

**Proof.** Every solve stops only when the incumbent is proven within ``max(mip_gap · cost,
ABS_GAP)`` of the optimum (``ABS_GAP`` = half a cent per hour: costs are exact to the cent with
the default ``mip_gap`` of 0) or at the time limit. With HiGHS the dual bound is read back, so
a :class:`Solution` carries its measured gap; "optimal" means proven, "feasible" means the best
plan found when the time limit stopped the search (its gap said).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.mix.errors import SolverError
from planner.mix.problem import Problem

FLOW_TOL = 1e-7
ABS_GAP = 0.005  # $/h: an "optimal" plan is within half a cent per hour of the proven optimum
#: HiGHS's feasibility-jump heuristic (1.11+) costs milliseconds per MIP however small the model
#: (Mélange's toy: 8.3 ms median with it, 1.6 ms without; benchmarks/proof_cost.py)
HIGHS_OPTIONS = {"mip_heuristic_run_feasibility_jump": False}
COVER_LOAD = 1e-3  # a bucket with a smaller load (replicas) gets an explicit "needs a replica" row


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
    bound: float | None = None  # proven lower bound on the optimum ($/h) when measured

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible")

    def proof(self, time_limit_s: float | None = None) -> str:
        """How far the cost is proven: "proven optimal", "best found within N s (gap x%)"."""
        return proof_text(self.status, self.gap, time_limit_s)

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


@functools.cache
def highs_available() -> bool:
    """True when PuLP can drive HiGHS through ``highspy``. The first HiGHS instance of a
    process prints a banner on the C-level stdout (it would corrupt ``--format json``): it is
    made here once, with that stdout sent to /dev/null."""
    try:
        if not pulp.HiGHS(msg=False).available():
            return False
        import highspy

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return True
    except (AttributeError, ImportError, OSError, pulp.PulpError):
        return False


def make_solver(
    name: str = "auto", mip_gap: float = 0.0, time_limit_s: float = 60.0, warm: bool = False
):
    """A PuLP solver: ``highs`` (highspy, a dependency), ``cbc`` (bundled with PuLP) or
    ``auto`` (HiGHS, else CBC); both stop at ``max(mip_gap · cost, ABS_GAP)`` from the bound;
    ``warm`` starts from the variables' current values."""
    if name == "highs" or (name == "auto" and highs_available()):
        if not highs_available():
            raise SolverError("solver 'highs' needs the highspy package: pip install highspy")
        return pulp.HiGHS(
            msg=False,
            gapRel=mip_gap,
            gapAbs=ABS_GAP,
            timeLimit=time_limit_s,
            warmStart=warm,
            **HIGHS_OPTIONS,
        )
    if name not in ("auto", "cbc"):
        raise SolverError(f"unknown solver {name!r}; use auto, cbc or highs")
    with warnings.catch_warnings():  # PuLP 3.3 deprecates the bundled CBC in favour of 4.0's
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(
            msg=False, gapRel=mip_gap, gapAbs=ABS_GAP, timeLimit=time_limit_s, warmStart=warm
        )


class MixModel:
    """The MILP of a :class:`Problem`, built once and re-solvable (see the module docstring).

    ``unroutable`` lists (model, bucket) pairs with rate > 0 and no eligible pool; the model
    is then infeasible without solving.
    """

    def __init__(
        self,
        problem: Problem,
        solver: str = "auto",
        mip_gap: float = 0.0,
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
        self.spare_rows: dict[tuple[int, int], tuple[pulp.LpConstraint, pulp.LpVariable]] = {}
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
            spare = self._spare(m, p, terms) if prob.pools[p].n_plus_one else []
            expr = pulp.LpAffineExpression([*terms, (n, -1.0), *spare])
            self.lp += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"load{m}_{p}", 0.0)
        self.lp.setObjective(pulp.LpAffineExpression(objective))
        self._floors()
        self._cover_rows()
        self._type_rows()

    def _spare(self, m: int, p: int, terms: list) -> list:
        """N+1: a binary s_mp = 1 when pool p serves model m (Σ load ≤ M s_mp, M its most
        replicas); the load row then reads Σ load ≤ n_mp − s_mp: one replica spare."""
        s = new_var(self.lp, f"s{m}_{p}", 0, 1, pulp.LpBinary)
        row = pulp.LpConstraint(
            pulp.LpAffineExpression([*terms, (s, -self._spare_bound(m, p, 1.0))]),
            pulp.LpConstraintLE,
            f"spare{m}_{p}",
            0.0,
        )
        self.lp += row
        self.spare_rows[(m, p)] = (row, s)
        return [(s, 1.0)]

    def _spare_bound(self, m: int, p: int, scale: float) -> float:
        """The big-M of pool p's spare indicator: its most replicas at rate x ``scale``."""
        return float(self.problem.demands[m].max_replicas(p, scale) + 1)

    def _cover_rows(self) -> None:
        """Σ_{p: κ_bp > 0} n_mp ≥ 1 for each bucket whose load λ/κ is below ``COVER_LOAD`` on
        every pool: a bucket with traffic needs a replica, which a load inside the solver's
        feasibility tolerance (~1e-6) would not force."""
        for m, d in enumerate(self.problem.demands):
            for b in tiny_buckets(d.bucket_rates, d.capacity.rate):
                ns = [(self.n[(m, int(p))], 1.0) for p in np.flatnonzero(d.capacity.rate[b] > 0)]
                self.lp += pulp.LpConstraint(
                    pulp.LpAffineExpression(ns), pulp.LpConstraintGE, f"cover{m}_{b}", 1.0
                )

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
        fixed: np.ndarray | None = None,
    ) -> Solution:
        """Solve with only ``allowed_gpus`` (default: all) at every rate x ``rate_scale``;
        ``warm`` starts from the plan loaded by :meth:`warm_start`; ``fixed`` (M, P) fixes
        every replica count (a routing-feasibility check)."""
        prob = self.problem
        P = len(prob.pools)
        if self.unroutable:
            return Solution("infeasible", math.nan, np.zeros((len(prob.demands), P), int))
        allowed = set(prob.gpu_types if allowed_gpus is None else allowed_gpus)
        for (m, p), v in self.n.items():
            v.upBound = None if prob.pools[p].gpu in allowed else 0
            if fixed is not None:
                v.lowBound = v.upBound = float(fixed[m, p])
        for g, z in self.z.items():
            z.upBound = 1 if g in allowed else 0
            self.type_rows[g].expr[z] = -prob.type_bound(g, rate_scale)
        for (m, p), (row, s) in self.spare_rows.items():
            row.expr[s] = -self._spare_bound(m, p, rate_scale)
        self._set_rates(rate_scale)
        start = time.perf_counter()
        self._run(self.warm_solver if warm else self.solver)
        return self._solution(time.perf_counter() - start)

    def _run(self, solver) -> None:
        """One solver call on the model as it stands."""
        run_lp(self.lp, solver)

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
        bound, gap = proven_bound(self.lp, cost)
        return Solution(status_out, cost, replicas, flows, elapsed, name, gap, bound)

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


def tiny_buckets(rates: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Buckets with traffic whose load on their best pool, λ_b / max_p κ_bp, is below
    ``COVER_LOAD`` replicas (they get a cover row)."""
    best = capacity.max(axis=1, initial=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(best > 0, rates / np.where(best > 0, best, 1.0), np.inf)
    return np.flatnonzero((rates > 0) & (load < COVER_LOAD))


def proof_text(status: str, gap: float | None, time_limit_s: float | None = None) -> str:
    """ "proven optimal" (with the gap when one was allowed), "best found within N s (gap x%)",
    "no plan found within N s", or the status ("infeasible")."""
    gap_text = "" if gap is None or gap < 1e-6 else f" (gap {100 * gap:.2g}%)"
    within = "" if time_limit_s is None else f" within {time_limit_s:g} s"
    if status == "optimal":
        return "proven optimal" + gap_text
    if status == "feasible":
        return f"best found{within}{gap_text}"
    if status == "not_solved":
        return "no plan found" + within
    return status


def proven_bound(lp: pulp.LpProblem, cost: float) -> tuple[float | None, float | None]:
    """The proven lower bound and relative gap of a solved ``lp`` whose incumbent costs
    ``cost``, where the solver reports them (HiGHS: its dual bound; CBC through PuLP: none)."""
    model = getattr(lp, "solverModel", None)
    if model is None or not hasattr(model, "getInfo"):
        return None, None
    bound = float(model.getInfo().mip_dual_bound)
    if not math.isfinite(bound):
        return None, None
    bound = min(bound, cost)
    return bound, (cost - bound) / cost if cost > 0 else 0.0


def run_lp(lp: pulp.LpProblem, solver) -> None:
    """One solver call; a solver failure becomes a :class:`SolverError`."""
    try:
        lp.solve(solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"MILP solver failed: {exc}") from exc
