"""Batch queues: closed forms (M/M^[K]/1, Bailey) and every policy against simulation."""

import json
import math

import numpy as np
import pytest

from queueing import (
    BaileyBulk,
    BulkMMK,
    ContinuousBatching,
    Deterministic,
    DynamicBatching,
    Exponential,
    FixedBatching,
    Gamma,
    Geometric,
    QueueingInputError,
    linear_batch_time,
    longest_request_batch_time,
    simulate_batching,
    simulate_bulk_mmk,
    simulate_continuous_batching,
)

LINEAR = linear_batch_time(per_request=0.1, overhead=0.5)  # Inoue 2021: t(b) = αb + τ0


def _n(rho):
    """Customers per simulation: more near saturation, where runs correlate longer."""
    return 400_000 if rho >= 0.9 else 150_000


def _within_4_se(run, model):
    assert abs(run.mean_wait().z(model.mean_wait)) < 4
    assert abs(run.mean_sojourn().z(model.mean_sojourn)) < 4


def test_bulk_mmk_with_k1_is_the_mm1_queue():
    q = BulkMMK(0.6, 1.0, 1)
    assert q.root == pytest.approx(0.6, rel=1e-12)
    assert q.mean_wait == pytest.approx(0.6 / (1.0 - 0.6), rel=1e-10)


def test_bulk_mmk_root_solves_the_characteristic_equation_in_the_unit_interval():
    lam, mu, k = 3.0, 1.0, 4
    r = BulkMMK(lam, mu, k).root
    assert 0 < r < 1
    assert mu * r ** (k + 1) - (lam + mu) * r + lam == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8, 0.9])
def test_bulk_mmk_mean_number_within_4_se_of_ctmc_simulation(rho):
    q = BulkMMK(rho * 4.0, 1.0, 4)
    est = simulate_bulk_mmk(q.arrival_rate, 1.0, 4, events=2_000_000 if rho > 0.8 else 600_000)
    assert abs(est.z(q.mean_number)) < 4


def test_dynamic_batching_with_batch_cap_1_is_pollaczek_khinchine_md1():
    lam, t1 = 1.2, 0.6  # t(1) = 0.1 + 0.5
    q = DynamicBatching(lam, LINEAR, max_batch=1)
    assert q.mean_wait == pytest.approx(lam * t1**2 / (2 * (1 - lam * t1)), rel=1e-9)


def test_dynamic_batching_busy_probability_and_residual_of_a_deterministic_batch():
    """T = 1 fixed, λ = 0.5, a cap of 64 (never reached): a batch ends with nobody waiting
    w.p. e^{-0.5}, then the server idles 1/λ = 2, so P(busy) = 1/(1 + 2e^{-0.5}); the
    residual of a fixed batch is uniform (E[R] = 1/2, E[R^2] = 1/3). With a cap of 1 it is
    M/D/1, busy w.p. ρ = λT; overloaded, always busy."""
    q = DynamicBatching(0.5, lambda k: Deterministic(1.0), max_batch=64)
    assert q.busy_probability == pytest.approx(1 / (1 + 2 * math.exp(-0.5)), rel=1e-6)
    assert q.residual_moments == pytest.approx((0.5, 1 / 3))
    md1 = DynamicBatching(0.5, lambda k: Deterministic(1.0), max_batch=1)
    assert md1.busy_probability == pytest.approx(0.5, rel=1e-6)
    jammed = DynamicBatching(50.0, lambda k: Deterministic(1.0), max_batch=4)  # λ > 4/T
    assert jammed.busy_probability == 1.0
    assert jammed.residual_moments == pytest.approx((0.5, 1 / 3))


def test_dynamic_batching_capacity_is_full_batch_over_its_time():
    q = DynamicBatching(1.0, LINEAR, max_batch=8)
    assert q.capacity == pytest.approx(8 / (0.1 * 8 + 0.5))
    assert DynamicBatching(1.0, LINEAR).capacity == pytest.approx(1 / 0.1, rel=1e-9)
    assert FixedBatching(1.0, LINEAR, 4).capacity == pytest.approx(4 / 0.9)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8, 0.95])
def test_dynamic_batching_inoue_linear_time_within_4_se_of_simulation(rho):
    cap = 8 / 1.3
    q = DynamicBatching(rho * cap, LINEAR, max_batch=8)
    run = simulate_batching(q.arrival_rate, LINEAR, "dynamic", 8, n=_n(rho), rng=21)
    _within_4_se(run, q)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8, 0.95])
