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
"""

from __future__ import annotations

import numpy as np
import pulp

from planner.mix.formulation import MixModel, Solution, new_var
from planner.mix.problem import Problem


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
