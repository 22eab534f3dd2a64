"""Scheduler semantics of the serving simulator, and epoch skipping against the slow
one-iteration-at-a-time reference."""

import dataclasses

import numpy as np
import pytest

import perfmodel as pm
from planner.serving.engine import Engine
from planner.serving.schedulers import Disaggregated, StaticBatching
from planner.serving.simulate import make_arrivals, run_requests
from planner.workload import Workload

HW = "A100-SXM4-80GB"
KINDS = ("continuous", "chunked", "static", "disaggregated")


def chat_requests(n: int, rate: float, seed: int = 1, extra_input: int = 0, limit: int = 4096):
    t, i, o = make_arrivals(Workload.bundled("chat"), rate, n, np.random.default_rng(seed))
    i = i + extra_input
    keep = i + o <= limit
    return t[keep], i[keep], o[keep]


def estimate(engine: Engine, batch) -> float:
    return pm.estimate_step(
        engine.model, engine.hardware, batch, engine.parallelism, engine.quant, "default"
    ).time_s


def assert_same_run(fast, ref):
    for name in ("first_token", "finish"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-9)
    np.testing.assert_array_equal(fast.preemptions, ref.preemptions)
    assert fast.iterations == ref.iterations
    assert fast.prefill_iterations == ref.prefill_iterations
    (gf, wf), (gr, wr) = fast.tbt_samples(0, np.inf), ref.tbt_samples(0, np.inf)
    assert wf.sum() == wr.sum()
    np.testing.assert_allclose(
        np.sort(np.repeat(gf, wf.astype(int))), np.sort(np.repeat(gr, wr.astype(int))), rtol=1e-9
    )


CASES = [(k, "llama-2-7b", None) for k in KINDS]
CASES += [(k, "llama-2-7b", 3000) for k in KINDS]  # tiny KV: preemption (static reserves)
CASES += [(k, "mistral-7b", 9000) for k in ("continuous", "chunked")]  # sliding windows


@pytest.mark.parametrize(("kind", "model", "kv"), CASES)
def test_epoch_skipping_gives_the_per_iteration_reference_results(kind, model, kv):
    engine = Engine.build(model, HW, scheduler=kind)
    if kv:
        engine = dataclasses.replace(engine, kv_tokens=kv)
    extra = 3000 if model == "mistral-7b" else 0  # contexts cross the 4096 window
    t, i, o = chat_requests(120, 3.0, extra_input=extra, limit=min(engine.kv_tokens, 8192))
    fast = run_requests(engine, t, i, o)
    ref = run_requests(engine, t, i, o, exact=True)
    assert_same_run(fast, ref)
    assert fast.epochs < fast.iterations / 3  # iterations were actually skipped


@pytest.mark.parametrize("kind", ("continuous", "chunked", "disaggregated"))
def test_tiny_kv_preempts_and_never_exceeds_the_blocks(kind):
    engine = dataclasses.replace(Engine.build("llama-2-7b", HW, scheduler=kind), kv_tokens=2048)
    t, i, o = chat_requests(80, 4.0, limit=2048)
    res = run_requests(engine, t, i, o, exact=True)  # ledger cross-checked every iteration
    assert res.kv_blocks == 2048 // 16
    assert res.peak_kv_blocks <= res.kv_blocks
    assert res.preempted > 0
    assert np.all(np.isfinite(res.finish)) and np.all(res.finish >= res.first_token)


def test_static_batch_holds_until_its_longest_request_ends():
    engine = Engine.build("llama-2-7b", HW, scheduler=StaticBatching(batch_size=4))
    t, i, o = chat_requests(60, 2.0)
    res = run_requests(engine, t, i, o)
    starts, batch_of = np.unique(res.first_token, return_inverse=True)  # one prefill each
    sizes = np.bincount(batch_of)
    assert sizes.max() == 4 and sizes.sum() == t.size
    ends = np.array([res.finish[batch_of == b].max() for b in range(starts.size)])
    assert np.all(starts[1:] > ends[:-1])  # no batch starts before the previous one ended
    for b in range(starts.size):  # a batch takes only requests that had arrived
        prefill = estimate(engine, [(int(p), 0) for p in i[batch_of == b]])
        assert np.all(t[batch_of == b] <= starts[b] - prefill + 1e-12)


