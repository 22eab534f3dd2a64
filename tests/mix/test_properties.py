"""Properties of the planner on small random instances (hypothesis), solved exactly
(mip_gap=0): monotone in rate, SLO and candidate types; routing complete; no pool overloaded."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.mix import Pool, SLOSpec, TableCapacity, problem_from_arrays, solve_problem
from planner.mix.capacity import capacity_matrix
from planner.mix.formulation import ABS_GAP
from planner.mix.solve import MixSolver
from planner.mix.traffic import Buckets

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
EXACT = {"mip_gap": 0.0}
#: each cost is proven within ABS_GAP ($0.005/h) of its optimum, so two optima compare to it
TOL = ABS_GAP


@st.composite
def instances(draw, min_types: int = 1):
    """1-4 buckets, 1-3 GPU types (one pool each), capacities in [0.5, 30] req/s with some
    zeros (every bucket keeps one eligible pool), prices in [0.5, 5] $/h, rate in [1, 60]."""
    B = draw(st.integers(1, 4))
    G = draw(st.integers(min_types, 3))
    cap = np.array(
        draw(st.lists(st.lists(st.floats(0.5, 30), min_size=G, max_size=G), min_size=B, max_size=B))
    )
    holes = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=G, max_size=G), min_size=B, max_size=B))
    )
    holes[:, draw(st.integers(0, G - 1))] = False
    cap[holes] = 0.0
    prob = np.array(draw(st.lists(st.floats(0.05, 1), min_size=B, max_size=B)))
    prices = draw(st.lists(st.floats(0.5, 5), min_size=G, max_size=G))
    rate = draw(st.floats(1, 60))
    floor = draw(st.integers(0, 2))
    pools = [Pool(f"gpu{g}", prices[g]) for g in range(G)]
    return problem_from_arrays(cap, prob / prob.sum(), rate, pools, min_replicas=floor)


def cost(problem, rate_scale: float = 1.0) -> float:
    sol = MixSolver(problem, **EXACT).solve(rate_scale)
    return sol.cost if sol.feasible else math.inf


@SETTINGS
@given(instances(), st.floats(1.0, 3.0))
def test_more_rate_never_lowers_cost(problem, factor):
    assert cost(problem, factor) >= cost(problem) - TOL


@SETTINGS
@given(instances(min_types=2), st.data())
def test_removing_a_gpu_type_never_lowers_cost(problem, data):
    types = list(problem.gpu_types)
    gone = data.draw(st.sampled_from(types))
    assert cost(problem.only([g for g in types if g != gone])) >= cost(problem) - TOL


@SETTINGS
@given(instances())
def test_every_bucket_fully_routed_and_no_pool_over_capacity(problem):
    alloc = solve_problem(problem, compare_single_type=False, **EXACT)
    assert alloc.feasible
    d = problem.demands[0]
    routed = alloc.routing.groupby("bucket").weight.sum()
    served = [lab for lab, r in zip(d.buckets.labels, d.bucket_rates) if r > 0]
    assert sorted(routed.index) == sorted(served)
    assert np.allclose(routed.to_numpy(), 1.0)
    rate_by_pool = (alloc.routing.rate_rps * alloc.routing.weight).groupby(alloc.routing.pool)
    frame = alloc.to_frame().set_index("pool")
    assert np.allclose(rate_by_pool.sum().reindex(frame.index).fillna(0), frame.rate_rps)
    assert (frame.utilization <= 1 + 1e-9).all()
    # utilization recomputed from the routing table and the capacities
    cap = dict(zip(d.buckets.labels, d.capacity.rate))
    names = [p.name for p in problem.pools]
    load = {}
    for row in alloc.routing.itertuples():
        load[row.pool] = (
            load.get(row.pool, 0)
            + row.rate_rps * row.weight / cap[row.bucket][names.index(row.pool)]
        )
    for pool, util in frame.utilization.items():
        assert load.get(pool, 0) / frame.replicas[pool] <= 1 + 1e-6
        assert np.isclose(util, load.get(pool, 0) / frame.replicas[pool])


def slo_table(base: np.ndarray, tpots: list[float]) -> TableCapacity:
    """A measured table with one row per (gpu, bucket, tpot target); the max rate grows with
    the target (base * tpot / 0.05), as a real table measured at several SLOs does."""
    rows = []
    B, G = base.shape
    for b in range(B):
        for g in range(G):
            for t in tpots:
                rows.append(
                    {
                        "gpu": f"gpu{g}",
                        "input_tokens": 100 * (b + 1),
                        "output_tokens": 50,
                        "tpot_s": t,
                        "max_rate_rps": base[b, g] * t / 0.05,
                    }
                )
    return TableCapacity(pd.DataFrame(rows))


@SETTINGS
@given(instances(), st.sampled_from([0.03, 0.05, 0.08]), st.sampled_from([1.0, 1.5, 3.0]))
def test_looser_slo_never_raises_cost(problem, tpot, looser):
    d = problem.demands[0]
    table = slo_table(d.capacity.rate, [0.03, 0.045, 0.05, 0.08, 0.12, 0.24])
    sizes = [(100.0 * (b + 1), 50.0) for b in range(len(d.buckets))]
    buckets = Buckets.from_pairs(sizes, d.buckets.prob)

    def cost_at(slo: SLOSpec) -> float:
        mat = capacity_matrix(table, "m", problem.pools, buckets, slo)
        return cost(
            problem_from_arrays(
                mat.rate,
                d.buckets.prob,
                d.rate_rps,
                problem.pools,
                min_replicas=d.min_replicas,
                sizes=sizes,
            )
        )

    tight = SLOSpec(tpot_s=tpot)
    assert cost_at(tight.scaled(looser)) <= cost_at(tight) + TOL
