"""Plans over time: a fleet per period of a daily or weekly rate curve, bought as a committed base
(reserved price, held in every period) plus on-demand and spot GPUs on top.

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

O and S need no integrality: with integer n and R, an optimum takes them integral. The MILP is
warm-started from the plan sized for the peak (every period as at the peak, bought at the
cheaper of reserved and on-demand), which is one of its feasible points: the answer is never
costlier than that plan. The comparisons say what the curve saves against the peak-sized plan
and what a mean-sized plan would miss (the periods whose traffic its fleet cannot carry).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import pulp

from planner.cells import numeric_cells
from planner.mix.errors import PlanSpecError
from planner.mix.formulation import make_solver, new_var, proven_bound, run_lp, tiny_buckets
from planner.mix.problem import Problem, build_problem
from planner.mix.result import Issue, _json_safe
from planner.mix.routing import balance, utilization
from planner.mix.solve import MixSolver
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


@dataclass(frozen=True)
class PeriodPool:
    """Replicas of one pool serving one model in one period."""

    period: int
    model: str
    pool: str
    gpu: str
    replicas: int
    gpus: int
    rate_rps: float


@dataclass(frozen=True)
class PeriodFleet:
    """GPUs of one type in one period, by how they are bought."""

    period: int
    gpu: str
    gpus: int
    committed: int
    on_demand: int
    spot: int


@dataclass(frozen=True)
class StaticPlan:
    """One fleet held in every period (sized for the peak or the mean), bought at the cheaper
    of reserved and on-demand; ``short_periods`` cannot carry their traffic."""

    sized_for: str
    feasible: bool
    usd_per_month: float | None
    gpus_by_type: dict[str, int]
    short_periods: int = 0
    note: str | None = None


@dataclass(frozen=True)
class TimePlan:
    """A plan per period: fleet, bill by pricing class, and the static plans it replaces."""

    name: str
    feasible: bool
    status: str
    proof: str
    usd_per_month: float | None
    bill: dict[str, float]
    fleet: tuple[PeriodFleet, ...]
    pools: tuple[PeriodPool, ...]
    static: tuple[StaticPlan, ...]
    rates: tuple[tuple[float, ...], ...]
    models: tuple[str, ...]
    period_hours: float
    month_hours: float
    issues: tuple[Issue, ...] = ()
    solver: str = ""
    solve_time_s: float = 0.0
    gap: float | None = None

    def saving_pct(self, sized_for: str) -> float | None:
        """Percent saved against the static plan sized for ``peak`` or ``mean``."""
        ref = next((s for s in self.static if s.sized_for == sized_for), None)
        if ref is None or not ref.usd_per_month or self.usd_per_month is None:
            return None
        return 100.0 * (ref.usd_per_month - self.usd_per_month) / ref.usd_per_month

    def to_frame(self) -> pd.DataFrame:
        """One row per (period, model, pool) with replicas, GPUs and routed req/s."""
        cols = list(PeriodPool.__dataclass_fields__)
        return pd.DataFrame([asdict(p) for p in self.pools], columns=cols)

    def fleet_frame(self) -> pd.DataFrame:
        """One row per (period, GPU type): GPUs used, and committed / on-demand / spot."""
        cols = list(PeriodFleet.__dataclass_fields__)
        return pd.DataFrame([asdict(f) for f in self.fleet], columns=cols)

    def bill_frame(self) -> pd.DataFrame:
        """The monthly bill by pricing class, with each class's share."""
        total = sum(self.bill.values()) or 1.0
        rows = [
            {"pricing": k, "usd_per_month": v, "share_pct": 100 * v / total}
            for k, v in self.bill.items()
        ]
        return pd.DataFrame(rows, columns=["pricing", "usd_per_month", "share_pct"])

    def static_frame(self) -> pd.DataFrame:
        """The peak- and mean-sized single plans with the saving against each."""
        frame = pd.DataFrame([asdict(s) for s in self.static])
        if not frame.empty:
            frame["curve_saves_pct"] = [self.saving_pct(s.sized_for) for s in self.static]
        return frame

    def to_dict(self) -> dict:
        """JSON-safe dict of the whole answer."""
        out = asdict(self) | {
            "saving_vs_peak_pct": self.saving_pct("peak"),
            "saving_vs_mean_pct": self.saving_pct("mean"),
        }
        return _json_safe(out)

    def summary(self) -> str:
        """One line: monthly cost, bill split, savings."""
        if not self.feasible:
            return f"{self.name}: no feasible plan over time ({self.proof})"
        split = ", ".join(f"{k} ${v:,.0f}" for k, v in self.bill.items() if v > 0)
        line = f"{self.name}: ${self.usd_per_month:,.0f}/month ({split})"
        peak = self.saving_pct("peak")
        if peak is not None:
            line += f"; {peak:.1f}% below the plan sized for the peak"
        return line


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
    ):
        self.problem, self.curves, self.prices = problem, curves, prices
        self.H, self.w = month_hours, month_hours / curves.periods
        self.solver = make_solver(solver, mip_gap, time_limit_s, warm=True)
        self.time_limit_s = time_limit_s
        self.lp = pulp.LpProblem("gpu_mix_over_time", pulp.LpMinimize)
        self.n: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self.y: dict[tuple[int, int, int, int], pulp.LpVariable] = {}
        self.R: dict[str, pulp.LpVariable] = {}
        self.O: dict[tuple[str, int], pulp.LpVariable] = {}
        self.S: dict[tuple[str, int], pulp.LpVariable] = {}
        self.spares: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self._build()

    def rates(self, m: int, t: int) -> np.ndarray:
        """Planned req/s of each bucket of model m in period t."""
        d = self.problem.demands[m]
        return d.buckets.prob * self.curves.rates[m, t] * (1.0 + d.headroom)

    def _build(self) -> None:
        prob, T = self.problem, self.curves.periods
        used: dict[tuple[str, int], list] = {}
        for t in range(T):
            for m, d in enumerate(prob.demands):
                self._route(m, t, d, used)
        cost = []
        for g in prob.gpu_types:
            self.R[g] = new_var(self.lp, f"R_{len(self.R)}", cat=pulp.LpInteger)
            cost.append((self.R[g], self.H * self.prices.committed[g]))
            for t in range(T):
                self._buy(g, t, used.get((g, t), []), cost)
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
        cost.append((o, self.w * self.prices.on_demand[g]))
        bought = [(self.R[g], -1.0), (o, -1.0)]
        spot = self.prices.spot[g]
        if spot is not None:
            s = self.S[(g, t)] = new_var(self.lp, f"S_{k}", 0.0, float(self.prices.spot_cap[g]))
            cost.append((s, self.w * spot))
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
                now = [(v, c) for v, c in self._used(g, tt)]
                before = [(v, -c) for v, c in self._used(g, (tt - 1) % T)]
                self.lp += pulp.LpConstraint(
                    pulp.LpAffineExpression(now + before),
                    pulp.LpConstraintLE,
                    f"up{k}_{tt}",
                    float(up),
                )

    def _used(self, g: str, t: int) -> list:
        """(n variable, GPUs per replica) of every pool of type g in period t."""
        pools = self.problem.pools
        return [
            (v, float(pools[p].gpus))
            for (m, p, tt), v in self.n.items()
            if tt == t and pools[p].gpu == g
        ]

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


