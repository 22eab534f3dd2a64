"""Mélange's slice formulation (Griggs et al. 2024, ``melange/solver.py``), for comparison.

Each bucket's rate λ_b is cut into S = ``slice_factor`` equal slices of λ_b / S and every slice
goes wholly to one pool. Mélange writes a binary x_{slice, gpu}; the slices of a bucket are
identical, so only how many of them each pool takes matters. This module uses that count,
k_bp ∈ {0..S} with Σ_p k_bp = S, which has the same optimum without the symmetric copies:

    minimize    Σ_p c_p n_p
    subject to  Σ_p k_bp = S                               every slice assigned
                Σ_b (λ_b / S) k_bp / κ_bp ≤ n_p           replicas carry their load
                (caps, K types and floors as in the continuous model)

Its feasible set is the continuous model's with y_bp restricted to multiples of λ_b / S, so
the continuous split is never costlier; the slice answer moves with S.

That also makes the continuous optimum's proven bound a lower bound of the slice optimum, which
:func:`compare_slices` uses four times: a slice plan rounded from the continuous routing that
costs no more than that bound is proven optimal without a solve; else the continuous plan's
replicas are kept and its split buckets' slices packed into their spare capacity
(:func:`packed_slices`, no solve); else those replica counts, fixed, are tried for whole slices
by the solver (a feasibility problem, several times faster than the MILP); else the bound is a
row of the slice MILP (Σ_p c_p n_p ≥ bound), so the solver stops as soon as it meets it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pulp

from planner.mix.formulation import ABS_GAP, MixModel, Solution, new_var
from planner.mix.problem import Problem

PACK_TOL = 1e-7  # replicas: a packed slice may overfill a pool by the solver's own tolerance


class SliceModel(MixModel):
    """The MILP with routing in whole slices of λ_b / ``slice_factor``."""

    def __init__(self, problem: Problem, slice_factor: int, **solver_options) -> None:
        if slice_factor < 1:
            raise ValueError(f"slice_factor must be an integer >= 1, got {slice_factor}")
        self.slice_factor = int(slice_factor)
        super().__init__(problem, **solver_options)

    def _routing_data(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RHS S; a slice of bucket b loads pool p by λ_b / (S κ_bp) and carries λ_b / S."""
        d = self.problem.demands[m]
        S = self.slice_factor
        cap = d.capacity.rate
        rate = d.bucket_rates[:, None]
        weight = np.where(cap > 0, rate / (S * np.where(cap > 0, cap, 1.0)), 0.0)
        return np.full(len(d.buckets), float(S)), weight, d.bucket_rates / S

    def _route_var(self, m: int, b: int, p: int) -> pulp.LpVariable:
        """Slices of bucket b given to pool p: an integer in [0, S]."""
        return new_var(self.lp, f"k{m}_{b}_{p}", 0, self.slice_factor, pulp.LpInteger)

    def _set_rates(self, scale: float) -> None:
        """Slice counts do not scale with the rate (their load weights would); only 1."""
        if scale != 1.0:
            raise ValueError("the slice model is built for one rate; build another to rescale")
        super()._set_rates(1.0)
        self._rate_scale = 1.0


def solve_slices(problem: Problem, slice_factor: int, **solver_options) -> Solution:
    """Mélange's answer on ``problem`` at ``slice_factor``."""
    return SliceModel(problem, slice_factor, **solver_options).solve()


def compare_slices(
    problem: Problem, slice_factor: int, split: Solution, **solver_options
) -> Solution:
    """Mélange's optimum at ``slice_factor``, given ``split`` (the continuous model's solution):
    the rounded slice plan when it reaches the split's proven bound, else the slice MILP with
    that bound as a row."""
    bound = split.bound if split.bound is not None else None
    if split.status == "optimal" and bound is None:
        bound = split.cost - ABS_GAP  # proven within ABS_GAP of the optimum (CBC: no bound read)
    rounded = rounded_slices(problem, slice_factor, split)
    if rounded is not None and bound is not None and rounded[1] <= bound + ABS_GAP:
        return Solution("optimal", rounded[1], rounded[0], (), split.solve_time_s, split.solver,
                        0.0, bound)  # fmt: skip
    if bound is not None and split.cost <= bound + ABS_GAP:
        if packed_slices(problem, slice_factor, split):
            return Solution("optimal", split.cost, split.replicas.copy(), (), split.solve_time_s,
                            split.solver, 0.0, bound)  # fmt: skip
        same = SliceModel(problem, slice_factor, **solver_options).solve(fixed=split.replicas)
        if same.feasible:  # the split's replicas hold whole slices: its cost is the bound
            return replace(same, status="optimal", gap=0.0, bound=bound)
    model = SliceModel(problem, slice_factor, **solver_options)
    if bound is not None:
        model.lp += pulp.LpConstraint(model.lp.objective, pulp.LpConstraintGE, "bound", bound)
    return model.solve()


