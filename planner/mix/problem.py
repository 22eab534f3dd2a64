"""The numeric planning instance: pools, per-model bucket rates and capacity matrices, caps.

Built from a :class:`PlanSpec` and a capacity provider (:func:`build_problem`), or directly
from arrays (:func:`problem_from_arrays`) for tests and benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from planner.mix.capacity import (
    CapacityMatrix,
    CapacityProvider,
    TableCapacity,
    capacity_matrix,
    drop_near_zero,
)
from planner.mix.errors import PlanSpecError
from planner.mix.pools import Pool, gpu_caps, plan_pools
from planner.mix.searched import resolve_searched
from planner.mix.spec import PlanSpec, SLOSpec
from planner.mix.traffic import Buckets, model_buckets


@dataclass(frozen=True)
class ModelDemand:
    """One model's traffic and the capacity of every pool for each of its buckets."""

    name: str
    buckets: Buckets
    rate_rps: float  # offered rate before headroom, req/s
    capacity: CapacityMatrix
    headroom: float = 0.0
    min_replicas: int = 0
    slo: SLOSpec | None = None

    @property
    def planned_rate(self) -> float:
        """Rate the plan must carry: ``rate * (1 + headroom)`` req/s."""
        return self.rate_rps * (1.0 + self.headroom)

    @property
    def bucket_rates(self) -> np.ndarray:
        """Planned req/s of each bucket: ``prob * planned_rate``."""
        return self.buckets.prob * self.planned_rate

    def max_replicas(self, p: int, scale: float = 1.0) -> int:
        """Replicas of pool ``p`` an optimal plan never exceeds: every eligible bucket routed
        to ``p`` (``ceil(sum_b scale * lambda_b / kappa_bp)``) plus the redundancy floor."""
        cap = self.capacity.rate[:, p]
        ok = cap > 0
        load = float(np.sum(scale * self.bucket_rates[ok] / cap[ok]))
        return math.ceil(load - 1e-9) + self.min_replicas

    def with_rate(self, rate_rps: float) -> ModelDemand:
        """The same demand at another offered rate."""
        return replace(self, rate_rps=rate_rps)


@dataclass(frozen=True)
class Problem:
    """The GPU-mix instance: pools, demands, GPU caps and the optional type limit K."""

    pools: tuple[Pool, ...]
    demands: tuple[ModelDemand, ...]
    gpu_caps: Mapping[str, int] = field(default_factory=dict)
    max_gpu_types: int | None = None
    name: str = "plan"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpu_caps", MappingProxyType(dict(self.gpu_caps)))

    @property
    def gpu_types(self) -> tuple[str, ...]:
        """GPU types of the pools, in pool order."""
        return tuple(dict.fromkeys(p.gpu for p in self.pools))

    def scaled(self, factor: float) -> Problem:
        """Every model's rate multiplied by ``factor``."""
        return replace(self, demands=tuple(d.with_rate(d.rate_rps * factor) for d in self.demands))

    def type_bound(self, gpu: str, scale: float = 1.0) -> float:
        """Most GPUs of type ``gpu`` an optimal plan uses (the big-M of its type indicator):
        its cap, else Σ G_p · max replicas over its pools and the models they can serve."""
        total = 0.0
        for d in self.demands:
            served = d.bucket_rates > 0
            for p, pool in enumerate(self.pools):
                if pool.gpu == gpu and (d.capacity.rate[served, p] > 0).any():
                    total += pool.gpus * (d.max_replicas(p, scale) + int(pool.n_plus_one))
        cap = self.gpu_caps.get(gpu)
        return float(total if cap is None else min(cap, total))

    def only(self, gpus: Iterable[str]) -> Problem:
        """The instance restricted to the pools of ``gpus`` (capacity columns sliced)."""
        keep = set(gpus)
        cols = [p for p, pool in enumerate(self.pools) if pool.gpu in keep]
        index = {p: k for k, p in enumerate(cols)}
        demands = tuple(
            replace(
                d,
                capacity=CapacityMatrix(
                    d.capacity.rate[:, cols],
                    {
                        (b, index[p]): why
                        for (b, p), why in d.capacity.reasons.items()
                        if p in index
                    },
                ),
            )
            for d in self.demands
        )
        caps = {g: n for g, n in self.gpu_caps.items() if g in keep}
        return replace(
            self, pools=tuple(self.pools[p] for p in cols), demands=demands, gpu_caps=caps
        )

    def headroom(self) -> dict[str, str]:
        """The stated headroom kinds this plan carries, each with its setting in words."""
        out = {}
        rates = {d.headroom for d in self.demands if d.headroom > 0}
        if rates:
            out["rate headroom"] = "rate x " + ", ".join(f"{1 + h:g}" for h in sorted(rates))
        floors = {d.min_replicas for d in self.demands if d.min_replicas > 0}
        if floors:
            out["redundancy floor"] = "min_replicas " + ", ".join(map(str, sorted(floors)))
        targets = {p.utilization_target for p in self.pools if p.utilization_target < 1}
        if targets:
            out["utilization targets"] = ", ".join(f"{100 * u:g}%" for u in sorted(targets))
        spares = [p.name for p in self.pools if p.n_plus_one]
        if spares:
            out["N+1 spares"] = f"{len(spares)} of {len(self.pools)} pools"
        return out

    def without(self, kind: str) -> Problem:
        """The instance without one kind of stated headroom (see :meth:`headroom`)."""
        return _without(self, kind)

    def without_caps(self) -> Problem:
        """No GPU caps and no type limit (for diagnosing infeasibility)."""
        return replace(self, gpu_caps={}, max_gpu_types=None)


