"""Closed-loop load (N clients, each sending its next request when the last one finishes, plus
an optional think time): hand-computed cycles, Little's law, saturation, exactness of epoch
skipping, rejections and bad input."""

import dataclasses
import math

import numpy as np
import pytest

from planner.serving import simulate_closed
from planner.serving.api import engine_for
from planner.serving.schedulers import ContinuousBatching, StaticBatching
from planner.serving.sim_closed import run_closed
from planner.workload import Workload

MODEL, HW = "qwen2.5-0.5b", "H100-SXM"
KINDS = ("continuous", "chunked", "static")
_ENGINES = {}


def engine(scheduler="continuous"):
    """Engines are built once per scheduler (a few seconds each)."""
    key = repr(scheduler)
    if key not in _ENGINES:
        _ENGINES[key] = engine_for(MODEL, HW, scheduler=scheduler)
    return _ENGINES[key]


def decode_steps(eng, batch: int, prompt: int, output: int) -> float:
    """Decode iterations after a prefill of ``prompt`` tokens: output - 1 of them, the j-th
    (j = 0, 1, ...) with ``batch`` sequences of prompt + j cached tokens."""
    ctx = prompt + np.arange(output - 1, dtype=float)
    return float(np.sum(eng.decode_time(np.full_like(ctx, batch), ctx)))


def chat_sizes(n: int, seed: int = 1, limit: int = 4096):
    ins, outs = Workload.bundled("chat").sample(n, np.random.default_rng(seed))
    keep = ins + outs <= limit
    return ins[keep], outs[keep]


# ---- (a) one client -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_one_client_cycle_is_prefill_plus_decode_steps_and_throughput_its_inverse(kind):
    """One client, fixed sizes: E2E = prefill(P) + sum_{j<O-1} decode(1, P + j); requests
    follow each other back to back, so throughput = 1 / E2E, output tokens/s = O / E2E and
    the decode batch is 1 for the decode share of the time."""
    eng, P, O = engine(kind), 500, 64
    prefill = float(eng.prefill_time([P])[0])
    e2e = prefill + decode_steps(eng, 1, P, O)
    r = simulate_closed(eng, Workload.fixed(P, O), 1, n_requests=40)
    assert r.source == "simulation" and r.scheduler == kind and not r.overloaded
    assert r.e2e.mean == pytest.approx(e2e, rel=1e-9)
    assert r.e2e.p99 == pytest.approx(e2e, rel=1e-9)
    assert r.ttft.mean == pytest.approx(prefill, rel=1e-9)
    assert r.tpot.mean == pytest.approx((e2e - prefill) / (O - 1), rel=1e-9)
    assert r.rate == pytest.approx(1 / e2e, rel=1e-9)
    assert r.output_tokens_per_s == pytest.approx(O / e2e, rel=1e-9)
    assert r.total_tokens_per_s == pytest.approx((P + O) / e2e, rel=1e-9)
    assert r.decode_batch == pytest.approx((e2e - prefill) / e2e, rel=1e-6)
    assert r.notes[0].startswith("closed loop, 1 client:")


def test_think_time_separates_a_clients_finish_from_its_next_request():
    """Arrival of request k + 1 = finish of request k + think_s; with one client the
    throughput is 1 / (E2E + think_s)."""
    eng, think = engine(), 0.05
    res = run_closed(eng, [300] * 10, [20] * 10, 1, think_s=think)
    np.testing.assert_allclose(res.arrival[1:] - res.finish[:-1], think, rtol=1e-12)
    e2e = float(eng.prefill_time([300])[0]) + decode_steps(eng, 1, 300, 20)
    r = simulate_closed(eng, Workload.fixed(300, 20), 1, n_requests=30, think_s=think)
    assert r.e2e.mean == pytest.approx(e2e, rel=1e-9)
    assert r.rate == pytest.approx(1 / (e2e + think), rel=1e-9)


# ---- (b) Little's law -------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "think"), [("continuous", 0.0), ("chunked", 0.2)])
def test_littles_law_clients_equal_throughput_times_cycle(kind, think):
    """Each client is always either waiting for a request or thinking:
    N = X * (mean E2E + think_s)."""
    n = 16
    r = simulate_closed(engine(kind), Workload.bundled("chat"), n, n_requests=3000, think_s=think)
    assert r.rate * (r.e2e.mean + think) == pytest.approx(n, rel=0.01)
    assert r.notes[0].startswith(f"closed loop, {n} clients")