def test_static_batch_members_leave_the_decode_batch_when_done():
    """Two requests in one batch: after the short one ends, the long one decodes alone."""
    engine = Engine.build("llama-2-7b", HW, scheduler="static")
    res = run_requests(engine, [0.0, 0.0], [100, 100], [3, 6])
    first = estimate(engine, [(100, 0), (100, 0)])
    pair = sum(estimate(engine, [(1, 100 + j)] * 2) for j in range(2))
    alone = sum(estimate(engine, [(1, 100 + j)]) for j in range(2, 5))
    assert res.finish[0] == pytest.approx(first + pair, rel=1e-12)
    assert res.finish[1] == pytest.approx(first + pair + alone, rel=1e-12)


@pytest.mark.parametrize("same_node", (True, False))
def test_disaggregated_ttft_is_prefill_plus_the_kv_transfer(same_node):
    engine = Engine.build("llama-2-7b", HW, scheduler=Disaggregated(same_node=same_node))
    prompt = 1500
    res = run_requests(engine, [0.0], [prompt], [8])
    hw = engine.hardware
    bw, lat = (
        (hw.link_bandwidth, hw.link_latency_s)
        if same_node
        else (hw.nic_bandwidth, hw.nic_latency_s)
    )
    kv_bytes = prompt * engine.kv_bytes_per_token * engine.parallelism.gpus_per_replica
    assert res.ttft[0] == pytest.approx(estimate(engine, [(prompt, 0)]) + kv_bytes / bw + lat)


def test_disaggregated_spreads_requests_over_decode_replicas():
    """Two long decodes arriving together run one per decode replica: each decodes alone."""
    engine = Engine.build("llama-2-7b", HW, scheduler=Disaggregated(decode_replicas=2))
    res = run_requests(engine, [0.0, 0.0], [200, 200], [50, 50])
    alone = sum(estimate(engine, [(1, 200 + j)]) for j in range(49))
    np.testing.assert_allclose(res.finish - res.first_token, alone, rtol=1e-12)


def test_chunked_prefill_splits_a_long_prompt_into_budget_chunks():
    engine = Engine.build("llama-2-7b", HW, scheduler="chunked")  # token budget 512
    res = run_requests(engine, [0.0], [1300], [2])
    chunks = [(512, 0, False), (512, 512, False), (276, 1024, True)]
    assert res.first_token[0] == pytest.approx(sum(estimate(engine, [c]) for c in chunks))
    assert res.prefill_iterations == 3


def test_chunked_prefill_runs_decodes_alongside_prompt_chunks():
    """A decode in progress keeps one token of the budget: the next prompt gets 511."""
    engine = Engine.build("llama-2-7b", HW, scheduler="chunked")
    first = estimate(engine, [(100, 0)])
    res = run_requests(engine, [0.0, first], [100, 800], [50, 2])
    mixed = estimate(engine, [(1, 100), (511, 0, False)]) + estimate(
        engine, [(1, 101), (289, 511, True)]
    )
    assert res.first_token[1] == pytest.approx(first + mixed, rel=1e-12)


def test_continuous_batching_prefills_an_arrival_before_the_next_decode():
    engine = Engine.build("llama-2-7b", HW, scheduler="continuous")
    first = estimate(engine, [(100, 0)])
    step = estimate(engine, [(1, 100)])
    late = first + 0.5 * step  # arrives during the first decode iteration
    res = run_requests(engine, [0.0, late], [100, 300], [20, 5])
    prefill = estimate(engine, [(300, 0)])
    assert res.first_token[1] == pytest.approx(first + step + prefill)
    gaps, _ = res.tbt_samples(0, np.inf)  # the first request waited through the prefill
    assert gaps.max() == pytest.approx(prefill + estimate(engine, [(1, 101), (1, 300)]))
