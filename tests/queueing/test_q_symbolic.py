"""queueing.symbolic: Pollaczek–Khinchine and max-token clipping in sympy agree with the
numeric M/G/1 and MaxTokenQueue; the optimal limit agrees with brute force."""

import math

import numpy as np
import pytest
import sympy as sp
from scipy import optimize

from queueing import (
    MG1,
    Deterministic,
    Exponential,
    Gamma,
    Geometric,
    LogNormal,
    MaxTokenQueue,
)
from queueing import symbolic as S

REL = 1e-9
A, C = 0.001, 0.05  # seconds per token, per-request overhead


@pytest.mark.parametrize(
    "law",
    [
        Exponential(0.5),
        Deterministic(0.5),
        Gamma(2.5, 0.5),
        LogNormal.from_mean_cv(0.5, 2.0),
        Geometric(3.0),
    ],
)
@pytest.mark.parametrize("rate", [0.3, 1.0, 1.9])
def test_pk_matches_mg1(law, rate):
    assert S.pk_wait(rate, law) == pytest.approx(MG1(rate, law).mean_wait, rel=REL)


def test_pk_textbook_cases():
    rho = S.lam / S.mu
    assert sp.simplify(S.pk_wait_expr("exponential") - rho / (S.mu - S.lam)) == 0
    assert sp.simplify(S.pk_wait_expr("deterministic") - rho / (2 * S.mu * (1 - rho))) == 0
    # λ = 0.8, μ = 1: M/M/1 waits ρ/(μ-λ) = 4 s, M/D/1 half of it (Kleinrock 1975)
    assert S.pk_wait(0.8, Exponential(1.0)) == pytest.approx(4.0, rel=REL)
    assert S.pk_wait(0.8, Deterministic(1.0)) == pytest.approx(2.0, rel=REL)
    assert S.pk_wait(1.2, Exponential(1.0)) == math.inf


@pytest.mark.parametrize("limit", [1.0, 50.0, 300.0, 1200.0, 5000.0])
def test_clipped_moments_match_the_numeric_laws(limit):
    for tokens, law in ((Exponential(300.0), "exponential"), (Geometric(300.0), "geometric")):
        sub = {S.L: limit, S.m: 300.0, S.q: 1 - 1 / 300.0}
        for k in (1, 2):
            got = float(sp.N(S.clipped_token_moment(law, k).subs(sub), 30))
            assert got == pytest.approx(tokens.clip(limit).moment(k), rel=REL)


def test_exponential_clipped_moments_by_hand():
    m1 = S.clipped_token_moment("exponential", 1)
    m2 = S.clipped_token_moment("exponential", 2)
    e = sp.exp(-S.L / S.m)
    assert sp.simplify(m1 - S.m * (1 - e)) == 0
    assert sp.simplify(m2 - 2 * S.m * (S.m - (S.L + S.m) * e)) == 0


@pytest.mark.parametrize("tokens", [Exponential(300.0), Geometric(300.0)])
@pytest.mark.parametrize("rate,limit", [(1.0, 100.0), (2.5, 600.0), (4.0, 200.0)])
def test_clipped_wait_matches_max_token_queue(tokens, rate, limit):
    want = MaxTokenQueue(rate, tokens, A, C).mean_wait(limit)
    assert S.clipped_wait(rate, tokens, A, C, limit) == pytest.approx(want, rel=REL)


def _numeric_objective(q: MaxTokenQueue, value: float, limit: float) -> float:
    return value * q.tokens.clip(limit).mean - q.mean_sojourn(limit)


@pytest.mark.parametrize("rate", [3.0, 4.0])
def test_exponential_optimum_matches_brute_force(rate):
    tokens, value = Exponential(300.0), 0.01
    best = S.optimal_limit(rate, tokens, A, C, value_per_token=value, weight=1.0)
    q = MaxTokenQueue(rate, tokens, A, C)
    assert best.objective == pytest.approx(_numeric_objective(q, value, best.limit), rel=REL)
    assert best.mean_wait == pytest.approx(q.mean_wait(best.limit), rel=REL)
    hi = min(best.stable_limit * (1 - 1e-6), 20 * 300.0)
    res = optimize.minimize_scalar(
        lambda x: -_numeric_objective(q, value, x),
        bounds=(1.0, hi),
        method="bounded",
        options={"xatol": 1e-9},
    )
    assert best.limit == pytest.approx(res.x, rel=1e-6)
    assert best.objective >= -res.fun - 1e-12
    grid = q.optimal_limit(lambda x: value * tokens.clip(x).mean, 1.0, np.linspace(1, hi, 401))
    assert best.objective >= grid.objective - 1e-12
    assert abs(best.limit - grid.limit) <= hi / 400


def test_geometric_optimum_is_the_integer_argmax():
    tokens, value, rate = Geometric(300.0), 0.01, 4.0
    best = S.optimal_limit(rate, tokens, A, C, value_per_token=value)
    q = MaxTokenQueue(rate, tokens, A, C)
    limits = np.arange(1, math.floor(best.stable_limit) + 1)
    objs = [_numeric_objective(q, value, x) for x in limits]
    assert best.limit == limits[int(np.argmax(objs))]
    assert best.objective == pytest.approx(max(objs), rel=REL)


def test_stable_limit_is_where_the_load_reaches_one():
    tokens = Exponential(300.0)
    l_max = S.stable_limit(4.0, tokens, A, C)
    assert MG1(4.0, tokens.clip(l_max).affine(A, C)).utilization == pytest.approx(1.0, rel=REL)
    assert S.stable_limit(2.0, tokens, A, C) == math.inf


@pytest.mark.parametrize("delay", ["sojourn", "wait"])
def test_first_order_condition_readable_form(delay):
    s1, s2 = S.clipped_service_moments()
    readable = S.clipping_condition_readable(delay).subs({S.rho: S.lam * s1, S.ES2: s2})
    assert sp.simplify(readable - S.clipping_condition(delay)) == 0


def test_light_traffic_limit():
    want = (S.v - S.w * S.a) / (S.w * S.lam * S.a**2) - S.c0 / S.a
    assert sp.simplify(S.light_traffic_limit_expr("sojourn") - want) == 0
    assert (
        sp.simplify(
            S.light_traffic_limit_expr("wait") - (S.v / (S.w * S.lam * S.a**2) - S.c0 / S.a)
        )
        == 0
    )
    # λ → 0: the exact optimum tends to the light-traffic limit (error of order ρ)
    rate, value = 0.02, 2e-5 * 1.0 + A  # L0 = (v - a)/(λa²) - c/a = 1000 - 50
    best = S.optimal_limit(rate, Exponential(300.0), A, C, value_per_token=value)
    assert best.light_traffic_limit == pytest.approx(950.0, rel=REL)
    rho = rate * (A * 300.0 + C)
    assert abs(best.limit / best.light_traffic_limit - 1) < 5 * rho


def test_latex_renders():
    out = S.latex()
    assert {"pk_wait", "mm1_wait", "md1_wait", "condition", "light_traffic"} <= set(out)
    assert r"\lambda" in out["pk_wait"]
