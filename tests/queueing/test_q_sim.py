"""The simulators themselves: Lindley vectorisation vs a plain loop, batch means, seeds."""

import numpy as np
import pytest

from queueing import (
    Exponential,
    QueueingInputError,
    batch_means,
    lindley_waits,
    simulate_gg1,
    simulate_mg1,
    simulate_mgc,
)


def _lindley_loop(inter, services):
    w = np.zeros(inter.size)
    for n in range(1, inter.size):
        w[n] = max(0.0, w[n - 1] + services[n - 1] - inter[n])
    return w


def test_vectorised_lindley_equals_the_plain_recursion():
    rng = np.random.default_rng(3)
    inter, services = rng.exponential(1.0, 5000), rng.gamma(0.5, 1.8, 5000)
    np.testing.assert_allclose(lindley_waits(inter, services), _lindley_loop(inter, services))


def test_one_server_heap_simulator_equals_lindley_on_the_same_draws():
    law = Exponential(1.0)
    heap_run = simulate_mgc(0.8, law, 1, n=20_000, rng=4)
    gen = np.random.default_rng(4)
    arrivals = gen.exponential(1 / 0.8, 20_000)
    services = law.sample(20_000, gen)
    lindley_run = simulate_gg1(arrivals, services)
    np.testing.assert_allclose(heap_run.waits, lindley_run.waits, atol=1e-9)


def test_batch_means_of_iid_data_has_the_textbook_standard_error():
    x = np.random.default_rng(5).normal(3.0, 2.0, 200_000)
    est = batch_means(x, 20)
    assert est.mean == pytest.approx(x.mean())
    assert est.se == pytest.approx(2.0 / np.sqrt(x.size), rel=0.4)


def test_fixed_seed_reproduces_the_same_run():
    a = simulate_mg1(0.7, Exponential(1.0), 10_000, rng=9)
    b = simulate_mg1(0.7, Exponential(1.0), 10_000, rng=9)
    np.testing.assert_array_equal(a.waits, b.waits)


def test_simulator_rejects_negative_rates():
    with pytest.raises(QueueingInputError, match="arrival_rate"):
        simulate_mg1(-0.5, Exponential(1.0), 100)
