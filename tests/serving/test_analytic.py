"""The analytic serving model against textbook queueing results, perfmodel step times,
Little's law, and its own contract: overload is a result, SLO search is consistent."""

import math

import numpy as np
import pytest
from scipy import stats

import perfmodel as pm
from planner.serving import SLO, Engine, analyze, evaluate, max_rate_under_slo, prepare
from planner.workload import Workload


@pytest.fixture(scope="module")
def engine():
    return Engine.build("llama-2-7b", "A100-SXM4-80GB", quant="bf16", calibration="ideal")


def test_prefill_only_requests_follow_md1(engine):
    """Output of 1 token: the replica is an M/D/1 queue of prefills (Pollaczek–Khinchine)."""
    prep = prepare(engine, Workload.fixed(2000, 1))
    s = pm.estimate_step("llama-2-7b", "A100-SXM4-80GB", [(2000, 0)], quant="bf16").time_s
    rate = 0.7 / s
    r = analyze(engine, prep, rate, samples=200_000)
    md1 = 0.7 * s / (2 * (1 - 0.7)) + s
    assert r.ttft.mean == pytest.approx(md1, rel=0.02)
    assert r.capacity == pytest.approx(1 / s)


def test_capacity_matches_the_work_conserving_bound(engine):
    """λ_max = 1/(E[t_pre(K)]/E[K] + E[D]·t_d(N_cap)/N_cap): at saturation each decode
    iteration frees Poisson(N_cap/E[D]) slots and one prefill iteration refills them with
    K >= 1 prompts; steps taken from perfmodel.estimate_step."""
    w = Workload.fixed(500, 201)
    prep = prepare(engine, w)
    n_cap = engine.kv_tokens / (600 + 8)  # KV binds: a sequence holds 600 tokens + half a block
    assert 190 < n_cap < 256
    k = np.arange(1, 17)  # max_num_batched_tokens 8192 / 500 prompt tokens
    pk = stats.poisson.pmf(k, n_cap / 200)
    pk[-1] += stats.poisson.sf(k[-1], n_cap / 200)
    t_k = [pm.estimate_step("llama-2-7b", "a100", [(500, 0)] * j, quant="bf16").time_s for j in k]
    t_p = np.dot(pk, t_k) / np.dot(pk, k)
    lo = math.floor(n_cap)
    t_lo, t_hi = (
        pm.estimate_step("llama-2-7b", "a100", [(1, 600)] * n, quant="bf16").time_s
        for n in (lo, lo + 1)
    )
    t_d = t_lo + (n_cap - lo) * (t_hi - t_lo)  # decode time is affine in the batch here
    assert analyze(engine, prep, 1.0).capacity == pytest.approx(
        1 / (t_p + 200 * t_d / n_cap), rel=1e-5
    )


def test_little_law_links_decode_batch_and_tpot(engine):
    prep = prepare(engine, Workload.fixed(300, 301))
    r = analyze(engine, prep, 5.0)
    assert r.decode_batch == pytest.approx(5.0 * 300 * r.tpot.mean, rel=0.02)


def test_light_load_ttft_is_the_prefill_time(engine):
    prep = prepare(engine, Workload.fixed(1024, 50))
    r = analyze(engine, prep, 1e-6)
    t_p = pm.estimate_step("llama-2-7b", "a100", [(1024, 0)], quant="bf16").time_s
    assert r.ttft.mean == pytest.approx(t_p, rel=1e-3)


def test_overload_is_reported_with_the_ratio_and_no_finite_latency(engine):
    prep = prepare(engine, Workload.bundled("chat"))
    cap = analyze(engine, prep, 1.0).capacity
    r = analyze(engine, prep, 2 * cap)
    assert r.overloaded and r.utilization == pytest.approx(2.0)
    assert math.isinf(r.ttft.p99) and math.isinf(r.e2e.mean)
    assert "load ratio 2" in r.notes[0]
    assert r.to_dict()["ttft"]["mean"] is None  # JSON-safe, never NaN


