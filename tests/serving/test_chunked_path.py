"""The chunked-prefill path model: its pieces against independent references (scipy's Poisson
quantiles, the Lindley recursion run step by step) and its result against the simulator."""

import numpy as np
import pytest
from scipy import stats

from planner.serving import Engine, analyze, prepare, simulate
from planner.serving.chunked import poisson_counts, stratified
from planner.workload import Workload


@pytest.mark.parametrize("mean", [0.05, 0.7, 3.0, 25.0])
def test_poisson_counts_are_the_poisson_quantiles(mean):
    u = np.linspace(0.001, 0.999, 999)
    got = poisson_counts(u, np.full(u.size, mean))
    assert np.array_equal(got, stats.poisson.ppf(u, mean).astype(int))


def test_stratified_draws_hit_each_weight_to_one_draw():
    rng = np.random.default_rng(3)
    w = np.array([0.5, 0.25, 0.125, 0.125])
    counts = np.bincount(stratified(rng, w, 1000), minlength=4)
    assert np.all(np.abs(counts - 1000 * w) <= 1)


def test_served_tokens_follow_lindley_with_a_varying_budget():
    """S_j = Q_j + min(0, min_k (X_k - Q_k)) equals serving min(backlog, q_j) step by step."""
    rng = np.random.default_rng(7)
    X = np.cumsum(rng.integers(0, 900, 500)).astype(float)
    q = rng.integers(100, 500, 500).astype(float)
    Q = np.cumsum(q)
    closed = Q + np.minimum(0.0, np.minimum.accumulate(X - Q))
    served, s = [], 0.0
    for x, budget in zip(X, q):
        s += min(budget, x - s)
        served.append(s)
    assert np.allclose(closed, served)


@pytest.mark.parametrize("load", [0.5, 0.85])
def test_chunked_latencies_match_the_simulator(load):
    """Mean TTFT and TPOT within 15% of the iteration-level simulator (mistral-7b on an
    A100, chat workload); the decode batch within 5%."""
    e = Engine.build("mistral-7b", "A100-SXM4-80GB", scheduler="chunked")
    w = Workload.bundled("chat")
    p = prepare(e, w)
    rate = load * analyze(e, p, 1e-9).capacity
    a = analyze(e, p, rate, samples=8192)
    s = simulate(e, w, rate, n_requests=40000, seed=2)
    assert a.ttft.mean == pytest.approx(s.ttft.mean, rel=0.15)
    assert a.tpot.mean == pytest.approx(s.tpot.mean, rel=0.15)
    assert a.decode_batch == pytest.approx(s.decode_batch, rel=0.05)
