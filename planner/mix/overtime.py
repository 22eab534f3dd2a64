"""Plans over time (``plan_over_time``): the rate curves, the MILP of
:mod:`planner.mix.timemodel` warm-started from the plan sized for each model's peak, the fleet
and bill read back, and the peak- and mean-sized single plans to compare with."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from planner.mix.curves import CLASSES, Curves, Prices, at_rates, curves, prices
from planner.mix.errors import PlanSpecError
from planner.mix.formulation import proof_text
from planner.mix.problem import Problem, build_problem
from planner.mix.result import Issue
from planner.mix.routing import balance, utilization
from planner.mix.solve import MixSolver
from planner.mix.spec import PlanSpec
from planner.mix.time_result import PeriodFleet, PeriodPool, StaticPlan, TimePlan
from planner.mix.timemodel import TimeMixModel


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
    if not peak.feasible:  # say what to change, as a one-rate plan at the peak would
        from planner.mix.api import solve_problem

        diag = solve_problem(problem, provider, compare_single_type=False, price_headroom=False,
                             **opts)  # fmt: skip
        common["issues"] = (*common["issues"], *diag.issues)
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
    merged, hours, inverse = distinct_periods(c, cost, spec.schedule.month_hours)
    model = TimeMixModel(problem, merged, cost, spec.schedule.month_hours, hours=hours, **opts)
    model.warm_start(peak.replicas, peak.flows)
    status, value, gap = model.solve()
    elapsed = time.perf_counter() - start
    proof = proof_text(status, gap, spec.time_limit_s)
    if status in ("infeasible", "not_solved"):
        return TimePlan(
            spec.name,
            False,
            status,
            proof,
            None,
            {},
            (),
            (),
            solver=peak.solver,
            solve_time_s=elapsed,
            **common,
        )
    fleet, bill = _fleet(model, inverse)
    return TimePlan(
        spec.name,
        True,
        status,
        proof,
        value,
        bill,
        fleet,
        _pools(model, inverse),
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


def distinct_periods(c: Curves, cost: Prices, month_hours: float):
    """(curves, hours a month, index of each period): periods of equal rates merged into one
    billed for all of them when no scale-up limit orders the periods (exact: see
    planner.mix.timemodel); else the periods as they are."""
    T = c.periods
    if any(up is not None for up in cost.scale_up.values()):
        return c, np.full(T, month_hours / T), np.arange(T)
    rates, inverse, counts = np.unique(c.rates.T, axis=0, return_inverse=True, return_counts=True)
    return Curves(rates.T.copy(), c.period_hours), counts * month_hours / T, inverse.ravel()


def _fleet(
    model: TimeMixModel, inverse: np.ndarray
) -> tuple[tuple[PeriodFleet, ...], dict[str, float]]:
    """GPUs per (period, type) by class, and the monthly bill by class; ``inverse[τ]`` is
    the model period of period τ."""
    rows, bill = [], dict.fromkeys(CLASSES, 0.0)
    for g, r in model.R.items():
        committed = round(r.varValue or 0.0)
        bill["committed"] += model.H * committed * model.prices.committed[g]
        fleet = []
        for t in range(model.curves.periods):
            used = round(sum(c * (v.varValue or 0.0) for v, c in model.uses(g, t)))
            spot_var = model.S.get((g, t))
            spot = min(round(spot_var.varValue or 0.0) if spot_var else 0, max(used - committed, 0))
            on_demand = max(used - committed - spot, 0)
            bill["on_demand"] += model.hours[t] * on_demand * model.prices.on_demand[g]
            bill["spot"] += model.hours[t] * spot * (model.prices.spot[g] or 0.0)
            fleet.append((used, committed, on_demand, spot))
        rows += [PeriodFleet(tau, g, *fleet[t]) for tau, t in enumerate(inverse)]
    return tuple(r for r in rows if r.gpus or r.committed), bill


def _pools(model: TimeMixModel, inverse: np.ndarray) -> tuple[PeriodPool, ...]:
    """Replicas per (period, model, pool) with their routed req/s."""
    routed: dict[tuple[int, int, int], float] = {}
    for (m, _, p, t), y in model.y.items():
        routed[(m, p, t)] = routed.get((m, p, t), 0.0) + (y.varValue or 0.0)
    by_period: dict[int, list[PeriodPool]] = {}
    for (m, p, t), v in sorted(model.n.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        n = round(v.varValue or 0.0)
        if n == 0:
            continue
        rate = routed.get((m, p, t), 0.0)
        pool = model.problem.pools[p]
        d = model.problem.demands[m]
        by_period.setdefault(t, []).append(PeriodPool(0, d.name, pool.name, pool.gpu, n,
                                                      n * pool.gpus, rate))  # fmt: skip
    return tuple(
        replace(row, period=tau) for tau, t in enumerate(inverse) for row in by_period.get(t, [])
    )


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