def plan_over_time(spec: PlanSpec | str, provider=None) -> TimePlan:
    """The cheapest fleet per period for a plan whose models have rate curves."""
    from planner.mix.api import as_spec  # lazy: planner.mix.api plans a curve at its peak

    spec = as_spec(spec)
    if not spec.over_time:
        raise PlanSpecError("plan_over_time needs a rate_curve on every model")
    if spec.max_gpu_types is not None:
        raise PlanSpecError("max_gpu_types is not supported with rate curves; remove it")
    c = curves(spec)
    peak_spec = at_rates(spec, c.rates.max(axis=1))
    problem = build_problem(peak_spec, provider)
    cost = prices(spec)
    opts = {"solver": spec.solver, "mip_gap": spec.mip_gap, "time_limit_s": spec.time_limit_s}
    start = time.perf_counter()
    peak = MixSolver(problem, **opts).solve()
    statics = [_static("peak", problem, peak, c, cost, spec.schedule.month_hours)]
    mean_problem = replace(
        problem,
        demands=tuple(
            d.with_rate(float(r))
            for d, r in zip(problem.demands, c.rates.mean(axis=1), strict=True)
        ),
    )
    mean = MixSolver(mean_problem, **opts).solve()
    statics.append(_static("mean", problem, mean, c, cost, spec.schedule.month_hours))
    common = {
        "static": tuple(statics),
        "rates": tuple(map(tuple, c.rates.tolist())),
        "models": tuple(m.name for m in spec.models),
        "period_hours": c.period_hours,
        "month_hours": spec.schedule.month_hours,
        "issues": tuple(_warnings(spec, cost)),
    }
    if not peak.feasible:
        return TimePlan(
            spec.name,
            False,
            peak.status,
            "the peak cannot be served: " + peak.proof(spec.time_limit_s),
            None,
            {},
            (),
            (),
            **common,
        )
    model = TimeMixModel(problem, c, cost, spec.schedule.month_hours, **opts)
    model.warm_start(peak.replicas, peak.flows)
    status, value, gap = model.solve()
    elapsed = time.perf_counter() - start
    if status in ("infeasible", "not_solved"):
        why = "no plan found" if status == "not_solved" else "infeasible"
        return TimePlan(
            spec.name,
            False,
            status,
            why,
            None,
            {},
            (),
            (),
            solver=peak.solver,
            solve_time_s=elapsed,
            **common,
        )
    gap_text = "" if gap is None or gap < 1e-6 else f" (gap {100 * gap:.2g}%)"
    proof = (
        "proven optimal" if status == "optimal" else f"best found within {spec.time_limit_s:g} s"
    ) + gap_text
    fleet, bill = _fleet(model)
    return TimePlan(
        spec.name,
        True,
        status,
        proof,
        value,
        bill,
        fleet,
        _pools(model),
        solver=peak.solver,
        solve_time_s=elapsed,
        gap=gap,
        **common,
    )