# ---- (c) static batching ----------------------------------------------------------------
@pytest.mark.parametrize(("rounds", "think"), [(1, 0.0), (1, 0.1), (2, 0.0)])
def test_static_batches_of_b_clients_cycle_one_batch_at_a_time(rounds, think):
    """Static batch size B, fixed sizes, rounds x B clients: every batch is B requests that
    start and end together, taking T = prefill(B prompts) + sum_j decode(B, P + j). With B
    clients E2E = T and X = B / (T + think_s); with 2B clients each request waits for the
    other half's batch: E2E = 2T, X = B / T."""
    B, P, O = 4, 256, 32
    eng = engine(StaticBatching(batch_size=B))
    prefill = np.asarray(eng.steps.prefill(P, batch=B)).item()
    T = prefill + decode_steps(eng, B, P, O)
    r = simulate_closed(eng, Workload.fixed(P, O), rounds * B, n_requests=120, think_s=think)
    assert r.e2e.mean == pytest.approx(rounds * T, rel=1e-9)
    assert r.e2e.p99 == pytest.approx(rounds * T, rel=1e-9)
    assert r.ttft.mean == pytest.approx((rounds - 1) * T + prefill, rel=1e-9)
    assert r.rate == pytest.approx(B / (T + think), rel=1e-9)


# ---- (d) saturation -------------------------------------------------------------------------
def test_throughput_grows_with_clients_and_saturates_at_the_probe_capacity():
    """With max_num_seqs = 8, throughput does not fall as clients are added, and from 8
    clients on it is the engine's saturated throughput (the probe capacity); a closed loop
    is never overloaded, whatever the number of clients."""
    eng = engine(ContinuousBatching(max_num_seqs=8))
    chat = Workload.bundled("chat")
    reports = {n: simulate_closed(eng, chat, n, n_requests=2000) for n in (1, 2, 4, 8, 16, 32)}
    x = np.array([r.rate for r in reports.values()])
    assert np.all(x[1:] >= 0.99 * x[:-1])
    assert x[-1] > 4 * x[0]
    for n in (16, 32):
        assert reports[n].rate == pytest.approx(reports[n].capacity, rel=0.03)
    assert not any(r.overloaded for r in reports.values())
    assert reports[32].ttft.mean > reports[8].ttft.mean  # the extra clients queue


# ---- exactness of epoch skipping ---------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("think", "kv"), [(0.0, None), (0.03, None), (0.0, 2048)])
def test_closed_loop_epoch_skipping_gives_the_per_iteration_reference(kind, think, kv):
    """Arrivals at finishes (+ think time) keep the skipped epochs exact: the same arrivals,
    first tokens, finishes, iterations and preemptions as one iteration at a time (tiny KV:
    with preemption)."""
    eng = engine(kind)
    if kv:
        eng = dataclasses.replace(eng, kv_tokens=kv)
    ins, outs = chat_sizes(60, limit=min(eng.kv_tokens, 4096))
    fast = run_closed(eng, ins, outs, 6, think_s=think)
    ref = run_closed(eng, ins, outs, 6, think_s=think, exact=True)
    for name in ("arrival", "first_token", "finish"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-9)
    np.testing.assert_array_equal(fast.preemptions, ref.preemptions)
    assert fast.iterations == ref.iterations
    assert fast.epochs < ref.epochs
    if kv and kind != "static":
        assert fast.preempted > 0


def test_clients_keep_the_load_until_every_measured_request_finishes():
    """Requests are issued in arrival order; at most N are in the system at any time, and
    exactly N from the start until the last measured request has finished."""
    ins, outs = chat_sizes(200)
    n, clients = ins.size, 5
    res = run_closed(engine(), ins, outs, clients)
    assert np.all(np.diff(res.arrival) >= 0)
    np.testing.assert_array_equal(res.input_tokens[:n], ins)
    end = res.finish[:n].max()
    for t in np.linspace(0, end, 50, endpoint=False):
        in_system = np.count_nonzero((res.arrival <= t) & (res.finish > t))
        assert in_system == clients


# ---- rejections and bad input -------------------------------------------------------------
def test_requests_that_never_fit_are_set_aside_and_reported():
    wl = Workload.from_histogram(
        [
            {"input_tokens": 200, "output_tokens": 50, "probability": 0.75},
            {"input_tokens": 40000, "output_tokens": 50, "probability": 0.25},
        ]
    )
    r = simulate_closed(engine(), wl, 4, n_requests=400)
    [(reason, share)] = r.rejected.items()
    assert "context" in reason
    assert share == pytest.approx(0.25, abs=4 * math.sqrt(0.25 * 0.75 / 400))
    assert any(note.startswith("rejected") for note in r.notes)
    assert r.total_tokens_per_s == pytest.approx(250 * r.rate, rel=1e-9)  # only 200 x 50 ran


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": -3}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"concurrency": "4"}, "concurrency"),
        ({"think_s": -0.1}, "think_s"),
        ({"think_s": math.nan}, "think_s"),
        ({"think_s": math.inf}, "think_s"),
        ({"n_requests": 4}, "n_requests"),
        ({"warmup": 1.0}, "warmup"),
    ],
)
def test_bad_input_is_one_clear_error_naming_the_parameter(kwargs, name):
    args = {"concurrency": 4, "n_requests": 100} | kwargs
    with pytest.raises(ValueError, match=name):
        simulate_closed(engine(), Workload.fixed(100, 10), **args)


def test_disaggregated_serving_is_refused():
    eng = engine("disaggregated")
    with pytest.raises(ValueError, match="closed loop is not supported for disaggregated"):
        simulate_closed(eng, Workload.fixed(100, 10), 4, n_requests=100)