def whole_slices(rates: np.ndarray, flows: np.ndarray, S: int):
    """(share, whole, left) of one model's routing in slices of λ_b / S: share_bp = S y_bp /
    λ_b, its whole slices ⌊share⌋, and each bucket's slices left to place, S − Σ_p whole."""
    share = np.zeros_like(flows)
    served = rates > 0
    share[served] = S * flows[served] / rates[served, None]
    whole = np.floor(share + 1e-9)
    return share, whole, (S - whole.sum(axis=1)).round().astype(int)


def packed_slices(problem: Problem, slice_factor: int, split: Solution) -> bool:
    """Whether ``split``'s replicas carry its routing in whole slices of λ_b / S: each bucket
    keeps ⌊S y_bp / λ_b⌋ slices on each pool; its remaining slices go, largest load first, to
    the eligible pool with the most spare replicas that holds the slice (first fit by spare,
    within ``PACK_TOL`` replicas). False says only that this packing failed."""
    S = slice_factor
    for m, d in enumerate(problem.demands):
        rates, cap = d.bucket_rates, d.capacity.rate
        served = rates > 0
        _, kept, left = whole_slices(rates, split.flows[m], S)
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = np.where(cap > 0, (rates / S)[:, None] / np.where(cap > 0, cap, 1.0), np.inf)
        held = (kept * np.where(np.isfinite(unit), unit, 0.0)).sum(axis=0)
        spare = np.array([pool.n_plus_one for pool in problem.pools], dtype=float)
        room = split.replicas[m] - spare * (split.replicas[m] > 0) - held
        todo = np.repeat(np.arange(len(left)), np.where(served, np.maximum(left, 0), 0))
        for b in sorted(todo, key=lambda b: -np.min(unit[b])):
            fits = np.flatnonzero(unit[b] <= room + PACK_TOL)
            if fits.size == 0:
                return False
            p = fits[np.argmax(room[fits])]
            room[p] -= unit[b, p]
    return True


def rounded_slices(
    problem: Problem, slice_factor: int, split: Solution
) -> tuple[np.ndarray, float] | None:
    """(replicas, $/h) of the slice plan nearest ``split``'s routing (each bucket's shares
    rounded to whole slices by largest remainder, replicas ⌈load⌉); None when it breaks a
    floor, a cap or the type limit."""
    S = slice_factor
    replicas = np.zeros_like(split.replicas)
    for m, d in enumerate(problem.demands):
        rates = d.bucket_rates
        served = rates > 0
        share, k, left = whole_slices(rates, split.flows[m], S)
        order = np.argsort(-(share - k), axis=1, kind="stable")
        for b in np.flatnonzero(served & (left > 0)):
            k[b, order[b, : left[b]]] += 1
        cap = d.capacity.rate
        load = np.where(cap > 0, k * (rates / S)[:, None] / np.where(cap > 0, cap, 1.0), 0.0)
        if (k[cap <= 0] > 0).any():
            return None
        spare = np.array([pool.n_plus_one for pool in problem.pools], dtype=int)
        need = np.ceil(load.sum(axis=0) - 1e-9).astype(int)
        replicas[m] = need + spare * (need > 0)
        if replicas[m].sum() < d.min_replicas:
            return None
    gpus: dict[str, int] = {}
    for p, pool in enumerate(problem.pools):
        gpus[pool.gpu] = gpus.get(pool.gpu, 0) + int(replicas[:, p].sum()) * pool.gpus
    over_cap = any(n > problem.gpu_caps.get(g, n) for g, n in gpus.items())
    types = sum(1 for n in gpus.values() if n > 0)
    if over_cap or (problem.max_gpu_types is not None and types > problem.max_gpu_types):
        return None
    cost = float(
        sum(replicas[:, p].sum() * pool.usd_per_hour for p, pool in enumerate(problem.pools))
    )
    return replicas, cost
