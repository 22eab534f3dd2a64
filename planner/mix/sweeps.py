"""Cost curves (the Mélange figures): cheapest mix and each single-type plan against the
request rate and against the SLO.

Rate sweeps re-solve one built MILP with the routing right-hand sides scaled; SLO sweeps need
new capacities, so each point builds its instance again (one MILP per point).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from planner.mix.api import PlanLike, as_spec
from planner.mix.capacity import CapacityProvider
from planner.mix.problem import Problem, build_problem, make_provider
from planner.mix.solve import MixSolver


def _models(problem: Problem, options: dict) -> tuple[MixSolver, dict[str, MixSolver]]:
    """The mix model and one model per GPU type, each built once."""
    singles = {g: MixSolver(problem.only([g]), **options) for g in problem.gpu_types}
    return MixSolver(problem, **options), singles


def _point(
    model: MixSolver, singles: dict[str, MixSolver], scale: float = 1.0
) -> dict[str, float | str | None]:
    """Mix cost, each type's cost alone, the best single type and the savings at one point."""
    mix = model.solve(scale)
    row: dict[str, float | str | None] = {"mix_usd_per_hour": mix.cost if mix.feasible else None}
    singles_cost = {}
    for g, single in singles.items():
        s = single.solve(scale)
        singles_cost[g] = s.cost if s.feasible else None
        row[f"{g}_usd_per_hour"] = singles_cost[g]
    ok = {g: c for g, c in singles_cost.items() if c is not None}
    best = min(ok, key=ok.__getitem__) if ok else None
    row["best_single_gpu"] = best
    row["best_single_usd_per_hour"] = ok.get(best) if best else None
    if best and mix.feasible:
        row["savings_pct"] = 100.0 * (ok[best] - mix.cost) / ok[best]
    else:
        row["savings_pct"] = None
    return row


def cost_vs_rate(
    spec: PlanLike | Problem,
    scales: Iterable[float] | None = None,
    provider: CapacityProvider | None = None,
    **solver_options,
) -> pd.DataFrame:
    """One row per rate multiplier: total offered rate (req/s), mix and single-type $/h."""
    if isinstance(spec, Problem):
        problem, scales = spec, list(scales or (0.5, 1.0, 2.0))
    else:
        plan = as_spec(spec)
        problem = build_problem(plan, provider or make_provider(plan))
        scales = list(scales or plan.sweeps.rate_scales)
        solver_options = _options(plan) | solver_options
    model, singles = _models(problem, solver_options)
    base = sum(d.rate_rps for d in problem.demands)
    rows = []
    for s in scales:
        row = {"rate_scale": s, "rate_rps": base * s}
        row |= _point(model, singles, s) if not model.unroutable else _empty(problem)
        rows.append(row)
    return pd.DataFrame(rows)


def cost_vs_slo(
    spec: PlanLike,
    scales: Iterable[float] | None = None,
    provider: CapacityProvider | None = None,
    **solver_options,
) -> pd.DataFrame:
    """One row per SLO multiplier (> 1 looser): the SLO, mix and single-type $/h."""
    plan = as_spec(spec)
    provider = provider or make_provider(plan)
    scales = list(scales or plan.sweeps.slo_scales)
    solver_options = _options(plan) | solver_options
    rows = []
    for s in scales:
        problem = build_problem(plan, provider, slo_scale=s)
        slo = problem.demands[0].slo
        row = {"slo_scale": s, "slo": None if slo is None else slo.describe()}
        model, singles = _models(problem, solver_options)
        row |= _point(model, singles) if not model.unroutable else _empty(problem)
        rows.append(row)
    return pd.DataFrame(rows)


def _empty(problem: Problem) -> dict[str, float | str | None]:
    """A point where some bucket has no eligible pool: every cost missing."""
    row: dict[str, float | str | None] = {"mix_usd_per_hour": None}
    row |= {f"{g}_usd_per_hour": None for g in problem.gpu_types}
    return row | {"best_single_gpu": None, "best_single_usd_per_hour": None, "savings_pct": None}


def _options(plan) -> dict:
    return {"solver": plan.solver, "mip_gap": plan.mip_gap, "time_limit_s": plan.time_limit_s}