def _static(sized_for: str, problem: Problem, sol, c: Curves, cost: Prices, H: float) -> StaticPlan:
    """A fleet held all month at the cheaper class price; periods whose traffic it cannot
    carry (min-peak-utilization routing above 100%) are counted."""
    if not sol.feasible:
        return StaticPlan(sized_for, False, None, {}, note=sol.proof())
    gpus = sol.gpus_by_type(problem)
    month = H * sum(n * min(cost.committed[g], cost.on_demand[g]) for g, n in gpus.items())
    short = 0
    for t in range(c.periods):
        for m, d in enumerate(problem.demands):
            lam = d.buckets.prob * c.rates[m, t] * (1.0 + d.headroom)
            flow = balance(lam, d.capacity.rate, sol.replicas[m])
            if flow is None or utilization(flow, d.capacity.rate, sol.replicas[m]).max() > 1 + 1e-6:
                short += 1
                break
    note = f"short of capacity in {short} of {c.periods} periods (SLO missed)" if short else None
    return StaticPlan(sized_for, True, month, gpus, short, note)


def _fleet(model: TimeMixModel) -> tuple[tuple[PeriodFleet, ...], dict[str, float]]:
    """GPUs per (period, type) by class, and the monthly bill by class."""
    rows, bill = [], dict.fromkeys(CLASSES, 0.0)
    for g, r in model.R.items():
        committed = round(r.varValue or 0.0)
        bill["committed"] += model.H * committed * model.prices.committed[g]
        for t in range(model.curves.periods):
            used = round(sum(c * (v.varValue or 0.0) for v, c in model._used(g, t)))
            spot_var = model.S.get((g, t))
            spot = min(round(spot_var.varValue or 0.0) if spot_var else 0, max(used - committed, 0))
            on_demand = max(used - committed - spot, 0)
            bill["on_demand"] += model.w * on_demand * model.prices.on_demand[g]
            bill["spot"] += model.w * spot * (model.prices.spot[g] or 0.0)
            rows.append(PeriodFleet(t, g, used, committed, on_demand, spot))
    return tuple(r for r in rows if r.gpus or r.committed), bill


def _pools(model: TimeMixModel) -> tuple[PeriodPool, ...]:
    """Replicas per (period, model, pool) with their routed req/s."""
    out = []
    for (m, p, t), v in sorted(model.n.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        n = round(v.varValue or 0.0)
        if n == 0:
            continue
        rate = sum(
            y.varValue or 0.0 for (mm, _, pp, tt), y in model.y.items() if (mm, pp, tt) == (m, p, t)
        )
        pool = model.problem.pools[p]
        d = model.problem.demands[m]
        out.append(PeriodPool(t, d.name, pool.name, pool.gpu, n, n * pool.gpus, rate))
    return tuple(out)


def _warnings(spec: PlanSpec, cost: Prices) -> list[Issue]:
    """Legal but suspicious pricing: reserved dearer than on-demand, spot caps above caps."""
    out = []
    for g in spec.gpus:
        if spec.schedule.committed and cost.committed[g.name] > cost.on_demand[g.name]:
            out.append(
                Issue(
                    "warning",
                    f"{g.name}: reserved ${cost.committed[g.name]:.4g}/GPU-h is dearer than "
                    f"on-demand ${cost.on_demand[g.name]:.4g}; no committed base will be bought",
                    "check reserved_usd_per_hour (or the catalog's quotes, from other providers)",
                )
            )
        if g.max_spot_gpus and g.max_gpus is not None and g.max_spot_gpus > g.max_gpus:
            out.append(
                Issue(
                    "warning",
                    f"{g.name}: max_spot_gpus {g.max_spot_gpus} is above max_gpus {g.max_gpus}",
                    "spot GPUs count against max_gpus; lower max_spot_gpus",
                )
            )
        if g.max_spot_gpus and cost.spot[g.name] is None:
            out.append(
                Issue(
                    "warning",
                    f"{g.name}: max_spot_gpus is set but no spot price is known; spot is not used",
                    "set spot_usd_per_hour",
                )
            )
    return out
