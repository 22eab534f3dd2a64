"""M/G/1 FCFS: textbook values, exact distributions, and agreement with simulation/ciw."""

import json
import math

import ciw
import numpy as np
import pytest

from queueing import (
    MG1,
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    MDc,
    Mixture,
    QueueingInputError,
    batch_means,
    simulate_mg1,
)
from queueing.mg1 import renewal_cdf


def test_mm1_textbook_mean_wait_and_p99():
    q = MG1(0.8, Exponential(1.0))
    assert q.mean_wait == pytest.approx(4.0, rel=1e-6)
    # P(W > t) = ρ e^{-(μ-λ)t} = 0.01  ⇒  t = ln(0.8/0.01)/0.2 = 21.9101...
    assert q.wait_quantile(0.99) == pytest.approx(21.910133173369, rel=1e-6)
    assert q.mean_sojourn == pytest.approx(5.0, rel=1e-12)


def test_md1_textbook_mean_wait():
    assert MG1(0.8, Deterministic(1.0)).mean_wait == pytest.approx(2.0, rel=1e-6)


def test_mm1_wait_cdf_is_one_minus_rho_exp():
    q = MG1(0.5, Exponential(1.0))
    t = np.array([0.0, 0.3, 2.0, 10.0])
    np.testing.assert_allclose(q.wait_cdf(t), 1 - 0.5 * np.exp(-0.5 * t), rtol=1e-12)


def test_takacs_second_moment_for_mm1_is_2_rho_over_mu_minus_lambda_squared():
    lam, mu = 0.7, 1.0
    q = MG1(lam, Exponential(1 / mu))
    assert q.wait_moment2 == pytest.approx(2 * (lam / mu) / (mu - lam) ** 2, rel=1e-12)


@pytest.mark.parametrize("rho", [0.3, 0.8, 0.95])
def test_md1_erlang_cdf_equals_crommelin_chain_with_one_server(rho):
    q, chain = MG1(rho, Deterministic(1.0)), MDc(rho, 1.0, 1)
    for t in (0.0, 0.5, 1.0, 2.7, 10.0, 40.0):
        assert q.wait_cdf(t) == pytest.approx(chain.wait_cdf(t), abs=1e-9)


def test_md1_erlang_formula_stays_accurate_far_in_the_tail():
    q = MG1(0.95, Deterministic(1.0))
    t = q.wait_quantile(0.9999)
    assert 0.0 < 1 - q.wait_cdf(t) < 2e-4
    assert q.wait_quantile(0.9999) > q.wait_quantile(0.999) > q.wait_quantile(0.99)


def test_euler_inversion_of_the_pk_transform_reproduces_the_mm1_cdf():
    t = np.array([0.2, 1.0, 5.0, 20.0])
    inverted = 0.2 * renewal_cdf(0.8, Exponential(1.0), t)
    np.testing.assert_allclose(inverted, 1 - 0.8 * np.exp(-0.2 * t), atol=1e-9)


def test_euler_inversion_matches_erlang_md1_away_from_the_kinks():
    t = np.array([0.5, 1.5, 4.5, 12.5])
    inverted = 0.2 * renewal_cdf(0.8, Gamma(1e6, 1.0), t)  # Gamma(k→∞) ≈ deterministic
    np.testing.assert_allclose(inverted, MG1(0.8, Deterministic(1.0)).wait_cdf(t), atol=2e-3)


LAWS = {
    "exponential": Exponential(1.0),
    "deterministic": Deterministic(1.0),
    "gamma_scv2": Gamma(0.5, 1.0),
    "lognormal_cv1": LogNormal.from_mean_cv(1.0, 1.0),
    "empirical": Empirical([0.2, 0.5, 0.5, 1.0, 2.8]),
    "mixture": Mixture([Exponential(0.5), Deterministic(3.0)], [0.8, 0.2]),
    "clipped_lognormal": LogNormal.from_mean_cv(1.0, 2.0).clip(4.0),
}


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8, 0.95])
@pytest.mark.parametrize("name", list(LAWS))
def test_mean_wait_and_quantiles_within_4_se_of_simulation(name, rho):
    law = LAWS[name]
    lam = rho / law.mean
    q = MG1(lam, law)
    n = 2_000_000 if rho >= 0.9 else 600_000
    run = simulate_mg1(lam, law, n, rng=11)
    assert abs(run.mean_wait().z(q.mean_wait)) < 4
    assert abs(run.mean_sojourn().z(q.mean_sojourn)) < 4
    for p in (0.5, 0.9, 0.99):
        if p > 1 - rho:  # below 1-ρ the quantile is the atom at 0
            t = q.wait_quantile(p)
            assert abs(run.wait_cdf(t).z(p)) < 4, (p, t)
    assert abs(run.wait_cdf(q.mean_wait).z(q.wait_cdf(q.mean_wait))) < 4


@pytest.mark.parametrize("name", ["gamma_scv2", "lognormal_cv1"])
def test_takacs_second_moment_within_4_se_of_simulation(name):
    law = LAWS[name]
    q = MG1(0.6 / law.mean, law)
    run = simulate_mg1(q.arrival_rate, law, 1_000_000, rng=5)
    assert abs(batch_means(run.waits**2).z(q.wait_moment2)) < 4


def _ciw_waits(arrival_rate, service_dist, horizon, seed):
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[service_dist],
        number_of_servers=[1],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(horizon)
    recs = sorted(sim.get_all_records(), key=lambda r: r.arrival_date)
    return np.array([r.waiting_time for r in recs if r.arrival_date > 0.05 * horizon])


@pytest.mark.parametrize(
    ("law", "dist"),
    [
        (Deterministic(1.0), ciw.dists.Deterministic(value=1.0)),
        (Gamma(2.0, 1.0), ciw.dists.Gamma(shape=2.0, scale=0.5)),
    ],
)
def test_mean_wait_agrees_with_ciw(law, dist):
    waits = _ciw_waits(0.7, dist, 20_000, seed=3)
    assert abs(batch_means(waits, 10).z(MG1(0.7, law).mean_wait)) < 4


def test_overload_is_an_explicit_result_not_nan():
    q = MG1(1.2, Exponential(1.0))
    assert not q.stable and q.utilization == pytest.approx(1.2)
    assert q.mean_wait == math.inf and q.wait_quantile(0.99) == math.inf
    d = q.to_dict()
    assert d["overloaded"] is True and d["load_ratio"] == pytest.approx(1.2)
    json.dumps(d, allow_nan=False)


def test_to_dict_is_strict_json_with_quantiles():
    d = MG1(0.8, Exponential(1.0)).to_dict()
    assert d["wait_p99"] == pytest.approx(21.910133173369, rel=1e-6)
    assert d["overloaded"] is False
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: MG1(-1.0, Exponential(1.0)), "arrival_rate"),
        (lambda: MG1(float("nan"), Exponential(1.0)), "arrival_rate"),
        (lambda: MG1(0.5, Exponential(1.0)).wait_quantile(1.0), "p"),
        (lambda: MG1(0.5, Exponential(1.0)).wait_quantile(0.0), "p"),
    ],
)
def test_bad_arguments_raise_a_queueing_input_error(build, argument):
    with pytest.raises(QueueingInputError, match=argument):
        build()
