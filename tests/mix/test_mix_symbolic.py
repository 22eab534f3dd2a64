"""planner.symbolic: step costs and break-even rates against planner.mix on Mélange's toy."""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from planner import symbolic as S
from planner.mix import build_problem, load_plan, problem_from_arrays, solve_problem

REL = 1e-9
TOY = Path(__file__).resolve().parents[2] / "examples" / "melange_toy.yaml"


@pytest.fixture(scope="module")
def toy():
    return build_problem(load_plan(TOY))


def test_offers_read_the_planner_instance(toy):
    a10g, a100 = S.offers(toy, "r0c0")
    assert (a10g.pool, a10g.usd_per_hour, a10g.capacity_rps) == ("A10G", 1.01, 2.0)
    assert (a100.pool, a100.usd_per_hour, a100.capacity_rps) == ("A100-SXM4-80GB", 3.67, 20.0)
    assert a100.usd_per_rps == pytest.approx(3.67 / 20, rel=REL)


@pytest.mark.parametrize("bucket", [0, 1, 2, 3])
@pytest.mark.parametrize("rate", [0.7, 3.0, 6.5, 21.0, 44.0])
def test_step_cost_equals_the_planners_single_type_cost(toy, bucket, rate):
    pair = S.offers(toy, bucket)
    sub = problem_from_arrays(
        toy.demands[0].capacity.rate[bucket : bucket + 1], np.array([1.0]), rate, list(toy.pools)
    )
    alloc = solve_problem(sub)
    base = {b.gpu: b.usd_per_hour for b in alloc.baselines}
    for offer, pool in zip(pair, toy.pools):
        assert offer.cost(rate) == pytest.approx(base[pool.gpu], rel=REL)
        assert float(offer.cost_expr().subs(S.lam, rate)) == pytest.approx(offer.cost(rate))
    # a mix of both types is never dearer than the cheaper single type
    assert alloc.usd_per_hour <= min(o.cost(rate) for o in pair) + 1e-9


def test_break_even_by_hand(toy):
    """r0c0: A10G 2 req/s at $1.01/h, A100 20 req/s at $3.67/h. A10G costs 1.01·⌈λ/2⌉:
    3.03 < 3.67 up to 6 req/s, 4.04 > 3.67 above; A100 is cheaper per req/s (0.1835 vs
    0.505), so A10G can win only below 3.67 / (0.505 - 0.1835) = 11.415 req/s."""
    be = S.break_even(*S.offers(toy, "r0c0"))
    assert be.points == (6.0,)
    assert be.relaxed_cheaper == "A100-SXM4-80GB"
    assert be.bound == pytest.approx(3.67 / (1.01 / 2 - 3.67 / 20), rel=REL)
    assert be.cheaper_at(5.9) == "A10G" and be.cheaper_at(6.1) == "A100-SXM4-80GB"
    assert S.relaxed_break_even() == []


def test_break_even_matches_a_dense_scan():
    """Two types with close slopes switch back and forth before the bound."""
    a, b = S.Offer("a", 1.0, 3.0), S.Offer("b", 3.2, 10.0)
    be = S.break_even(a, b)
    rates = np.linspace(1e-3, be.bound * 1.5, 200_001)
    ca, cb = a.cost(rates), b.cost(rates)
    win = np.where(ca < cb, "a", np.where(cb < ca, "b", "tie"))
    changes = rates[1:][win[1:] != win[:-1]]
    assert len(be.points) == len(changes) > 2
    assert np.allclose(be.points, changes, atol=rates[1] - rates[0])
    for row in be.intervals.itertuples():
        hi = min(row.hi, be.bound * 1.5)
        inside = (rates > row.lo) & (rates <= hi)
        assert set(win[inside]) <= {row.cheaper}


def test_expressions_and_latex():
    assert sp.simplify(S.RELAXED_COST / S.lam - S.USD_PER_RPS) == 0
    out = S.latex()
    assert r"\lceil" in out["step_cost"] and "kappa" in out["usd_per_rps"]