def test_elastic_batching_within_4_se_of_simulation(rho):
    q = DynamicBatching(rho * 10.0, LINEAR, max_batch=None)
    run = simulate_batching(q.arrival_rate, LINEAR, "dynamic", None, n=_n(rho), rng=22)
    _within_4_se(run, q)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8, 0.95])
def test_fixed_batching_within_4_se_of_simulation(rho):
    q = FixedBatching(rho * 4 / 0.9, LINEAR, batch_size=4)
    run = simulate_batching(q.arrival_rate, LINEAR, "fixed", 4, n=_n(rho), rng=23)
    _within_4_se(run, q)


@pytest.mark.parametrize("law", [Deterministic(1.0), Exponential(1.0), Gamma(2.0, 1.0)])
def test_bailey_root_formula_equals_the_embedded_chain(law):
    for lam in (1.0, 3.0, 3.8):
        q = BaileyBulk(lam, law, 4)
        assert q.mean_wait == pytest.approx(q.mean_wait_numeric, rel=1e-7)


@pytest.mark.parametrize("rho", [0.3, 0.8, 0.95])
@pytest.mark.parametrize("law", [Deterministic(1.0), Gamma(2.0, 1.0)])
def test_bailey_bulk_queue_within_4_se_of_simulation(law, rho):
    q = BaileyBulk(rho * 4.0, law, 4)
    run = simulate_batching(q.arrival_rate, lambda k: law, "bailey", 4, n=_n(rho), rng=24)
    _within_4_se(run, q)


@pytest.mark.parametrize("lam", [1.0, 2.2])
def test_batch_time_set_by_the_longest_request_within_4_se_of_token_level_simulation(lam):
    tokens = Gamma(2.0, 100.0)
    model = DynamicBatching(lam, longest_request_batch_time(tokens, 0.01, 0.2, 0.05), 8)
    run = simulate_batching(
        lam, None, "dynamic", 8, n=200_000, rng=25, tokens=tokens,
        batch_seconds=lambda k, longest: 0.01 * longest + 0.2 + 0.05 * k,
    )  # fmt: skip
    _within_4_se(run, model)


ITERATION = linear_batch_time(0.005, 0.02)


def test_continuous_batching_capacity_is_b_over_m_t_of_b():
    q = ContinuousBatching(1.0, ITERATION, mean_iterations=20.0, max_batch=8)
    assert q.capacity == pytest.approx(8 / (20.0 * (0.02 + 0.005 * 8)))


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_continuous_batching_within_4_se_of_iteration_level_simulation(rho):
    q = ContinuousBatching(rho * 8 / 1.2, ITERATION, mean_iterations=20.0, max_batch=8)
    run = simulate_continuous_batching(
        q.arrival_rate, ITERATION, Geometric(20.0), 8, n=20_000 if rho < 0.7 else 60_000, rng=26
    )
    _within_4_se(run, q)


@pytest.mark.parametrize(
    "model",
    [
        DynamicBatching(7.0, LINEAR, 8),
        FixedBatching(5.0, LINEAR, 4),
        BaileyBulk(4.5, Exponential(1.0), 4),
        BulkMMK(4.5, 1.0, 4),
        ContinuousBatching(7.0, ITERATION, 20.0, 8),
    ],
)
def test_overloaded_batch_queues_report_overload_not_nan(model):
    assert not model.stable and model.utilization > 1
    assert model.mean_wait == math.inf and model.mean_sojourn == math.inf
    d = model.to_dict()
    assert d["overloaded"] is True and d["load_ratio"] > 1
    json.dumps(d, allow_nan=False)


def test_stable_batch_queue_to_dict_is_strict_json():
    d = DynamicBatching(3.0, LINEAR, 8).to_dict()
    assert d["overloaded"] is False and d["mean_batch_size"] > 1
    json.dumps(d, allow_nan=False)
    assert np.isfinite(d["mean_wait"])


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: DynamicBatching(-1.0, LINEAR, 8), "arrival_rate"),
        (lambda: DynamicBatching(1.0, LINEAR, 0), "max_batch"),
        (lambda: FixedBatching(1.0, LINEAR, 2.5), "batch_size"),
        (lambda: DynamicBatching(1.0, 3.0, 8), "batch_time"),
        (lambda: ContinuousBatching(1.0, ITERATION, 0.5, 8), "mean_iterations"),
        (lambda: linear_batch_time(-0.1, 0.5), "per_request"),
    ],
)
def test_bad_batch_arguments_raise_a_queueing_input_error(build, argument):
    with pytest.raises(QueueingInputError, match=argument):
        build()
