"""Queueing facts the simulator must reproduce, and its ServingReport (overload, capacity,
rejections, warmup, arrivals)."""

import math

import numpy as np
import pytest

import perfmodel as pm
from planner.serving.engine import Engine
from planner.serving.schedulers import ContinuousBatching
from planner.serving.simulate import make_arrivals, run_requests, simulate
from planner.serving.slo import SLO
from planner.workload import Workload

HW = "A100-SXM4-80GB"


def batch_means_se(x: np.ndarray, batches: int = 40) -> float:
    """Standard error of the mean of a correlated series (batch means)."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(means.std(ddof=1) / math.sqrt(batches))


@pytest.fixture(scope="module")
def chat_engine():
    return Engine.build("llama-2-7b", HW, scheduler="continuous")


def test_one_token_requests_queue_like_md1():
    """Output 1 and a token budget of one prompt: every request is one deterministic
    prefill iteration S, served FCFS; mean TTFT = rho*S / (2(1 - rho)) + S
    (Pollaczek-Khinchine with deterministic service)."""
    prompt = 512
    engine = Engine.build(
        "llama-2-7b", HW, scheduler=ContinuousBatching(max_num_batched_tokens=prompt)
    )
    service = pm.estimate_step(engine.model, HW, [(prompt, 0)], calibration="default").time_s
    rho, n = 0.6, 40_000
    rate = rho / service
    t = np.cumsum(np.random.default_rng(3).exponential(1 / rate, n))
    res = run_requests(engine, t, np.full(n, prompt), np.ones(n, dtype=int))
    ttft = res.ttft[n // 10 :]
    want = rho * service / (2 * (1 - rho)) + service
    assert abs(ttft.mean() - want) < 4 * batch_means_se(ttft)
    assert ttft.min() == pytest.approx(service)


def test_littles_law_holds_for_the_decode_batch(chat_engine):
    """Time-average running decodes = completion rate x mean time in decode."""
    t, i, o = make_arrivals(Workload.bundled("chat"), 6.0, 12_000, np.random.default_rng(5))
    keep = i + o <= 4096
    res = run_requests(chat_engine, t[keep], i[keep], o[keep])
    assert res.preempted == 0
    t0, t1 = res.arrival[1000], res.arrival[-2000]
    in_window = (res.first_token >= t0) & (res.finish <= t1)
    done = (res.finish > t0) & (res.finish <= t1)
    rate = done.sum() / (t1 - t0)
    stay = (res.finish - res.first_token)[in_window].mean()
    assert res.mean_decode_batch(t0, t1) == pytest.approx(rate * stay, rel=0.03)


def test_time_between_tokens_adds_up_to_each_requests_decode_time(chat_engine):
    """Token-weighted mean gap = sum(finish - first token) / sum(output - 1) when no
    request is preempted (the gaps of a request add up to its decode time)."""
    t, i, o = make_arrivals(Workload.bundled("chat"), 6.0, 3000, np.random.default_rng(8))
    keep = i + o <= 4096
    res = run_requests(chat_engine, t[keep], i[keep], o[keep])
    gaps, tokens = res.tbt_samples(0.0, math.inf)
    assert tokens.sum() == (res.output_tokens - 1).sum()
    decode = (res.finish - res.first_token).sum()
    assert np.dot(gaps, tokens) == pytest.approx(decode, rel=1e-9)


def test_moderate_load_report_is_finite_and_below_capacity(chat_engine):
    chat = Workload.bundled("chat")
    report = simulate(chat_engine, chat, rate=4.0, n_requests=4000, seed=2)
    assert report.source == "simulation" and not report.overloaded
    assert report.capacity > report.rate
    assert 0 < report.ttft.mean < report.ttft.p90 < report.ttft.p99 < math.inf
    assert report.tpot.p50 <= report.tpot.p90 < math.inf
    assert 0 < report.tbt.p50 <= report.tbt.p99 < math.inf
    assert report.decode_batch > 1
    assert "(3600 measured after warmup)" in report.notes[0]  # warmup drops the first 10%


def test_overload_is_reported_with_infinite_latencies(chat_engine):
    chat = Workload.bundled("chat")
    probe = simulate(chat_engine, chat, rate=1.0, n_requests=3000, seed=1)
    report = simulate(chat_engine, chat, rate=2.5 * probe.capacity, n_requests=4000, seed=1)
    assert report.overloaded and report.capacity < report.rate
    assert report.capacity == pytest.approx(probe.capacity, rel=0.15)
    assert math.isinf(report.ttft.mean) and math.isinf(report.e2e.p99)
    assert any(note.startswith("overloaded") for note in report.notes)
    assert report.to_dict()["ttft"]["mean"] is None


def test_capacity_is_the_saturated_completion_rate(chat_engine):
    """Every request queued at t = 0: the probe capacity equals the completions per second
    while the queue is non-empty."""
    chat = Workload.bundled("chat")
    report = simulate(chat_engine, chat, rate=1.0, n_requests=3000, seed=4)
    _, i, o = make_arrivals(chat, 1.0, 3000, np.random.default_rng(4))
    keep = i + o <= 4096
    sat = run_requests(chat_engine, np.zeros(keep.sum()), i[keep], o[keep])
    busy = sat.finish <= sat.first_token.max()
    assert report.capacity == pytest.approx(busy.sum() / sat.first_token.max(), rel=0.1)


def test_requests_longer_than_the_context_are_rejected_with_the_reason(chat_engine):
    wl = Workload.from_histogram(
        [
            {"input_tokens": 200, "output_tokens": 100, "probability": 0.75},
            {"input_tokens": 4000, "output_tokens": 500, "probability": 0.25},
        ]
    )
    report = simulate(chat_engine, wl, rate=2.0, n_requests=2000, seed=0)
    [(reason, share)] = report.rejected.items()  # share of requests, as the analytic model
    assert "context" in reason and "4096" in reason
    assert share == pytest.approx(0.25, abs=4 * math.sqrt(0.25 * 0.75 / 2000))
    assert any(note.startswith("rejected") for note in report.notes)


def test_goodput_counts_requests_meeting_the_slo(chat_engine):
    chat = Workload.bundled("chat")
    loose = simulate(chat_engine, chat, 3.0, n_requests=3000, slo=SLO(ttft_s=10.0))
    tight = simulate(chat_engine, chat, 3.0, n_requests=3000, slo=SLO(ttft_s=1e-4))
    assert loose.goodput == pytest.approx(3.0, rel=0.1)
    assert tight.goodput == 0.0


def test_trace_arrivals_are_rescaled_to_the_rate():
    chat = Workload.bundled("chat")
    t, i, _ = make_arrivals(chat, 5.0, 3000, np.random.default_rng(0), "trace")
    assert (t.size - 1) / (t[-1] - t[0]) == pytest.approx(5.0, rel=0.01)
    np.testing.assert_array_equal(i[:2000], chat.input_tokens)  # trace order, repeated
    np.testing.assert_array_equal(i[2000:], chat.input_tokens[:1000])
    gaps = np.diff(chat.arrival_s)
    np.testing.assert_allclose(np.diff(t[:2000]) / np.diff(t[:2000]).mean(), gaps / gaps.mean())