def at_targets(cap: CapacityMatrix, pools: Sequence[Pool], inverse: bool = False) -> CapacityMatrix:
    """Capacities at each pool's utilization target: κ_bp · u_p (``inverse``: back to κ)."""
    u = np.array([p.utilization_target for p in pools])
    rate = cap.rate / u[None, :] if inverse else cap.rate * u[None, :]
    return replace(cap, rate=rate)


#: the stated headroom a plan can carry, and how to plan without it (Problem.without)
HEADROOM_KINDS = ("rate headroom", "redundancy floor", "utilization targets", "N+1 spares")


def _without(problem: Problem, kind: str) -> Problem:
    """``problem`` without one kind of stated headroom (to price it)."""
    if kind == "rate headroom":
        return replace(problem, demands=tuple(replace(d, headroom=0.0) for d in problem.demands))
    if kind == "redundancy floor":
        demands = tuple(replace(d, min_replicas=0) for d in problem.demands)
        return replace(problem, demands=demands)
    if kind == "utilization targets":
        demands = tuple(
            replace(d, capacity=at_targets(d.capacity, problem.pools, inverse=True))
            for d in problem.demands
        )
        pools = tuple(replace(p, utilization_target=1.0) for p in problem.pools)
        return replace(problem, pools=pools, demands=demands)
    if kind == "N+1 spares":
        return replace(problem, pools=tuple(replace(p, n_plus_one=False) for p in problem.pools))
    raise ValueError(f"unknown headroom kind {kind!r}; use one of {HEADROOM_KINDS}")


def make_provider(plan: PlanSpec) -> CapacityProvider:
    """The capacity provider named by ``plan.capacity``."""
    cap = plan.capacity
    if cap.table is not None:
        return TableCapacity.from_csv(plan.path(cap.table))
    if cap.melange is not None:
        from planner.mix.melange import MelangeCapacity

        return MelangeCapacity.from_json(plan.path(cap.melange))
    from planner.mix.capacity_serving import ServingCapacity

    assert cap.serving is not None
    return ServingCapacity.from_spec(cap.serving)


def build_problem(
    plan: PlanSpec,
    provider: CapacityProvider | None = None,
    slo_scale: float = 1.0,
) -> Problem:
    """The numeric instance of ``plan``: buckets, capacities from ``provider`` (default: the
    plan's), optionally with every SLO target multiplied by ``slo_scale``. Searched
    configurations are resolved first (at the unscaled SLO; a no-op once resolved)."""
    plan = resolve_searched(plan)
    provider = provider or make_provider(plan)
    pools = plan_pools(plan)
    demands = []
    for m in plan.models:
        buckets, rate = model_buckets(plan, m)
        slo = plan.slo_of(m)
        if slo is not None and slo_scale != 1.0:
            slo = slo.scaled(slo_scale)
        cap = at_targets(capacity_matrix(provider, m.name, pools, buckets, slo), pools)
        demands.append(ModelDemand(m.name, buckets, rate, cap, plan.headroom, m.min_replicas, slo))
    return Problem(pools, tuple(demands), gpu_caps(plan), plan.max_gpu_types, plan.name)


def problem_from_arrays(
    capacity: np.ndarray | Sequence[np.ndarray],
    prob: np.ndarray | Sequence[np.ndarray],
    rate_rps: float | Sequence[float],
    pools: Sequence[Pool],
    gpu_caps: Mapping[str, int] | None = None,
    max_gpu_types: int | None = None,
    min_replicas: int | Sequence[int] = 0,
    sizes: Sequence[tuple[float, float]] | None = None,
) -> Problem:
    """An instance from arrays: ``capacity[b, p]`` req/s per replica (one array per model, or
    one array for a single model), bucket shares ``prob``, total rates ``rate_rps``."""
    single = isinstance(capacity, np.ndarray) and capacity.ndim == 2
    caps = [capacity] if single else list(capacity)
    probs = [prob] if single else list(prob)
    rates = [rate_rps] if single else list(rate_rps)  # type: ignore[arg-type]
    mins = [min_replicas] * len(caps) if isinstance(min_replicas, int) else list(min_replicas)
    demands = []
    for m, (c, p, r, k) in enumerate(zip(caps, probs, rates, mins, strict=True)):
        c = np.asarray(c, dtype=float)
        if c.shape[1] != len(pools):
            raise PlanSpecError(f"capacity has {c.shape[1]} pool columns, {len(pools)} pools")
        pairs = list(sizes) if sizes else [(float(b + 1), 1.0) for b in range(c.shape[0])]
        buckets = Buckets.from_pairs(pairs, np.asarray(p, dtype=float))
        reasons = {(int(b), int(q)): "capacity 0" for b, q in zip(*np.nonzero(c <= 0))}
        matrix = drop_near_zero(CapacityMatrix(np.maximum(c, 0.0), reasons))
        demands.append(ModelDemand(f"model{m}", buckets, float(r), matrix, 0.0, k))
    return Problem(tuple(pools), tuple(demands), dict(gpu_caps or {}), max_gpu_types)