@pytest.mark.parametrize("scheduler", ["continuous", "chunked", "static", "disaggregated"])
def test_latency_grows_with_load_for_every_scheduler(scheduler):
    e = Engine.build("llama-2-7b", "A100-SXM4-80GB", scheduler=scheduler)
    prep = prepare(e, Workload.bundled("chat"))
    cap = analyze(e, prep, 1e-9).capacity
    low, high = analyze(e, prep, 0.2 * cap), analyze(e, prep, 0.9 * cap)
    assert high.ttft.mean > low.ttft.mean and high.e2e.p90 > low.e2e.p90
    assert not high.overloaded


def test_requests_longer_than_the_context_are_counted_not_dropped(engine):
    w = Workload.from_histogram(
        [
            {"input_tokens": 100, "output_tokens": 100, "probability": 0.75},
            {"input_tokens": 5000, "output_tokens": 10, "probability": 0.25},
        ]
    )
    r = analyze(engine, prepare(engine, w), 1.0)
    assert list(r.rejected.values()) == [0.25]
    assert "4096" in next(iter(r.rejected))


def test_max_rate_meets_the_slo_and_a_higher_rate_does_not():
    slo = SLO(ttft_s=0.2, tpot_s=0.03, percentile=0.9)
    best = max_rate_under_slo("llama-2-7b", "a100", "chat", slo)
    assert best.feasible and 0 < best.rate < best.capacity
    at = evaluate("llama-2-7b", "a100", "chat", best.rate, slo=slo)
    above = evaluate("llama-2-7b", "a100", "chat", best.rate * 1.02, slo=slo)
    assert slo.met_by(at) and not slo.met_by(above)


def test_an_slo_no_rate_can_meet_says_so_with_the_latency_floor():
    best = max_rate_under_slo("llama-2-7b", "a100", "summarization", SLO(ttft_s=0.01))
    assert not best.feasible and best.rate == 0
    assert "no rate meets the SLO: at zero load p90 TTFT" in best.reason


def test_slo_needs_a_target():
    with pytest.raises(ValueError, match="at least one of"):
        SLO(percentile=0.9)


def test_chunked_prefill_bounds_the_token_gap_that_prefill_first_stalls():
    """Sarathi-Serve's point: prefill-first scheduling inserts whole prefills between tokens;
    chunked prefill caps a gap at one mixed iteration."""
    w = Workload.bundled("summarization")
    gaps = {}
    for sched in ("continuous", "chunked"):
        e = Engine.build("mistral-7b", "A100-SXM4-80GB", scheduler=sched)
        p = prepare(e, w)
        gaps[sched] = analyze(e, p, 0.5 * analyze(e, p, 1e-9).capacity).tbt.p99
    mean_prefill = pm.prefill_time(
        "mistral-7b", "A100-SXM4-80GB", int(w.mean_input), calibration="default"
    )
    assert gaps["continuous"] > mean_prefill > gaps["chunked"]


def test_report_quantiles_equal_numpys_linear_quantiles_to_the_last_bit():
    """planner.serving.report.quantiles is np.quantile's default (Hyndman & Fan 7) without
    its set-up: same values on sizes 1..40 and long samples, ties, inf and NaN included."""
    import warnings

    from planner.serving.report import QUANTILES, quantiles

    rng = np.random.default_rng(11)
    for n in [*range(1, 41), 1000, 1024, 4097]:
        x = rng.lognormal(0, 2, n)
        ties = np.round(x, 1)
        with_inf = x.copy()
        with_inf[n // 2] = np.inf
        with_nan = x.copy()
        with_nan[0] = np.nan
        for s in (x, ties, with_inf, with_nan):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                expected, got = np.quantile(s, QUANTILES), quantiles(s)
            assert np.array_equal(got, expected, equal_nan=True), (n, got, expected)
