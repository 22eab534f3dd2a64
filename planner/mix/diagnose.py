"""Why a plan is infeasible, and the smallest change that makes it feasible.

Three causes, checked in order:

1. A bucket no pool can serve (capacity 0 everywhere): the reasons per pool, and the tightest
   SLO that would let some pool serve it: the least factor s ∈ (1, 64] with κ_bp(SLO·s) > 0
   for some p, found by bisection on the provider (capacities only grow as the SLO loosens).
2. GPU caps (with the redundancy floors): the elastic MILP
       minimize Σ_g s_g   s.t. the plan's constraints with Σ_{m,p∈g} G_p n_mp ≤ N_g + s_g
   gives the smallest total cap raise; a second MILP, maximize t s.t. Σ_p y_mbp = t·λ_mb, gives
   the largest share of the traffic the current caps carry.
3. The type limit K (feasible without it): minimize Σ_g z_g gives the fewest types needed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pulp

from planner.mix.capacity import CapacityProvider
from planner.mix.formulation import MixModel, new_var
from planner.mix.problem import ModelDemand, Problem
from planner.mix.result import Issue
from planner.mix.solve import MixSolver
from planner.mix.traffic import Buckets

MAX_SLO_SCALE = 64.0


def bucket_issues(
    problem: Problem,
    unroutable: list[tuple[int, int]],
    provider: CapacityProvider | None = None,
) -> list[Issue]:
    """One issue per (model, bucket) with rate > 0 and no eligible pool."""
    issues = []
    for m, b in unroutable:
        d = problem.demands[m]
        label = d.buckets.labels[b]
        why = "; ".join(
            f"{pool.name}: {d.capacity.reasons.get((b, p), 'capacity 0')}"
            for p, pool in enumerate(problem.pools)
        )
        msg = (
            f"model {d.name!r}, bucket {label} ({d.bucket_rates[b]:.4g} req/s) has no pool "
            f"meeting the SLO: {why}"
        )
        issues.append(Issue("bucket", msg, slo_suggestion(problem, d, b, provider), d.name, label))
    return issues


def slo_suggestion(
    problem: Problem, d: ModelDemand, b: int, provider: CapacityProvider | None
) -> str:
    """The tightest loosened SLO under which some pool serves bucket b, as advice."""
    if provider is None or d.slo is None:
        return "add a GPU type or replica configuration that can serve this request size"
    scale = loosening_needed(problem, d, b, provider)
    if scale is None:
        return (
            f"no SLO up to {MAX_SLO_SCALE:g}x looser helps (the pools are ineligible for "
            "other reasons); add a GPU type or a larger replica configuration"
        )
    return (
        f"feasible if the SLO were loosened x{scale:.3g} to {d.slo.scaled(scale).describe()}, "
        "or add a faster GPU type"
    )


def loosening_needed(
    problem: Problem, d: ModelDemand, b: int, provider: CapacityProvider, rel: float = 1e-3
) -> float | None:
    """Least s in (1, 64] such that some pool has capacity for bucket b at SLO x s, to ``rel``
    (geometric bisection); None when even 64x does not help."""
    assert d.slo is not None
    one = Buckets(
        d.buckets.labels[b : b + 1],
        d.buckets.input_tokens[b : b + 1],
        d.buckets.output_tokens[b : b + 1],
        np.ones(1),
        None if d.buckets.grid_index is None else d.buckets.grid_index[b : b + 1],
    )

    def serves(scale: float) -> bool:
        slo = d.slo.scaled(scale)  # type: ignore[union-attr]
        return any(provider.capacity(d.name, pool, one, slo).rate[0] > 0 for pool in problem.pools)

    if not serves(MAX_SLO_SCALE):
        return None
    lo, hi = 1.0, MAX_SLO_SCALE
    while hi / lo > 1 + rel:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if serves(mid) else (mid, hi)
    return hi


def constraint_issues(problem: Problem, **solver_options) -> list[Issue]:
    """Issues of a problem whose buckets are all servable but which has no feasible plan."""
    no_k = replace(problem, max_gpu_types=None)
    if problem.max_gpu_types is not None and MixSolver(no_k, **solver_options).solve().feasible:
        return [types_issue(problem, **solver_options)]
    return cap_issues(no_k, **solver_options)


def types_issue(problem: Problem, **solver_options) -> Issue:
    """The fewest GPU types any feasible plan needs (minimize Σ z_g under the caps)."""
    model = MixModel(replace(problem, max_gpu_types=len(problem.gpu_types)), **solver_options)
    model.lp.setObjective(pulp.LpAffineExpression([(z, 1.0) for z in model.z.values()]))
    model.lp.solve(model.solver)
    used = [g for g, z in model.z.items() if (z.varValue or 0) > 0.5]
    k = len(used)
    return Issue(
        "types",
        f"no plan with at most {problem.max_gpu_types} GPU type(s) serves every bucket under "
        f"the caps; the fewest that can is {k} ({', '.join(used)})",
        f"set max_gpu_types: {k}",
    )


def cap_issues(problem: Problem, **solver_options) -> list[Issue]:
    """Smallest cap raise (elastic MILP) and the share of traffic the current caps carry."""
    model = MixModel(problem, **solver_options)
    slack = {}
    for g, row in model.type_rows.items():
        s = new_var(model.lp, f"slack_{len(slack)}", cat=pulp.LpInteger)
        row.expr[s] = -1.0
        slack[g] = s
    model.lp.setObjective(pulp.LpAffineExpression([(s, 1.0) for s in slack.values()]))
    model.lp.solve(model.solver)
    raises = {g: round(s.varValue or 0) for g, s in slack.items() if (s.varValue or 0) > 0.5}
    share = servable_share(problem, **solver_options)
    carried = (
        f"the current caps carry at most {100 * share:.1f}% of the planned traffic"
        if share is not None
        else "the redundancy floors alone exceed the caps"
    )
    if not raises:
        return [Issue("caps", f"the GPU caps make the plan infeasible; {carried}")]
    parts = [
        f"{g} from {problem.gpu_caps[g]} to {problem.gpu_caps[g] + r}" for g, r in raises.items()
    ]
    return [
        Issue(
            "caps",
            f"the GPU caps (max_gpus) are too small for the planned rate and floors; {carried}",
            "raise max_gpus of " + ", ".join(parts) + " (the smallest total raise)",
        )
    ]


def servable_share(problem: Problem, **solver_options) -> float | None:
    """Largest t ≤ 1 with every bucket's rate x t routable under the caps (None: not even 0)."""
    model = MixModel(problem, **solver_options)
    t = new_var(model.lp, "share", 0, 1)
    for m, rows in enumerate(model.demand_rows):
        rates = problem.demands[m].bucket_rates
        for b, row in rows.items():
            row.expr[t] = -float(rates[b])
            row.changeRHS(0.0)
    model.lp.setObjective(pulp.LpAffineExpression([(t, -1.0)]))
    model.lp.solve(model.solver)
    if pulp.LpStatus.get(model.lp.status) != "Optimal":
        return None
    return float(t.varValue or 0.0)
