"""The MILP on hand-checkable instances: replica floors, caps, the K-type limit, per-model
separation, replica configurations, headroom, rate re-solves, and the LP screen."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.mix import Pool, problem_from_arrays, solve_problem
from planner.mix.formulation import MixModel
from planner.mix.relaxation import lp_relaxation
from planner.mix.solve import SCREEN_COLUMNS, MixSolver

CHEAP, FAST = Pool("A10G", 1.0), Pool("H100-SXM", 3.0)


def one_bucket(cap_cheap: float, cap_fast: float, rate: float, **kw):
    """One bucket served by a $1/h pool and a $3/h pool."""
    return problem_from_arrays(np.array([[cap_cheap, cap_fast]]), [1.0], rate, [CHEAP, FAST], **kw)


def test_cheapest_per_request_pool_wins_then_rounding_decides():
    # $1/h for 2 req/s (0.5 $/req/s) against $3/h for 10 req/s (0.3 $/req/s): 19 req/s ->
    # 1 fast (10) + 5 cheap (10 > 9): $8; 2 fast = $6 is cheaper still.
    alloc = solve_problem(one_bucket(2, 10, 19), mip_gap=0)
    assert alloc.usd_per_hour == pytest.approx(6.0)
    # 11 req/s: 1 fast + 1 cheap (12 >= 11) = $4 beats 2 fast = $6.
    alloc = solve_problem(one_bucket(2, 10, 11), mip_gap=0)
    assert alloc.usd_per_hour == pytest.approx(4.0)
    assert alloc.gpus_by_type == {"A10G": 1, "H100-SXM": 1}


def test_min_replicas_floor_adds_the_cheapest_replica():
    alloc = solve_problem(one_bucket(2, 10, 1, min_replicas=3), mip_gap=0)
    assert alloc.usd_per_hour == pytest.approx(3.0)  # three $1 replicas
    assert sum(p.replicas for p in alloc.pools) == 3


def test_gpu_cap_pushes_load_to_the_next_type():
    alloc = solve_problem(one_bucket(2, 10, 30, gpu_caps={"H100-SXM": 2}), mip_gap=0)
    assert alloc.gpus_by_type == {"H100-SXM": 2, "A10G": 5}
    assert alloc.usd_per_hour == pytest.approx(2 * 3 + 5 * 1)


def test_at_most_k_types_forces_a_single_type_when_k_is_one():
    free = solve_problem(one_bucket(2, 10, 11), mip_gap=0)
    one = solve_problem(one_bucket(2, 10, 11, max_gpu_types=1), mip_gap=0)
    assert len(free.gpus_by_type) == 2 and len(one.gpus_by_type) == 1
    assert one.usd_per_hour == pytest.approx(6.0)  # 2 x H100 beats 6 x A10G


def test_models_do_not_share_replicas():
    # Two models with 1 req/s each on a pool of 10 req/s: shared would need 1 replica,
    # separated needs 2.
    cap = np.array([[10.0]])
    prob = problem_from_arrays([cap, cap], [[1.0], [1.0]], [1.0, 1.0], [FAST])
    alloc = solve_problem(prob, mip_gap=0)
    assert alloc.usd_per_hour == pytest.approx(6.0)
    assert sorted(p.model for p in alloc.pools) == ["model0", "model1"]


def test_larger_replica_configuration_is_used_when_only_it_serves_a_bucket():
    tp1, tp4 = Pool("H100-SXM", 3.0, tp=1), Pool("H100-SXM", 3.0, tp=4)
    cap = np.array([[10.0, 30.0], [0.0, 2.0]])  # long bucket: tp1 ineligible
    alloc = solve_problem(problem_from_arrays(cap, [0.5, 0.5], 4.0, [tp1, tp4]), mip_gap=0)
    # 2 req/s of long requests fill one tp4 replica (2/2 = 1), so the 2 short req/s need
    # a tp1 replica of their own: $12 + $3.
    assert alloc.usd_per_hour == pytest.approx(15.0)
    assert alloc.gpus_by_type == {"H100-SXM": 5}


def test_headroom_plans_for_more_rate():
    base = one_bucket(2, 10, 10)
    headroom = replace(base, demands=tuple(replace(d, headroom=0.2) for d in base.demands))
    assert solve_problem(base, mip_gap=0).usd_per_hour == pytest.approx(3.0)
    alloc = solve_problem(headroom, mip_gap=0)
    assert alloc.usd_per_hour == pytest.approx(4.0)  # 12 req/s: 1 fast + 1 cheap
    assert alloc.models[0].planned_rate_rps == pytest.approx(12.0)


def test_rate_resolve_matches_a_fresh_build():
    problem = one_bucket(2, 10, 7)
    model = MixModel(problem, mip_gap=0)
    for scale in (0.5, 1.0, 3.0, 7.0):
        fresh = MixModel(problem.scaled(scale), mip_gap=0).solve()
        assert model.solve(rate_scale=scale).cost == pytest.approx(fresh.cost)


def random_problem(B: int, P: int, seed: int):
    """Capacities from a prefill/decode speed per pool and a size per bucket."""
    rng = np.random.default_rng(seed)
    pre, dec = rng.uniform(2e3, 4e4, P), rng.uniform(200, 4e3, P)
    inp, out = rng.uniform(50, 8000, B), rng.uniform(20, 1000, B)
    cap = 1.0 / (inp[:, None] / pre + out[:, None] / dec)
    price = 0.5 + pre / 2e4 + dec / 2e3
    pools = [Pool(f"gpu{p}", float(price[p])) for p in range(P)]
    return problem_from_arrays(cap, rng.dirichlet(np.ones(B)), 200.0, pools)


def test_lp_relaxation_bounds_the_milp_from_below():
    problem = random_problem(20, 5, 1)
    relax = lp_relaxation(problem)
    sol = MixModel(problem, mip_gap=0).solve()
    assert relax.feasible and relax.bound <= sol.cost + 1e-9
    # Uncapped relaxation: each bucket on its least $/req/s pool.
    d = problem.demands[0]
    price = np.array([p.usd_per_hour for p in problem.pools])
    assert relax.bound == pytest.approx(
        float(np.sum(d.bucket_rates * (price / d.capacity.rate).min(axis=1)))
    )


def test_screened_solve_is_within_the_gap_of_the_full_milp():
    problem = random_problem(120, 10, 2)
    solver = MixSolver(problem, mip_gap=1e-3)
    assert solver.columns >= SCREEN_COLUMNS
    screened = solver.solve()
    full = MixModel(problem, mip_gap=0).solve()
    assert screened.feasible
    assert full.cost <= screened.cost <= full.cost * (1 + 1e-3) + 1e-9
