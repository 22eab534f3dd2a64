"""The chunked-prefill path model: its pieces against independent references (stratification
counts, the Lindley recursion run step by step), its smoothness in the rate, and its result
against the simulator."""

from dataclasses import astuple

import numpy as np
import pytest
from scipy import stats

from planner.serving import Engine, analyze, prepare, simulate
from planner.serving.analytic import n_cap, slots
from planner.serving.chunked import (
    ARRIVALS_BLOCK,
    BLOCK,
    _epoch_scale,
    _epochs,
    _poisson_quantile,
    draws,
    path_size,
    preempts,
    solve_path,
    stratified,
)
from planner.serving.chunked_tables import FILL, fluid_batch, fluid_capacity, fluid_time, tables
from planner.serving.chunked_walk import sorted_search, walk, workspace
from planner.serving.simulate import run_requests
from planner.workload import Workload


def test_stratified_draws_hit_each_weight_to_one_draw_in_every_prefix_of_whole_blocks():
    rng = np.random.default_rng(3)
    w = np.array([0.5, 0.25, 0.125, 0.125])
    idx = stratified(rng, w, 5 * BLOCK + 17)
    for blocks in (1, 2, 5):
        counts = np.bincount(idx[: blocks * BLOCK], minlength=4)
        assert np.all(np.abs(counts - blocks * BLOCK * w) <= blocks)


