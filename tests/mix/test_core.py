"""The MILP is solved on the pools a cheaper plan could use (planner.mix.core), and a slice
plan is packed into the split's own replicas before any solver runs: both shortcuts give the
same proven answers as the full models (hand calculations and an independent scipy MILP)."""

from __future__ import annotations

import numpy as np
import pytest
from mix_fixtures import independent_optimum

from planner.mix import Pool, problem_from_arrays
from planner.mix.core import reduced_costs
from planner.mix.formulation import Solution
from planner.mix.slices import compare_slices, packed_slices
from planner.mix.solve import MixSolver


def _problem(cap, rates, prices):
    cap = np.asarray(cap, dtype=float)
    rates = np.asarray(rates, dtype=float)
    pools = [Pool(f"gpu{p}", price) for p, price in enumerate(prices)]
    return problem_from_arrays(cap, rates / rates.sum(), float(rates.sum()), pools)


def _family(seed, pools, buckets, spread, price_noise, base, rate):
    """Pools of sorted speeds, buckets of random size; κ = speed / size x noise ``spread``,
    price base + 0.6 · speed + noise: (problem, capacity, prices)."""
    rng = np.random.default_rng(seed)
    speed = np.sort(rng.uniform(1, 10, pools))
    size = rng.uniform(0.2, 5.0, buckets)
    cap = speed[None, :] / size[:, None] * rng.uniform(1 - spread, 1 + spread, (buckets, pools))
    prices = (base + 0.6 * speed + rng.uniform(0, price_noise, pools)).round(3)
    return _problem(cap, rng.dirichlet(np.ones(buckets)) * rate, prices), cap, prices


def _independent(problem, cap, prices) -> float:
    """The independent MILP's optimum of the same instance (Mélange config form)."""
    info = {f"gpu{p}": {"cost": float(c), "tputs": cap[:, p].tolist()}
            for p, c in enumerate(prices)}  # fmt: skip
    return independent_optimum({
        "gpu_info": info,
        "workload_distribution": problem.demands[0].bucket_rates.tolist(),
        "total_request_rate": 1.0,
    })  # fmt: skip


