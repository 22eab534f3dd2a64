"""Max-token clipping (Yang, Jiao & Xu 2024) and impatient users (M/G/1+D)."""

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
    ImpatientMG1,
    LogNormal,
    MaxTokenQueue,
    QueueingInputError,
    batch_means,
    simulate_mg1,
    simulate_mg1_impatient,
    token_service,
)

TOKENS = Empirical([20, 50, 80, 120, 200, 300, 600, 2000])


def _pk_wait_by_hand(lam, samples):
    s = np.asarray(samples, dtype=float)
    rho = lam * s.mean()
    return lam * np.mean(s**2) / (2 * (1 - rho))


@pytest.mark.parametrize("limit", [60, 250, 400])
def test_clipped_affine_service_gives_pk_delay_of_the_clipped_tokens(limit):
    tokens = np.array([20, 50, 80, 120, 200, 300, 600, 2000], dtype=float)
    kept = tokens if limit is None else np.minimum(tokens, limit)
    service = 0.002 * kept + 0.05
    q = MaxTokenQueue(1.5, TOKENS, seconds_per_token=0.002, overhead=0.05)
    assert q.mean_wait(limit) == pytest.approx(_pk_wait_by_hand(1.5, service), rel=1e-12)


def test_without_clipping_the_heavy_tail_overloads_and_clipping_restores_stability():
    q = MaxTokenQueue(1.5, TOKENS, 0.002, 0.05)
    assert not q.at(None).stable and q.mean_wait(None) == math.inf
    assert q.at(None).to_dict()["overloaded"] is True
    assert q.at(300).stable


def test_clipping_a_heavy_tail_cuts_the_delay_and_tail_fraction_is_reported():
    q = MaxTokenQueue(1.5, TOKENS, 0.002, 0.05)
    waits = [q.mean_wait(limit) for limit in (2000, 600, 300)]
    assert waits[0] > waits[1] > waits[2]
    assert q.clipped_fraction(300) == pytest.approx(2 / 8)


def test_optimal_limit_maximises_utility_minus_weighted_delay_over_observed_values():
    q = MaxTokenQueue(1.5, TOKENS, 0.002, 0.05)
    utility = lambda limit: math.log1p(limit)  # noqa: E731
    best = q.optimal_limit(utility, weight=2.0)
    tokens = np.array([20, 50, 80, 120, 200, 300, 600, 2000], dtype=float)
    by_hand = {}
    for limit in tokens:
        s = 0.002 * np.minimum(tokens, limit) + 0.05
        if 1.5 * s.mean() < 1:
            by_hand[limit] = math.log1p(limit) - 2.0 * (_pk_wait_by_hand(1.5, s) + s.mean())
    assert best.limit == max(by_hand, key=by_hand.get)
    assert best.objective == pytest.approx(max(by_hand.values()), rel=1e-12)
    json.dumps(best.to_dict(), allow_nan=False)


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_clipped_lognormal_token_queue_within_4_se_of_simulation(rho):
    tokens = LogNormal.from_mean_cv(200.0, 2.0)
    law = token_service(tokens, 0.001, 0.02, limit=800.0)
    lam = rho / law.mean
    run = simulate_mg1(lam, law, 1_000_000, rng=3)
    assert abs(run.mean_wait().z(MaxTokenQueue(lam, tokens, 0.001, 0.02).mean_wait(800.0))) < 4


def test_optimal_limit_rejects_an_unknown_delay_kind():
    with pytest.raises(QueueingInputError, match="delay"):
        MaxTokenQueue(1.0, TOKENS, 0.001).optimal_limit(lambda x: 0.0, 1.0, delay="p99")


IMPATIENT_GRID = [
    (Exponential(1.0), 0.5, 1.0),
    (Exponential(1.0), 0.95, 3.0),
    (Exponential(1.0), 1.5, 2.0),
    (Deterministic(1.0), 0.9, 3.0),
    (Deterministic(1.0), 2.0, 2.5),
    (Gamma(0.5, 1.0), 0.8, 0.7),
    (Gamma(0.5, 1.0), 1.3, 4.0),
    (LogNormal.from_mean_cv(1.0, 1.0), 0.9, 2.0),
    (Exponential(1.0), 3.0, 20.0),  # heavy overload: R(τ) ~ e^{40}
    (Deterministic(1.0), 4.0, 50.0),  # Erlang's sum in mpmath (λτ = 200)
    (Deterministic(1.0), 10.0, 40.0),  # λτ = 400: shifted Euler inversion
    (Gamma(0.5, 1.0), 5.0, 80.0),
]


@pytest.mark.parametrize(("law", "rho", "patience"), IMPATIENT_GRID)
def test_impatient_loss_and_served_wait_within_4_se_of_simulation(law, rho, patience):
    lam = rho / law.mean
    model = ImpatientMG1(lam, law, patience)
    run = simulate_mg1_impatient(lam, law, patience, 300_000, rng=9)
    assert abs(run.loss_probability().z(model.loss_probability)) < 4
    assert abs(run.mean_wait_served().z(model.mean_wait)) < 4


def test_zero_patience_is_the_erlang_loss_system():
    model = ImpatientMG1(0.8, Gamma(2.0, 1.0), 1e-9)
    assert model.loss_probability == pytest.approx(0.8 / 1.8, rel=1e-6)


def test_infinite_patience_recovers_pollaczek_khinchine():
    model = ImpatientMG1(0.7, Gamma(2.0, 1.0), 500.0)
    assert model.loss_probability < 1e-9
    assert model.mean_wait == pytest.approx(0.7 * 1.5 / (2 * 0.3), rel=1e-6)


def test_heavily_overloaded_mm1_with_patience_matches_its_asymptote():
    # R(t) ~ C e^{(λ-μ)t}: P(loss) → 1 - μ/λ and E[W | served] → τ - 1/(λ-μ)
    model = ImpatientMG1(10.0, Exponential(1.0), 100.0)
    assert model.loss_probability == pytest.approx(0.9, rel=1e-9)
    assert model.mean_wait == pytest.approx(100.0 - 1 / 9, rel=1e-9)


def test_overloaded_impatient_queue_is_stable_with_positive_loss():
    model = ImpatientMG1(3.0, Exponential(1.0), 2.0)
    assert model.stable and 0 < model.utilization < 1
    assert model.loss_probability > 1 - 1 / 3.0
    assert model.throughput == pytest.approx(3.0 * (1 - model.loss_probability))


def test_impatient_loss_agrees_with_ciw_reneging():
    lam, tau = 0.9, 2.0
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[1],
        reneging_time_distributions=[ciw.dists.Deterministic(value=tau)],
    )
    ciw.seed(4)
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(20_000)
    recs = sorted(sim.get_all_records(), key=lambda r: r.arrival_date)
    lost = np.array([r.record_type == "renege" for r in recs if r.arrival_date > 1000])
    model = ImpatientMG1(lam, Exponential(1.0), tau)
    assert abs(batch_means(lost, 10).z(model.loss_probability)) < 4


def test_mg1_without_patience_limit_is_unchanged_by_the_impatient_model_at_low_load():
    model = ImpatientMG1(0.2, Deterministic(1.0), 50.0)
    assert model.mean_wait == pytest.approx(MG1(0.2, Deterministic(1.0)).mean_wait, rel=1e-9)


def test_impatient_to_dict_reports_loss_and_is_strict_json():
    d = ImpatientMG1(2.0, Exponential(1.0), 1.0).to_dict()
    assert d["loss_probability"] > 0.5 and d["overloaded"] is False
    json.dumps(d, allow_nan=False)