def test_draws_are_uniform_and_not_serially_correlated_unless_asked_ascending():
    """Equal weights on 10^5 indices: the draws are uniform, in random order inside each
    block; ``shuffle=False`` returns every block ascending (one draw per slice of it)."""
    rng, n = np.random.default_rng(5), 100_000
    u = (stratified(rng, np.ones(n), 100 * BLOCK) + 0.5) / n
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / np.sqrt(u.size)
    blocks = stratified(rng, np.ones(n), 4 * BLOCK, shuffle=False).reshape(4, BLOCK)
    assert np.all(np.diff(blocks, axis=1) > 0)
    assert np.array_equal(blocks[:, ::16] * BLOCK // n, np.tile(np.arange(0, BLOCK, 16), (4, 1)))


def test_arrival_sizes_vary_inside_a_block_as_sampling_without_replacement():
    """Prompt sizes summed over the first half of each block of 4,096 arrivals: their
    variance is w·Var(I)·(1 - (w - 1)/(B - 1)) (sampling without replacement, finite
    population correction: about half of the independent draws' at w = B/2); drawn as one
    block over the whole path (a replica that preempts, ``path_size``), it is w·Var(I)."""
    e = Engine.build("llama-2-7b", "L40S", scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    var = p.mean(p.I**2) - p.mean(p.I) ** 2
    B, w, blocks = ARRIVALS_BLOCK, ARRIVALS_BLOCK // 2, 400
    assert path_size(4096, True)[1] is None and path_size(4096, False)[1] == B
    for block, factor in ((B, 1 - (w - 1) / (B - 1)), (None, 1.0)):
        d = draws(np.random.default_rng(7), p, 1, blocks * B, 0, block)
        sums = d.I.reshape(blocks, B)[:, :w].sum(axis=1)
        ratio = sums.var(ddof=1) / (w * var * factor)
        assert 0.8 < ratio < 1.2  # 400 windows: the variance's relative sd is 7%


def _path(model, gpu, load, L=6000, seed=4):
    e = Engine.build(model, gpu, scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    rate = load * analyze(e, p, 1e-9).capacity
    tab = tables(e, p, slots(e))
    d = draws(np.random.default_rng(seed), p, L, L, 0)
    N0 = fluid_batch(tab, p, rate, slots(e))
    g0 = float(fluid_time(tab, rate, p.mean(p.I), N0))
    return e, tab, d, solve_path(e, tab, rate, d, 0.0, g0)


def test_path_obeys_lindley_the_decode_spans_and_the_iteration_table():
    """The path solved iteration by iteration against closed forms of what it must satisfy:
    served tokens S_j = Q_j + min(0, min_k (X_k - Q_k)) (Lindley, Q the tokens the
    iterations could serve, at most the budget B - N_j), the decode batch N_j equal to the
    prompts that ended before j and are still decoding, and the length
    g_j = t(N_j, K_j / q_j) + (C_j - N_j c)·dT(N_j, K_j / q_j) of the iteration table, C_j
    the context of those decodes (prompt plus tokens generated through j)."""
    e, tab, d, path = _path("mistral-7b", "A100-SXM4-80GB", 0.85)
    budget = np.maximum(e.scheduler.token_budget - path.N, 1)
    assert np.all(np.diff(path.Q, prepend=0.0) <= budget + 1e-9)
    assert np.allclose(path.S, path.Q + np.minimum(0.0, np.minimum.accumulate(path.X - path.Q)))
    ends = np.cumsum(d.I)
    f = np.searchsorted(path.S, ends[ends <= path.S[-1] + 1e-6] - 1e-6)
    j = np.arange(d.L)[:, None]
    running = ((j > f) & (j <= f + d.D[: f.size])).sum(axis=1)
    assert np.array_equal(path.N, running)
    on = (j > f) & (j <= f + d.D[: f.size])
    context = (on * (d.I[: f.size] + j - f)).sum(axis=1)
    busy = (path.N > 0) | (path.K > 0)
    fill = path.K / tab.q[path.N]
    want = tab.at(path.N, fill) + (context - path.N * tab.ctx) * tab.at(path.N, fill, tab.dT)
    assert np.allclose(path.g[busy], want[busy], rtol=1e-9)
    assert np.ptp(context - path.N * tab.ctx) > 1000  # the correction is exercised
    assert path.N.mean() > 10 and np.mean(path.K > 0) > 0.2  # a loaded path, not a trivial one
    assert path.preemptions == 0  # 80 GB holds the batch: nothing to preempt (as simulated)


def test_iteration_table_reads_a_few_prompt_tokens_beside_the_decodes_as_the_step_model():
    """128 decodes of Llama-3.1-8B on an H100 (8192-token budget) plus k prompt tokens: the
    GEMMs turn from memory- to compute-bound within the first few hundred tokens, a convex
    bend that fills 512 tokens apart read up to 11% slow (k = 200); the table is read here
    against the step model evaluated at each k."""
    e = Engine.build("llama-3.1-8b", "H100-SXM", engine="vllm-v1")
    p = prepare(e, Workload.bundled("chat"))
    tab, n = tables(e, p, 256), 128
    i2, ei = p.mean(p.I**2) / p.mean(p.I), p.mean(p.I)
    for k in (16, 50, 123, 200, 400, 1000, 3000):
        row = e.mixed_rows(n, tab.ctx, k, max(i2 / 2 - k / 2, 0), min(k / ei, 1))
        direct = float(e.steps.time(row)[0])
        assert tab.at(np.array([n]), k / tab.q[n])[0] == pytest.approx(direct, rel=0.04), k


def test_preemptions_keep_lindley_for_the_arrival_stream():
    """Llama-2-7B on an A10G at 75% load runs out of KV and preempts running decodes; their
    recompute goes first and holds the queue while it waits for KV, which Q, the stream's
    capacity, leaves out: Lindley stays exact."""
    *_, path = _path("llama-2-7b", "A10G", 0.75, L=20000)
    assert path.preemptions > 100
    assert np.allclose(path.S, path.Q + np.minimum(0.0, np.minimum.accumulate(path.X - path.Q)))


def test_prompt_preempted_in_progress_is_recomputed_after_the_decodes_free_its_kv():
    """A hand-worked path (unit iteration times, budget 100 - N, KV 1000 tokens, admission
    limit 990, a KV slack of one token per sequence). Ten decodes holding 49 tokens each
    run until iteration 30; a 480-token prompt arriving at 0 fits (490 + 10 + 481 <= 990)
    and gets 90 tokens in iterations 0 and 1, but by iteration 2 the decodes have grown the
    KV to 991 + 10 > 1000:
    the prompt, the newest admission, is preempted (its 300 unserved tokens credited to the
    stream) and waits, blocking the queue, until the decodes end at 30; it is recomputed in
    30-34 (100 x 4 + 80 tokens), emits its first token at 34, and decodes 5 tokens."""
    flat = np.ones((17, FILL.size)).ravel()
    _, _, N, K, S, _, Q, credit, redo, _, _, _, count = walk(
        np.array([0.0]), np.array([0.0, 480.0]), np.array([480.0]), np.array([5]), flat,
        np.zeros_like(flat), 0.0, 100.0 - np.arange(17), 50, 1.0, 1000.0, 990.0, 1.0, 1.0,
        np.full(10, 30), np.full(10, 48.0), *workspace(50, 1, 10, 30),
    )  # fmt: skip
    c = np.diff(Q, prepend=0.0)
    assert count == 1 and credit[2] == 300 and redo[2] == 34 and S[2] == 480
    assert np.array_equal(K[:3], [90, 90, 0]) and np.all(K[3:30] == 0)
    assert np.array_equal(K[30:36], [100, 100, 100, 100, 80, 0])
    assert np.array_equal(N[28:42], [10, 10] + [0] * 5 + [1] * 5 + [0, 0])
    assert np.array_equal(c[:5], [90, 90, 300, 0, 0]) and c[34] == 20  # blocked, then free


def test_kv_bound_replica_preempts_about_as_often_as_simulated():
    """Llama-2-7B / A10G at 70% load: preemptions (recompute) per request on a long path
    against the simulator's count over 30,000 requests; one path varies between seeds,
    hence the wide band."""
    e = Engine.build("llama-2-7b", "A10G", scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    rate = 0.7 * analyze(e, p, 1e-9).capacity
    tab, L = tables(e, p, slots(e)), 131072
    d = draws(np.random.default_rng(1), p, L, L // 4, 0)
    g0 = float(fluid_time(tab, rate, p.mean(p.I), fluid_batch(tab, p, rate, slots(e))))
    path = solve_path(e, tab, rate, d, 0.0, g0)
    per_request = path.preemptions / np.searchsorted(np.cumsum(d.I), path.S[-1])
    rng, n = np.random.default_rng(3), 30000
    arrival = np.cumsum(rng.exponential(1 / rate, n))
    idx = rng.choice(p.w.size, n, p=p.w)
    sim = run_requests(e, arrival, p.I[idx].astype(int), p.D[idx].astype(int))
    assert 0.5 < per_request / (sim.preemptions.sum() / n) < 1.6


def test_path_admits_prompts_only_into_free_sequence_slots():
    """Qwen2.5-7B on the L40S at 95% load runs its 256 slots full: decodes plus prompts in
    progress never exceed them, and some iterations hold back prompt tokens for it."""
    e, _, d, path = _path("qwen2.5-7b", "L40S", 0.95, L=12000)
    starts = np.concatenate(([0.0], np.cumsum(d.I)[:-1]))
    ends = np.cumsum(d.I)
    begun = np.searchsorted(starts, path.S - 1e-6, side="right")  # prompts touched by j
    done_before = np.searchsorted(ends, np.concatenate(([0.0], path.S[:-1])) + 1e-6, "right")
    assert np.all(path.N + begun - done_before <= slots(e))
    budget = np.maximum(e.scheduler.token_budget - path.N, 1)
    held_back = (np.diff(path.Q, prepend=0.0) < budget - 1e-9) & (path.S < path.X - 1e-6)
    assert held_back.any()


def test_kv_bound_replica_beyond_its_admission_limit_is_reported_overloaded_as_simulated():
    """Llama-2-7B on an A10G holds ~14.5k KV tokens (~30 chat sequences). Its fluid
    capacity (KV on the mean batch) is 2.03 req/s, but admission stalls cap the throughput
    lower: at 2.0 req/s the simulator's queue grows without bound (saturated throughput
    ~1.76 req/s), and the model reports overload with its capacity within 10% of the
    simulated one; at 1.3 req/s both are stable."""
    e = Engine.build("llama-2-7b", "A10G", scheduler="chunked")
    w = Workload.bundled("chat")
    p = prepare(e, w)
    over = analyze(e, p, 2.0)
    sim = simulate(e, w, 2.0, n_requests=6000, seed=3)
    assert over.overloaded and sim.overloaded
    assert over.capacity == pytest.approx(sim.capacity, rel=0.1)
    assert not analyze(e, p, 1.3).overloaded
    assert not simulate(e, w, 1.3, n_requests=6000, seed=3).overloaded


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


def test_chunked_latencies_rise_with_the_rate_on_a_fine_grid():
    """Common random numbers: nearby rates give nearby paths, so the p90 TPOT and mean TTFT
    do not jump around between rates 1% of capacity apart (the max-rate search needs it;
    before the draws were made independent of the rate, p90 TPOT jumped by several percent)."""
    e = Engine.build("llama-2-7b", "A10G", scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    cap = analyze(e, p, 1e-9).capacity
    reps = [analyze(e, p, x * cap, rse=None) for x in np.arange(0.60, 0.80, 0.01)]
    tpot = np.array([r.tpot.p90 for r in reps])
    ttft = np.array([r.ttft.mean for r in reps])
    assert np.all(np.diff(tpot) > -0.005 * tpot[1:])
    assert np.all(np.diff(ttft) > -0.03 * ttft[1:])


@pytest.mark.parametrize("mean", [0.0, 0.05, 0.7, 3.0, 25.0, 400.0])
def test_poisson_quantile_matches_scipy(mean):
    for u in (0.001, 0.2, 0.5, 0.9, 0.9999):
        assert _poisson_quantile(u, mean) == int(stats.poisson.ppf(u, mean))


def test_arrivals_are_conditioned_on_their_expected_count_over_the_horizon():
    """round(h) of the scaled points fall in [0, h), the next one at h; later points keep
    their unit-rate spacings (scaled by the same factor)."""
    rng = np.random.default_rng(11)
    a = np.cumsum(rng.exponential(size=5000))
    ep = _epochs(a, 2500.4)
    assert np.count_nonzero(ep < 2500.4 - 1e-9) == 2500
    assert ep[2500] == pytest.approx(2500.4)
    assert np.allclose(np.diff(ep), np.diff(a) * 2500.4 / a[2500])


@pytest.mark.parametrize(("model", "gpu", "kv_bound"), [
    ("llama-2-7b", "A10G", True), ("mistral-7b", "A100-SXM4-80GB", False),
])  # fmt: skip
def test_only_a_replica_that_preempts_near_capacity_solves_the_long_path(model, gpu, kv_bound):
    """Llama-2-7B on an A10G holds ~30 chat sequences of KV and preempts at 95% of its
    capacity (rare, long KV jams: its path is JAM_PATH times longer); Mistral-7B's 80 GB
    never does (as test_path_obeys_lindley... checks at 85%)."""
    e = Engine.build(model, gpu, scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    tab = tables(e, p, slots(e))
    cap_n = min(n_cap(e, p), float(slots(e)))
    capacity = fluid_capacity(tab, p, cap_n)
    assert preempts(e, tab, p, capacity, cap_n, 1024, seed=5) is kv_bound


def test_sorted_search_is_searchsorted_of_the_normalized_cdf():
    rng = np.random.default_rng(11)
    for weights in (rng.random(37), rng.integers(0, 5, 500), np.array([0.0, 1.0, 0.0, 2.0])):
        block = 64
        u = (np.arange(block) + rng.random((3, block))) / block
        cdf = np.cumsum(weights)
        ref = np.minimum(np.searchsorted(cdf / cdf[-1], u), weights.size - 1)
        assert np.array_equal(sorted_search(cdf, u), ref)


def test_walk_ignores_stale_workspace_and_scales_epochs_itself():
    """The walk sets an arrival's rows as it arrives (stale rows from another path must not
    leak in), and its ``scale`` argument equals pre-scaled epochs."""
    e = Engine.build("llama-2-7b", "A10G", scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    tab, L = tables(e, p, slots(e)), 6000
    rate = 0.9 * fluid_capacity(tab, p, slots(e))
    d = draws(np.random.default_rng(4), p, L, 4 * L, 0)
    N0 = fluid_batch(tab, p, rate, slots(e))
    g0 = float(fluid_time(tab, rate, p.mean(p.I), N0))
    ref = [x.copy() for x in astuple(solve_path(e, tab, rate, d, 0.0, g0))[:-1]]
    fb, ib = workspace(L, d.I.size, 0, d.longest)
    fb[:], ib[:] = np.nan, 7
    got = solve_path(e, tab, rate, d, 0.0, g0)
    assert all(np.array_equal(a, b) for a, b in zip(ref, astuple(got)[:-1], strict=True))
    args = (d.cum, d.sizes, d.D, tab.T.ravel(), tab.dT.ravel(), tab.ctx, tab.q, L, rate)
    kv = float(e.kv_tokens)
    args += (kv, kv * 0.99, 8.0, float(tab.T[1, 0]), d.init_left[:0], np.zeros(0))
    horizon = rate * L * g0
    a = walk(_epochs(d.a, horizon), *args, *workspace(L, d.I.size, 0, d.longest))
    a = [x.copy() for x in a[:-1]]
    b = walk(d.a, *args, *workspace(L, d.I.size, 0, d.longest), _epoch_scale(d.a, horizon))
    assert all(np.array_equal(x, y) for x, y in zip(a, b[:-1], strict=True))


def test_max_rate_capacity_is_the_chunked_models_capacity():
    from planner.serving.api import capacity

    e = Engine.build("qwen2.5-7b", "L40S", scheduler="chunked")
    p = prepare(e, Workload.bundled("chat"))
    assert capacity(e, p) == analyze(e, p, 1e-9, samples=64).capacity