def test_reduced_costs_by_hand():
    """Prices (1, 2, 4); κ b0 = (1, 4, 3), b1 = (2, 2, 6) req/s; λ = (2, 6). Loads λ/κ:
    b0 (2, 0.5, 2/3), b1 (3, 3, 1); $ per bucket c·a: b0 (2, 1, 8/3), b1 (3, 6, 4); minima
    m = (1, 3), L = 4. r_p = c_p − max_b m_b / a_bp: pool 0: 1 − max(0.5, 1) = 0; pool 1:
    2 − max(2, 1) = 0; pool 2: 4 − max(1.5, 3) = 1. The rates cancel: at twice the rate L = 8,
    r unchanged."""
    problem = _problem([[1, 4, 3], [2, 2, 6]], [2, 6], [1, 2, 4])
    bound, reduced = reduced_costs(problem)
    assert bound == pytest.approx(4.0)
    assert reduced[0] == pytest.approx([0.0, 0.0, 1.0])
    bound2, reduced2 = reduced_costs(problem, rate_scale=2.0)
    assert bound2 == pytest.approx(8.0)
    assert reduced2[0] == pytest.approx([0.0, 0.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_core_plan_is_the_proven_optimum_of_the_full_model(seed):
    """8 pools, 300 buckets: the core leaves pools out, and the plan still costs the
    independent MILP's optimum (gap 0) to the cent."""
    problem, cap, prices = _family(seed, 8, 300, 0.2, 0.4, 0.5, 150.0)
    solver = MixSolver(problem)
    sol = solver.solve()
    assert solver._cores, "the instance should be solved on a core of its pools"
    assert sol.status == "optimal"
    assert sol.cost == pytest.approx(_independent(problem, cap, prices), abs=0.01)
    assert sol.bound is not None and sol.cost - sol.bound <= 0.005 + 1e-9


def test_a_split_whose_slices_fit_its_replicas_is_proven_without_a_solve():
    """Two pools at $1/h, λ = 4 and 4 req/s, S = 4 (slices of 1 req/s, a quarter replica at
    κ = 4). 8 req/s need 2 replicas ($2, the optimum); the split routes (2.5, 1.5) and
    (1.5, 2.5). Each pool keeps 3 whole slices (0.75 replica) of its one replica, and each
    bucket's one leftover slice fits the 0.25 left: the slice plan costs the split's $2."""
    problem = _problem([[4, 4], [4, 4]], [4, 4], [1.0, 1.0])
    flows = (np.array([[2.5, 1.5], [1.5, 2.5]]),)
    split = Solution("optimal", 2.0, np.array([[1, 1]]), flows, 0.0, "test", 0.0, 2.0)
    assert packed_slices(problem, 4, split)
    out = compare_slices(problem, 4, split)
    assert out.status == "optimal" and out.cost == 2.0 and out.replicas.tolist() == [[1, 1]]


def test_a_slice_that_fits_no_replica_falls_back_to_the_slice_milp():
    """One bucket of 2 req/s over two $1/h pools of κ = 1.5: 4/3 replicas' load, so 2 replicas
    ($2, the optimum), e.g. split (1, 1) req/s. Whole (S = 1) the bucket loads one pool by 4/3
    replicas: it packs into neither replica of (1, 1), and the slice MILP proves 2 replicas of
    one pool, $2."""
    problem = _problem([[1.5, 1.5]], [2.0], [1.0, 1.0])
    split = Solution("optimal", 2.0, np.array([[1, 1]]), (np.array([[1.0, 1.0]]),), 0.0, "t",
                     0.0, 2.0)  # fmt: skip
    assert not packed_slices(problem, 1, split)
    out = compare_slices(problem, 1, split)
    assert out.status == "optimal" and out.cost == pytest.approx(2.0)
    assert sorted(out.replicas[0].tolist()) == [0, 2]


def test_a_core_whose_plan_leaves_room_grows_once_and_stays_exact():
    """Seed 156 of this family (6 pools of near-equal $ per speed, 40 buckets) is one where
    the first core's plan costs more than L + r_p of a pool left out: the core grows to every
    such pool, is solved again, and the plan is the independent MILP's optimum."""
    problem, cap, prices = _family(156, 6, 40, 0.1, 0.05, 0.2, 20.0)
    solver = MixSolver(problem)
    sol = solver.solve()
    assert [int(np.frombuffer(k, dtype=bool).sum()) for k in solver._cores] == [4, 5]
    assert sol.status == "optimal"
    assert sol.cost == pytest.approx(_independent(problem, cap, prices), abs=0.01)


@pytest.mark.parametrize("seed", range(6))
def test_with_caps_floors_spares_and_type_limits_the_answer_is_the_full_milps(seed):
    """Two models, 6 pools over 4 GPU types (one capped), floors, N+1 spares and a two-type
    limit: whether the core proves its plan or the full MILP runs after it, the answer is the
    full MILP's."""
    from planner.mix.formulation import MixModel

    rng = np.random.default_rng(seed)
    speed = rng.uniform(1, 10, 6)
    pools = [Pool(f"g{p % 4}", float(round(0.3 + 0.6 * speed[p] + rng.uniform(0, 0.5), 3)),
                  n_plus_one=p in (1, 4) and seed % 3 == 0) for p in range(6)]  # fmt: skip
    caps = []
    for _ in range(2):
        cap = speed[None, :] / rng.uniform(0.2, 5, (30, 1)) * rng.uniform(0.8, 1.2, (30, 6))
        cap[rng.random((30, 6)) < 0.15] = 0.0
        cap[:, 0] = np.maximum(cap[:, 0], 0.1)  # every bucket has a pool
        caps.append(cap)
    problem = problem_from_arrays(
        caps, [rng.dirichlet(np.ones(30)) for _ in range(2)], [40.0, 15.0], pools,
        gpu_caps={"g1": 6}, max_gpu_types=2 if seed % 2 else None, min_replicas=[2, 1],
    )  # fmt: skip
    core = MixSolver(problem).solve()
    full = MixModel(problem).solve()
    assert core.status == full.status == "optimal"
    assert core.cost == pytest.approx(full.cost, abs=0.01)
