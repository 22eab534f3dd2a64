"""``plan(spec) -> Allocation``: build the instance, solve the MILP once, re-solve it for the
single-type baselines, balance the routing, and explain infeasibility."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from planner.mix.capacity import NEAR_ZERO_SHARE, CapacityProvider
from planner.mix.diagnose import bucket_issues, constraint_issues
from planner.mix.formulation import ABS_GAP, Solution
from planner.mix.plan_file import load_plan, validate_plan
from planner.mix.problem import Problem, build_problem, make_provider
from planner.mix.result import (
    Allocation,
    Baseline,
    Exclusion,
    HeadroomCost,
    Issue,
    ModelSummary,
    PoolAllocation,
    Route,
    SliceResult,
)
from planner.mix.routing import balance, utilization
from planner.mix.searched import resolve_searched
from planner.mix.slices import SliceModel, compare_slices
from planner.mix.solve import MixSolver, routing_columns
from planner.mix.spec import PlanSpec

PlanLike = PlanSpec | str | Path | dict


def as_spec(spec: PlanLike) -> PlanSpec:
    """A PlanSpec from itself, a plan file path, or a dict, with its searched configurations
    resolved (planner.mix.searched: each GPU's ``search`` runs once here)."""
    if isinstance(spec, dict):
        spec = validate_plan(spec)
    elif not isinstance(spec, PlanSpec):
        spec = load_plan(spec)
    if spec.over_time and any(g.search is not None for g in spec.gpus):
        from planner.mix.curves import at_rates, curves  # configurations for each model's peak

        peak = resolve_searched(at_rates(spec, curves(spec).rates.max(axis=1)))
        return spec.model_copy(update={"gpus": peak.gpus})
    return resolve_searched(spec)


def plan(spec: PlanLike, provider: CapacityProvider | None = None) -> Allocation:
    """The cheapest GPU mix for ``spec`` (a PlanSpec, a path to a plan file, or a dict); a
    plan with rate curves gets one fleet sized for each model's peak (see
    :func:`planner.mix.overtime.plan_over_time` for the fleet per period).

    ``provider`` overrides the plan's capacity source. Infeasible plans come back as an
    Allocation with ``feasible=False`` and ``issues`` saying what to change.
    """
    spec = as_spec(spec)
    if spec.over_time:  # one fleet for every period: sized for each model's peak
        from planner.mix.curves import at_rates, curves

        spec = at_rates(spec, curves(spec).rates.max(axis=1))
    provider = provider or make_provider(spec)
    problem = build_problem(spec, provider)
    return solve_problem(
        problem,
        provider=provider,
        solver=spec.solver,
        mip_gap=spec.mip_gap,
        time_limit_s=spec.time_limit_s,
        compare_single_type=spec.compare_single_type,
        slice_factors=spec.slice_factors,
        slice_comparison=spec.slice_comparison,
    )


def solve_problem(
    problem: Problem,
    provider: CapacityProvider | None = None,
    solver: str = "auto",
    mip_gap: float = 0.0,
    time_limit_s: float = 60.0,
    compare_single_type: bool = True,
    slice_factors: Iterable[int] = (),
    balance_routing: bool = True,
    slice_comparison: str = "auto",
    price_headroom: bool = True,
) -> Allocation:
    """Solve ``problem`` (built once) and assemble the :class:`Allocation`; the comparisons
    (single types, Mélange's slices) run under the same solver and time budget and carry their
    own proof status."""
    opts: dict[str, Any] = {"solver": solver, "mip_gap": mip_gap, "time_limit_s": time_limit_s}
    model = MixSolver(problem, **opts)
    common = _common(problem, provider)
    if model.unroutable:
        issues = bucket_issues(problem, model.unroutable, provider)
        return Allocation(problem.name, False, "infeasible", None, issues=tuple(issues), **common)
    sol = model.solve()
    slices = tuple(_slice_result(problem, s, sol, opts, slice_comparison) for s in slice_factors)
    if not sol.feasible:
        issues = (
            [_time_limit_issue(time_limit_s)]
            if sol.status == "not_solved"
            else constraint_issues(problem, **opts)
        )
        return Allocation(
            problem.name,
            False,
            sol.status,
            None,
            issues=tuple(issues),
            slices=slices,
            solver=sol.solver,
            solve_time_s=sol.solve_time_s,
            proof=sol.proof(time_limit_s),
            **common,
        )
    flows = [
        _balanced(problem, sol, m) if balance_routing else sol.flows[m]
        for m in range(len(problem.demands))
    ]
    baselines = _baselines(problem, opts) if compare_single_type else ()
    headroom = _headroom_costs(problem, sol, opts) if price_headroom else ()
    status, warnings = sanity_warnings(problem, sol, mip_gap, time_limit_s)
    return Allocation(
        problem.name,
        True,
        status,
        sol.cost,
        issues=tuple(warnings + _notes(problem, slices)),
        pools=_pools(problem, sol, flows, provider),
        routes=_routes(problem, flows),
        baselines=baselines,
        slices=slices,
        headroom_costs=headroom,
        solver=sol.solver,
        solve_time_s=sol.solve_time_s,
        proof=sol.proof(time_limit_s) if status == sol.status else f"{status} ({sol.proof()})",
        gap=sol.gap,
        bound_usd_per_hour=sol.bound,
        **common,
    )


def _headroom_costs(problem: Problem, sol: Solution, opts: dict[str, Any]) -> tuple:
    """Each stated headroom kind priced: the plan's cost minus the plan's without it."""
    out = []
    for kind, setting in problem.headroom().items():
        other = MixSolver(problem.without(kind), **opts).solve()
        added = sol.cost - other.cost if other.feasible else None
        out.append(HeadroomCost(kind, setting, added, other.proof(opts["time_limit_s"])))
    return tuple(out)


def _notes(problem: Problem, slices: tuple[SliceResult, ...]) -> list[Issue]:
    """``note`` issues: near-zero capacities dropped, comparisons skipped."""
    out = []
    dropped = sum(d.capacity.near_zero for d in problem.demands)
    if dropped:
        out.append(Issue(
            "note",
            f"{dropped} (bucket, pool) capacities below {NEAR_ZERO_SHARE:.1%} of their bucket's "
            "best pool were treated as cannot serve",
            "give 0 (or leave out) a pool that cannot serve a bucket",
        ))  # fmt: skip
    for s in slices:
        if s.proof.startswith("skipped"):
            out.append(Issue(
                "note",
                f"Mélange's slice formulation at S = {s.slice_factor}: {s.proof}",
                "set slice_comparison: always to solve it within time_limit_s",
            ))  # fmt: skip
    return out


#: sanity limits: a feasible plan beyond them is legal but almost surely a mistake
MAX_SANE_GPUS = 5_000
MAX_SANE_RATE_RATIO = 1_000.0  # offered rate / the largest single-replica capacity
PROVEN_GAP = 0.01  # "optimal" only when the solver proved the plan within 1% of the optimum


def sanity_warnings(
    problem: Problem, sol: Solution, mip_gap: float, time_limit_s: float
) -> tuple[str, list[Issue]]:
    """The status to report and the ``warning`` issues of a feasible plan: more than
    ``MAX_SANE_GPUS`` GPUs, a rate beyond ``MAX_SANE_RATE_RATIO`` x the largest replica
    capacity, or a solver that did not prove the plan within ``PROVEN_GAP`` (a ``mip_gap``
    above it, a measured gap above ``mip_gap``, or the time limit); such a plan is labelled
    "feasible", never "optimal"."""
    out = []
    gpus = int(sum(sol.replicas[:, p].sum() * pool.gpus for p, pool in enumerate(problem.pools)))
    if gpus > MAX_SANE_GPUS:
        out.append(Issue(
            "warning",
            f"the plan needs {gpus:,} GPUs (more than {MAX_SANE_GPUS:,})",
            "check rate_rps (requests per second) and the capacities; split a plan this size "
            "by region or cluster",
        ))  # fmt: skip
    for d in problem.demands:
        cap = float(np.max(d.capacity.rate, initial=0.0))
        if cap > 0 and d.rate_rps > MAX_SANE_RATE_RATIO * cap:
            out.append(Issue(
                "warning",
                f"{d.name}: rate {d.rate_rps:,.4g} req/s is {d.rate_rps / cap:,.0f}x the largest "
                f"single-replica capacity ({cap:.4g} req/s): check the rate and its unit",
                "rate_rps is requests per second (not per minute or per hour)",
                model=d.name,
            ))  # fmt: skip
    status = sol.status
    allowed = max(mip_gap, ABS_GAP / sol.cost if sol.cost > 0 else 0.0) * (1 + 1e-6)
    if status == "optimal" and (mip_gap > PROVEN_GAP or (sol.gap or 0.0) > allowed):
        status = "feasible"
        out.append(Issue(
            "warning",
            f"the solver stopped within mip_gap {mip_gap:g} ({mip_gap * 100:g}% of the cost): "
            "the plan is not proven cheapest",
            f"set mip_gap to at most {PROVEN_GAP:g} (a fraction: 0.01 means 1%)",
        ))  # fmt: skip
    elif status == "feasible":
        out.append(Issue(
            "warning",
            f"the solver stopped at the time limit ({time_limit_s:g} s) with a plan not proven "
            "cheapest",
            "raise time_limit_s, or use fewer buckets or pools",
        ))  # fmt: skip
    return status, out


def _time_limit_issue(time_limit_s: float) -> Issue:
    """The solver stopped before it found any plan."""
    return Issue(
        "solver",
        f"the MILP solver stopped at the time limit ({time_limit_s:g} s) before finding a plan",
        "raise time_limit_s or mip_gap, or use fewer buckets or pools",
    )


def _common(problem: Problem, provider: CapacityProvider | None) -> dict[str, Any]:
    """Fields every Allocation carries: model summaries, exclusions, headroom, source."""
    return {
        "models": tuple(_summary(d) for d in problem.demands),
        "exclusions": tuple(_exclusions(problem)),
        "headroom": problem.demands[0].headroom if problem.demands else 0.0,
        "capacity_source": getattr(provider, "name", "arrays") if provider else "arrays",
    }


def _summary(d) -> ModelSummary:
    """Offered and planned rate, SLO text and tokens/s of one model."""
    per_req = float(np.sum(d.buckets.prob * (d.buckets.input_tokens + d.buckets.output_tokens)))
    tps = d.rate_rps * per_req if math.isfinite(per_req) else None
    return ModelSummary(
        d.name,
        d.rate_rps,
        d.planned_rate,
        len(d.buckets),
        None if d.slo is None else d.slo.describe(),
        tps,
    )


def _exclusions(problem: Problem) -> list[Exclusion]:
    """Ineligible (bucket, pool) pairs of buckets with traffic, with their reasons."""
    out = []
    for d in problem.demands:
        for (b, p), why in sorted(d.capacity.reasons.items()):
            if d.bucket_rates[b] > 0:
                out.append(Exclusion(d.name, d.buckets.labels[b], problem.pools[p].name, why))
    return out


def _balanced(problem: Problem, sol: Solution, m: int) -> np.ndarray:
    """Min-peak-utilization routing for the solved replicas (the MILP's if the LP fails)."""
    d = problem.demands[m]
    flow = balance(d.bucket_rates, d.capacity.rate, sol.replicas[m])
    return sol.flows[m] if flow is None else flow


def _pools(problem: Problem, sol: Solution, flows, provider) -> tuple[PoolAllocation, ...]:
    """One row per (model, pool) with replicas, with utilization (of a replica's full
    capacity: at most the pool's target) and predicted latency."""
    target = np.array([pool.utilization_target for pool in problem.pools])
    rows = []
    for m, d in enumerate(problem.demands):
        util = utilization(flows[m], d.capacity.rate, sol.replicas[m]) * target
        for p, pool in enumerate(problem.pools):
            n = int(sol.replicas[m, p])
            if n == 0:
                continue
            rate = float(flows[m][:, p].sum())
            lat = _predict(provider, d, pool, flows[m][:, p], n)
            rows.append(
                PoolAllocation(
                    d.name,
                    pool.name,
                    pool.gpu,
                    pool.tp,
                    pool.pp,
                    n,
                    n * pool.gpus,
                    n * pool.usd_per_hour,
                    rate,
                    float(min(util[p], 1.0)),
                    lat.get("ttft_s"),
                    lat.get("tpot_s"),
                )
            )
    return tuple(rows)


def _predict(provider, d, pool, flow: np.ndarray, replicas: int) -> dict[str, float]:
    """TTFT/TPOT of one replica at its routed rate, when the provider can predict them."""
    predict = getattr(provider, "predict", None)
    if predict is None or flow.sum() <= 0:
        return {}
    return predict(d.name, pool, d.buckets, flow / flow.sum(), flow.sum() / replicas, d.slo) or {}


def _routes(problem: Problem, flows) -> tuple[Route, ...]:
    """Load-balancer entries: bucket -> pool weights (shares of the bucket's requests)."""
    out = []
    for m, d in enumerate(problem.demands):
        rates = d.bucket_rates
        for b in np.flatnonzero(rates > 0):
            for p in np.flatnonzero(flows[m][b] > 1e-12 * rates[b]):
                out.append(
                    Route(
                        d.name,
                        d.buckets.labels[b],
                        float(d.buckets.input_tokens[b]),
                        float(d.buckets.output_tokens[b]),
                        float(rates[b]),
                        problem.pools[p].name,
                        float(flows[m][b, p] / rates[b]),
                    )
                )
    return tuple(out)


def _baselines(problem: Problem, opts: dict[str, Any]) -> tuple[Baseline, ...]:
    """The cheapest plan of each GPU type alone (its pools only; K does not bind): closed form
    for a type with one pool, else one MILP per type, those run concurrently (HiGHS and CBC
    release the interpreter while they solve); a thread pool only when two or more MILPs."""
    milps = [g for g in problem.gpu_types if sum(p.gpu == g for p in problem.pools) > 1]
    if len(milps) < 2:
        return tuple(_baseline(problem, g, opts) for g in problem.gpu_types)
    workers = max(1, min(len(milps), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return tuple(pool.map(lambda g: _baseline(problem, g, opts), problem.gpu_types))


def _baseline(problem: Problem, gpu: str, opts: dict[str, Any]) -> Baseline:
    """The cheapest plan of GPU type ``gpu`` alone (closed form for a type with one pool, else
    a MILP under the plan's solver and time budget)."""
    sub = problem.only([gpu])
    if len(sub.pools) == 1:
        return _single_pool_baseline(problem, sub, gpu)
    sol = MixSolver(sub, **opts).solve()
    if sol.feasible:
        proof = sol.proof(opts["time_limit_s"])
        return Baseline(
            gpu, True, sol.cost, sol.gpus_by_type(sub).get(gpu, 0), None, proof, sol.gap
        )
    return Baseline(gpu, False, None, 0, _single_reason(problem, gpu), sol.proof())


def _single_pool_baseline(problem: Problem, sub: Problem, gpu: str) -> Baseline:
    """One pool of one type: every bucket on it, n_m = max(⌈Σ_b λ_b / κ_b⌉, r_m) replicas per
    model, exact (nothing to choose), infeasible when a bucket has κ = 0 or the cap binds."""
    pool = sub.pools[0]
    replicas = 0
    for d in sub.demands:
        served = d.bucket_rates > 0
        if not served.any():
            continue
        cap = d.capacity.rate[served, 0]
        if (cap <= 0).any():
            return Baseline(gpu, False, None, 0, _single_reason(problem, gpu), "infeasible")
        load = math.ceil(float(np.sum(d.bucket_rates[served] / cap)) - 1e-9)
        replicas += max(load + int(pool.n_plus_one), d.min_replicas)
    gpus = replicas * pool.gpus
    if gpus > sub.gpu_caps.get(gpu, gpus):
        return Baseline(gpu, False, None, 0, _single_reason(problem, gpu), "infeasible")
    return Baseline(
        gpu, True, replicas * pool.usd_per_hour, gpus, None, "proven optimal (closed form)"
    )


def _single_reason(problem: Problem, gpu: str) -> str:
    """Why one GPU type alone cannot carry the traffic."""
    cols = [p for p, pool in enumerate(problem.pools) if pool.gpu == gpu]
    for d in problem.demands:
        sub = d.capacity.rate[:, cols]
        blocked = np.flatnonzero((d.bucket_rates > 0) & ~(sub > 0).any(axis=1))
        if blocked.size:
            first = d.buckets.labels[blocked[0]]
            why = d.capacity.reasons.get((int(blocked[0]), cols[0]), "capacity 0")
            more = f" and {blocked.size - 1} more" if blocked.size > 1 else ""
            return f"cannot serve {d.name} bucket {first}{more}: {why}"
    cap = problem.gpu_caps.get(gpu)
    return f"needs more than its cap of {cap} GPUs" if cap is not None else "infeasible"


#: a default run solves Mélange's slice formulation only up to this many integer variables
SLICE_LIMIT = 2_000


def _slice_result(
    problem: Problem, factor: int, split: Solution, opts: dict[str, Any], mode: str = "auto"
) -> SliceResult:
    """Mélange's slice formulation at ``factor``, with its proof status (the continuous
    ``split`` bounds it from below: planner.mix.slices.compare_slices); skipped (said) in
    ``auto`` mode when it has more than ``SLICE_LIMIT`` integer slice counts."""
    size = routing_columns(problem)
    if mode == "auto" and size > SLICE_LIMIT:
        why = f"skipped: {size:,} integer slice counts (a default run solves up to {SLICE_LIMIT:,})"
        return SliceResult(factor, False, None, proof=why)
    if split.feasible:
        sol = compare_slices(problem, factor, split, **opts)
    else:
        sol = SliceModel(problem, factor, **opts).solve()
    proof = sol.proof(opts["time_limit_s"])
    if not sol.feasible:
        return SliceResult(factor, False, None, proof=proof)
    return SliceResult(factor, True, sol.cost, sol.gpus_by_type(problem), proof, sol.gap)
