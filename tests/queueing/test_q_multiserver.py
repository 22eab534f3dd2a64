"""Erlang B/C, M/M/c, M/D/c (exact) and M/G/c approximations vs hand values, sim and ciw."""

import json
import math

import ciw
import numpy as np
import pytest

from queueing import (
    MG1,
    Deterministic,
    Exponential,
    Gamma,
    LogNormal,
    MDc,
    MGc,
    MMc,
    QueueingInputError,
    batch_means,
    erlang_b,
    erlang_c,
    simulate_mgc,
)


def _n(rho):
    """Customers per run: tail fractions near saturation need long batches."""
    return 1_500_000 if rho >= 0.9 else 300_000


def _erlang_c_by_sum(c, a):
    """Textbook form: (A^c/c!)(c/(c-A)) / (Σ_{k<c} A^k/k! + (A^c/c!)(c/(c-A)))."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_two_servers_unit_load_is_one_third():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (3, 2.4), (10, 8.0), (50, 45.0)])
def test_erlang_c_matches_the_textbook_sum(c, a):
    assert erlang_c(c, a) == pytest.approx(_erlang_c_by_sum(c, a), rel=1e-10)


def test_erlang_b_matches_the_textbook_ratio():
    a, c = 5.0, 7
    expected = a**c / math.factorial(c) / sum(a**k / math.factorial(k) for k in range(c + 1))
    assert erlang_b(c, a) == pytest.approx(expected, rel=1e-12)


def test_mmc_with_one_server_is_mm1():
    assert MMc(0.8, 1.0, 1).mean_wait == pytest.approx(4.0, rel=1e-12)
    assert MMc(0.8, 1.0, 1).wait_quantile(0.99) == pytest.approx(math.log(80) / 0.2, rel=1e-12)


@pytest.mark.parametrize(("c", "rho"), [(2, 0.5), (4, 0.8), (8, 0.95)])
def test_mmc_within_4_se_of_simulation(c, rho):
    q = MMc(rho * c, 1.0, c)
    run = simulate_mgc(q.arrival_rate, Exponential(1.0), c, n=_n(rho), rng=31)
    assert abs(run.mean_wait().z(q.mean_wait)) < 4
    assert abs(run.wait_cdf(q.wait_quantile(0.95)).z(0.95)) < 4


@pytest.mark.parametrize(("c", "rho"), [(2, 0.5), (3, 0.8), (4, 0.95), (16, 0.9)])
def test_mdc_exact_within_4_se_of_simulation(c, rho):
    q = MDc(rho * c, 1.0, c)
    run = simulate_mgc(q.arrival_rate, Deterministic(1.0), c, n=_n(rho), rng=32)
    assert abs(run.mean_wait().z(q.mean_wait)) < 4
    for p in (0.9, 0.99):
        assert abs(run.wait_cdf(q.wait_quantile(p)).z(p)) < 4


def test_mdc_with_one_server_is_md1():
    assert MDc(0.8, 1.0, 1).mean_wait == pytest.approx(2.0, rel=1e-9)
    assert MDc(0.8, 1.0, 1).wait_quantile(0.99) == pytest.approx(
        MG1(0.8, Deterministic(1.0)).wait_quantile(0.99), rel=1e-8
    )


def _ciw_waits(arrival_rate, service_dist, servers, horizon, seed):
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[service_dist],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(horizon)
    recs = sorted(sim.get_all_records(), key=lambda r: r.arrival_date)
    return np.array([r.waiting_time for r in recs if r.arrival_date > 0.05 * horizon])


def test_mmc_agrees_with_ciw():
    waits = _ciw_waits(2.4, ciw.dists.Exponential(rate=1.0), 3, 8_000, seed=5)
    assert abs(batch_means(waits, 10).z(MMc(2.4, 1.0, 3).mean_wait)) < 4


def test_mdc_agrees_with_ciw():
    waits = _ciw_waits(2.4, ciw.dists.Deterministic(value=1.0), 3, 8_000, seed=6)
    assert abs(batch_means(waits, 10).z(MDc(2.4, 1.0, 3).mean_wait)) < 4


@pytest.mark.parametrize("method", ["allen_cunneen", "kingman"])
def test_mgc_approximations_are_exact_for_a_single_exponential_server(method):
    assert MGc(0.8, Exponential(1.0), 1, method).mean_wait == pytest.approx(4.0, rel=1e-12)


def test_allen_cunneen_is_exact_for_mmc():
    assert MGc(2.4, Exponential(1.0), 3).mean_wait == pytest.approx(MMc(2.4, 1.0, 3).mean_wait)


@pytest.mark.parametrize("law", [Gamma(0.5, 1.0), LogNormal.from_mean_cv(1.0, 0.5)])
@pytest.mark.parametrize("rho", [0.6, 0.9])
def test_allen_cunneen_within_15_percent_of_simulation_for_general_service(law, rho):
    """An approximation: its measured error (docs/queueing.md) is a few percent here."""
    c = 4
    q = MGc(rho * c, law, c)
    est = simulate_mgc(q.arrival_rate, law, c, n=400_000, rng=33).mean_wait()
    assert abs(q.mean_wait - est.mean) < 0.15 * est.mean + 4 * est.se


def test_overloaded_multiserver_models_report_overload():
    for q in (MMc(5.0, 1.0, 4), MDc(5.0, 1.0, 4), MGc(5.0, Gamma(2.0, 1.0), 4)):
        assert not q.stable and q.mean_wait == math.inf
        d = q.to_dict()
        assert d["overloaded"] is True and d["load_ratio"] == pytest.approx(1.25)
        json.dumps(d, allow_nan=False)
    assert erlang_c(4, 5.0) == 1.0


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: erlang_c(0, 1.0), "servers"),
        (lambda: erlang_c(2, -1.0), "offered_load"),
        (lambda: MMc(1.0, -2.0, 2), "service_rate"),
        (lambda: MGc(1.0, Exponential(1.0), 2, "magic"), "method"),
        (lambda: MDc(1.0, 1.0, 3).wait_quantile(2.0), "p"),
    ],
)
def test_bad_multiserver_arguments_raise_a_queueing_input_error(build, argument):
    with pytest.raises(QueueingInputError, match=argument):
        build()
