"""The analytic serving model of one replica: capacity, TTFT / TPOT / E2E mean and percentiles.

Notation: λ request rate; per request I prompt tokens, D = output - 1 decode tokens, t_p(I)
its prefill time; t_d(N) the decode iteration time at N running sequences of mean context
c = E[D(I + D/2)]/E[D]; N_cap = min(max_num_seqs, KV tokens / c).

Continuous batching (vLLM, prefill-first). Prefill iterations take ρ_p = λE[t_p] of the time;
decode tokens come N per iteration, so by Little's law N = λE[D]·t_d(N)/(1 - ρ_p) and
TPOT = t_d(N)/(1 - ρ_p). Capacity (work-conserving stability, Li, Dai & Peng 2025):
λ_max = 1 / (E[t_p] + E[D]·t_d(N_cap)/N_cap). TTFT = W + V + A + t_p(I): W the M/G/1 wait
of the prefill queue (Pollaczek–Khinchine mean, Takács second moment; gamma-shaped given
> 0, P(W > 0) = ρ_p), V the residual of a decode iteration in progress (Fuhrmann–Cooper
decomposition for vacations; uniform on [0, t_d] when decodes run, P = 1 - e^{-N}), A the wait
for a sequence slot or KV room (an Erlang C whose busy count is negative binomial with the
decode batch's Fano factor, see ``occupancy_fano``). A request's TPOT adds the prefills that
interrupt its decode phase: K ~ Poisson(λ·D·TPOT) of them, each a prefill time; one
time-between-tokens gap is t_d plus the prefills arriving within it (Poisson(λ·TPOT)).

Chunked prefill (Sarathi-Serve): see planner.serving.chunked (a sample-path model).

Static batching: the server takes up to b waiting requests, prefills them together and decodes
until the longest ends, finished members leaving the batch; the queue is
queueing.DynamicBatching with batch time t_pre(k) + max(D_1..D_k)·s_k, s_k the mean decode
step of the shrinking batch (``static_decode_slope``). An arrival waits w.p. P(busy) (not
λ/capacity: small batches at low load are slow per request), then a gamma with the chain's
mean wait and the shape of the residual batch time.

Disaggregated (DistServe): prefill replicas form an M/G/c (Allen–Cunneen) whose batches share
the weight reads (``prefill_batching``); TTFT adds the KV transfer I·kv_bytes/link and the
residual of the decode iteration in progress (a request joins at a boundary); decode replicas
each run N = (λ/R_d)E[D]t_d(N), TPOT = t_d(N) with the batch's drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from queueing.batch import DynamicBatching
from queueing.laws import Empirical
from queueing.multiserver import erlang_c

from .engine import Engine
from .prepared import Prepared
from .report import Percentiles
from .sim_replica import WATERMARK

GRID = 96


@dataclass
class Latencies:
    """Per-request samples of one analysis (or an overload verdict)."""

    capacity: float
    decode_batch: float = 0.0
    ttft: np.ndarray | None = None
    tpot: np.ndarray | None = None
    e2e: np.ndarray | None = None
    tbt: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    decode_fano: float = 1.0  # Var N / E[N] of the decode batch, where modelled
    ttft_rse: float | None = None  # relative standard error of the mean TTFT, where sampled
    ttft_boundary: np.ndarray | None = None  # TTFT of arrivals at iteration ends, where modelled

    def overloaded(self, rate: float) -> bool:
        return self.ttft is None or rate >= self.capacity

    def stats(self, metric: str) -> Percentiles:
        """Percentiles of 'ttft', 'tpot', 'e2e', 'tbt' (0 when no request decodes) or
        'ttft_boundary'."""
        x = getattr(self, metric)
        return Percentiles.of(x if x.size else [0.0])


def mg1_wait_moments(rate: float, s1: float, s2: float, s3: float) -> tuple[float, float]:
    """M/G/1 FCFS E[W] (Pollaczek–Khinchine) and E[W^2] (Takács)."""
    rho = rate * s1
    w1 = rate * s2 / (2 * (1 - rho))
    return w1, 2 * w1**2 + rate * s3 / (3 * (1 - rho))


def positive_wait(rng, n: int, p_pos: float, m1: float, m2: float) -> np.ndarray:
    """Samples that are 0 w.p. 1 - p_pos and otherwise gamma with the conditional moments
    m1/p_pos, m2/p_pos (two-moment match)."""
    out = np.zeros(n)
    if p_pos <= 0 or m1 <= 0:
        return out
    c1, c2 = m1 / p_pos, m2 / p_pos
    var = max(c2 - c1**2, 1e-12 * c1**2)
    shape, scale = c1**2 / var, var / c1
    pos = rng.random(n) < p_pos
    out[pos] = rng.gamma(shape, scale, pos.sum())
    return out


def compound(rng, counts_mean: np.ndarray, mean: float, var: float) -> np.ndarray:
    """Sum of K ~ Poisson(counts_mean) iid terms of given mean/var (each gamma-matched)."""
    k = rng.poisson(counts_mean)
    if mean <= 0:
        return np.zeros_like(counts_mean)
    if var <= 0:
        return k * mean
    a, theta = mean**2 / var, var / mean
    out = np.zeros(k.shape)
    pos = k > 0
    out[pos] = rng.gamma(a * k[pos], theta)
    return out


def occupancy_fano(rate: float, t_d: float, slope: float, p: Prepared, rho=0.0, e2=0.0):
    """Var N / E[N] of the decode batch (linear-noise approximation). Counted in decode
    iterations, an iteration's arrivals come in clusters: Poisson(λ·t_d) arrive during the
    decode step and each opens a prefill busy period (priority work of S = own prefill,
    second moment e2) whose arrivals join it, so a cluster holds B prompts with E[B] =
    1/(1 - ρ), Var B = (ρ(1 - ρ) + λ²E[S²])/(1 - ρ)³ (M/G/1 busy period, Takács). Batch-mates
    share their start, so Var N = E[N](1 + (E[B²]/E[B] - 1)·h) (M^X/G/inf, h = E[min(D, D')]/
    E[D]); a longer decode step at larger N admits more per iteration, a feedback of gain
    β = λE[D]·t_d'(N)/(1 - ρ) that widens it by 1/(1 - β) (birth-death, processor sharing)."""
    var_b = (rho * (1 - rho) + rate**2 * e2) / (1 - rho) ** 3
    index = var_b * (1 - rho) + 1 / (1 - rho)  # E[B²]/E[B]
    beta = rate * p.mean(p.D) * max(slope, 0.0) / (1 - rho)
    return (1 + (index - 1) * p.decode_overlap) / max(1 - beta, 1e-3)


def full_probability(mean: float, fano: float, c: float, q: float) -> float:
    """P(an arrival finds all c servers busy) for a birth-death occupancy that is negative
    binomial (mean, variance fano·mean; Poisson when fano <= 1) below c and geometric with
    ratio q in the queue above c (an Erlang C whose busy count is overdispersed). A
    fractional c interpolates between its neighbours in log-probability."""
    if mean <= 0:
        return 0.0
    top = math.ceil(c)
    k = np.arange(top + 1, dtype=float)
    if fano <= 1 + 1e-9:
        logp = k * math.log(max(mean, 1e-300)) - mean - special.gammaln(k + 1)
    else:
        r, s = mean / (fano - 1), 1 - 1 / fano
        logp = special.gammaln(k + r) - special.gammaln(k + 1) + k * math.log(s)
    pk = np.exp(logp - logp.max())

    def at(j: int) -> float:
        full = pk[j] / (1 - q)
        return max(full / (pk[:j].sum() + full), 1e-300)

    lo = max(top - 1, 0)
    frac = c - lo if top > 0 else 1.0
    return float(math.exp((1 - frac) * math.log(at(lo)) + frac * math.log(at(top))))


def slot_wait(rng, n: int, engine: Engine, p: Prepared, N: float, fano: float, rate, drain):
    """Wait for admission: a sequence slot (c = max_seqs servers, mean busy N) or room in
    the KV cache. KV demand varies per sequence (X tokens: a running request's current KV,
    length-biased by its decode time, plus half a block), so the KV pool counts in units of
    z = E[X^2]/E[X] (Hayward): c = K(1 - watermark)/z servers, mean busy N·E[X]/z, Fano
    1 + (fano - 1)E[X]/z. With the limit reached, the queue drains at the replica's
    saturated throughput ``drain`` against the arrivals: P(wait) from ``full_probability``
    with queue ratio λ/drain; the wait given > 0 is exponential with mean 1/(drain - λ)
    (M/M/c) for slots, and ``holding_spread`` times that for KV room: a request's KV area
    varies far more than its decode length (c^2 about 2.5 against 0.6 for chat), so a
    full KV pool clears more slowly. (For slots the M/M/c form matches the simulator; the
    Allen–Cunneen factor (1 + c_s^2)/2 < 1 there reads 3-5% lower at 90% load.)
    The tighter of the two limits wins. Callers report overload before λ reaches ``drain``."""
    bs = engine.scheduler.block_size
    x1, x2 = p.kv_moments
    x1, x2 = x1 + bs / 2, x2 + bs * x1 + bs**2 / 3  # a partly filled last block
    z = x2 / x1
    options = [
        (float(slots(engine)), N, fano),
        (engine.kv_tokens * (1 - WATERMARK) / z, N * x1 / z, 1 + (fano - 1) * x1 / z),
    ]
    probs = [full_probability(m, f, c, rate / drain) for c, m, f in options]
    kv = probs[1] > probs[0]
    spread = p.memo("kv_spread", lambda: holding_spread(p, bs)) if kv else 1.0
    prob = probs[kv]
    u, e = rng.random(n), rng.exponential(1.0, n)
    return np.where(u < prob, e * spread / (drain - rate), 0.0)


def holding_spread(p: Prepared, block_size: int) -> float:
    """E[A^2]/(2E[A]^2) = (1 + c_A^2)/2 for the KV area A = D(I + B/2) + D^2/2 token-iterations
    a request holds. The KV pool's occupancy (shot noise, Campbell) decorrelates over
    E[A^2]/(2E[Q]) iterations, Q = ∫X^2 a request's variance weight, against the E[A]^2/E[Q]
    that exponential holding times give: a backlog clears that much more slowly (with
    A = Q = D this is the Allen–Cunneen factor (1 + c_s^2)/2 of M/G/c)."""
    d = np.maximum(p.D, 1e-9)
    area = d * (p.I + block_size / 2) + d**2 / 2
    return p.mean(area**2) / (2 * p.mean(area) ** 2)


def n_grid(top: float) -> np.ndarray:
    """Decode batch sizes from 1e-3 to ``top``, geometric (fine where N is small)."""
    return np.geomspace(min(1e-3, top / 2), top, GRID)


def decode_slope(grid: np.ndarray, td: np.ndarray, N: float) -> float:
    """dt_d/dN of the decode table at N."""
    return float(np.gradient(td, grid)[np.searchsorted(grid, N).clip(0, grid.size - 1)])


def decode_root(n_grid: np.ndarray, demand: np.ndarray) -> float:
    """Root of demand(N) - N on a grid (demand increasing slower than N past the root)."""
    h = demand - n_grid
    if h[0] <= 0:
        return float(max(demand[0], 0.0))
    idx = int(np.argmax(h <= 0))
    if h[idx] > 0:
        return math.inf
    x0, x1, h0, h1 = n_grid[idx - 1], n_grid[idx], h[idx - 1], h[idx]
    return float(x0 + (x1 - x0) * h0 / (h0 - h1))


# ---- continuous batching ------------------------------------------------------------------
def slots(engine: Engine) -> int:
    """Sequence slots: max_num_seqs, and for chunked prefill at most token_budget - 1."""
    budget = getattr(engine.scheduler, "token_budget", None)
    return min(engine.max_seqs, budget - 1) if budget else engine.max_seqs


def n_cap(engine: Engine, p: Prepared) -> float:
    """Largest mean decode batch: the slots, or the KV tokens over a sequence's mean KV (its
    whole prompt + output when the engine reserves them at admission)."""
    held = p.reserved_context if engine.admission == "prompt_and_output" else p.decode_context
    kv = engine.kv_tokens / (held + engine.scheduler.block_size / 2)
    return max(1.0, min(float(slots(engine)), kv))


def prefill_sharing(engine: Engine, p: Prepared, arrivals: float) -> tuple[float, float, float]:
    """Prefill-first batching: a prefill iteration takes every prompt waiting when it starts,
    K ~ Poisson(arrivals) given K >= 1 (up to max_num_batched_tokens), and K prompts of the
    mean length cost t_pre(K) < K·t_pre(1) where the step is weight-bound. Returns the
    per-prompt cost factor E[t_pre(K)]/(E[K]·t_pre(1)) (the server's work per request) and
    the own-iteration factor E[t_pre(K*)]/t_pre(1), K* the size-biased batch a prompt
    joins, less the work of the batch-mates ahead of it (counted in the queue wait), and
    that factor whole (a prompt that arrives with its batch-mates at an iteration end)."""
    mean_i = p.mean(p.I)
    kmax = max(1, min(64, int(engine.scheduler.max_num_batched_tokens // max(mean_i, 1))))
    t = p.memo(
        "prefill_batches",
        lambda: engine.steps.prefill(np.full(kmax, mean_i), np.arange(1, kmax + 1)),
    )
    k = np.arange(1, kmax + 1)
    m = max(arrivals, 1e-9)
    pk = np.exp(k * math.log(m) - m - special.gammaln(k + 1))
    pk[-1] += max(0.0, 1 - math.exp(-m) - pk.sum())
    pk /= pk.sum()
    per_prompt = float(np.dot(pk, t) / np.dot(pk, k) / t[0])
    joined = float(np.dot(pk * k, k) / np.dot(pk, k))  # E[K*]
    own = float(np.dot(pk * k, t) / np.dot(pk, k) / t[0])
    # the batch-mates that arrived first (half of the others) are already in the M/G/1 wait
    return per_prompt, own - per_prompt * (joined - 1) / 2, own


def continuous_capacity(engine: Engine, p: Prepared) -> float:
    """Capacity of prefill-first continuous batching: at capacity the N_cap slots free
    ~N_cap/E[D] per decode cycle, whose prompts are batched: 1 / (share E[t_p] + E[D]
    t_d(N_cap) / N_cap), memoized on the workload (every rate of a search asks for it)."""

    def compute() -> float:
        cap_n, ed = n_cap(engine, p), p.mean(p.D)
        td = _decode_table(engine, p, cap_n)
        share_cap = prefill_sharing(engine, p, cap_n / ed if ed > 0 else 0.0)[0]
        return 1.0 / (share_cap * p.mean(p.t_prefill) + ed * td[-1] / cap_n)

    return p.memo("continuous_capacity", compute)


def _decode_table(engine: Engine, p: Prepared, cap_n: float) -> np.ndarray:
    """Decode step times on the batch grid up to cap_n (memoized on the workload)."""
    return p.memo("decode_table", lambda: engine.decode_time(n_grid(cap_n), p.decode_context))


def continuous(engine: Engine, p: Prepared, rate: float, rng, n: int) -> Latencies:
    cap_n = n_cap(engine, p)
    ed, tp0 = p.mean(p.D), p.t_prefill
    grid = n_grid(cap_n)
    td = _decode_table(engine, p, cap_n)
    capacity = continuous_capacity(engine, p)
    if rate >= capacity:
        return Latencies(capacity)
    N, rho = 0.0, 0.0
    for _ in range(3):  # prompts batched: those arriving during one decode step t_d(N)
        step = float(np.interp(N, grid, td)) if ed > 0 else 0.0
        share, own, own_all = prefill_sharing(engine, p, rate * step)
        tp = tp0 * share
        e1, e2, e3 = p.mean(tp), p.mean(tp**2), p.mean(tp**3)
        rho = rate * e1
        N = decode_root(grid, rate * ed * td / (1 - rho)) if ed > 0 and rho < 1 else 0.0
        if rho >= 1 or not math.isfinite(N):  # the batching at this rate cannot keep up
            return Latencies(capacity, notes=("no stable decode batch below the KV/slot limit",))
    t_d = float(np.interp(N, grid, td))
    tpot = t_d / (1 - rho)
    idx = rng.choice(p.w.size, n, p=p.w)
    w = positive_wait(rng, n, rho, *mg1_wait_moments(rate, e1, e2, e3))
    v = iteration_residual(rng, n, N, t_d)
    slope = decode_slope(grid, td, N)
    fano = occupancy_fano(rate, t_d, slope, p, rho, e2)
    a = slot_wait(rng, n, engine, p, N, fano, rate, capacity)
    ttft = w + v + a + tp0[idx] * own
    d = p.D[idx]
    var = max(e2 - e1**2, 0.0)
    interrupts = compound(rng, rate * d * tpot, e1, var)
    drift = batch_drift(rng, N, slope, tpot, d)
    per_token = np.where(d > 0, t_d + drift + interrupts / np.maximum(d, 1), np.nan)
    gaps = t_d + compound(rng, np.full(n, rate * tpot), e1, var)
    lat = _finish(capacity, N, ttft, per_token, d, gaps, fano)
    # arriving at an iteration end: no prefill queued, no iteration in progress, and in a
    # closed loop no slot wait but the surplus Little's law leaves (planner.serving.loads)
    lat.ttft_boundary = tp0[idx] * own_all
    return lat


def iteration_residual(rng, n: int, N: float, t_d: float) -> np.ndarray:
    """Wait for the decode iteration in progress to end: uniform on [0, t_d] when decodes run
    (P = 1 - e^{-N}, the Poisson decode batch nonzero), else 0 (Fuhrmann–Cooper: an arrival
    sees the residual of the vacation in progress)."""
    return np.where(rng.random(n) < 1 - math.exp(-N), rng.uniform(0, t_d, n), 0.0)


def batch_drift(rng, N: float, slope: float, tpot: float, d: np.ndarray) -> np.ndarray:
    """Per-request shift of the decode iteration time from the fluctuating decode batch:
    the batch is Poisson with mean N (M/G/inf), correlated over the mean decode residence
    tau = E[D]·TPOT; a request decoding for T = D·TPOT sees its average, whose standard
    deviation is sqrt(N)·sqrt(tau/(tau + T)); times slope dt_d/dN."""
    tau = max(tpot * float(np.mean(d)), 1e-12)
    sd = math.sqrt(max(N, 0.0)) * np.sqrt(tau / (tau + tpot * np.maximum(d, 1)))
    return slope * sd * rng.standard_normal(d.size)


def _bisect_capacity(stable, hi_guess: float, rtol: float = 1e-6) -> float:
    """Largest rate with stable(rate) true (monotone), by doubling then bisection to a
    relative width ``rtol`` (the returned rate is stable)."""
    lo, hi = 0.0, hi_guess
    while stable(hi) and hi < 1e9:
        lo, hi = hi, hi * 2
    for _ in range(60):
        if hi - lo <= rtol * hi:
            break
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


# ---- static batching ----------------------------------------------------------------------
def static(engine: Engine, p: Prepared, rate: float, rng, n: int) -> Latencies:
    b, ctx, mean_i = engine.scheduler.batch_size, p.decode_context, p.mean(p.I)
    sizes = np.arange(1, b + 1)

    def tables():
        t_dec = engine.decode_time(sizes, ctx)
        return (
            engine.steps.prefill(np.full(b, mean_i), sizes),
            t_dec,
            Empirical(np.repeat(p.D, np.maximum(1, np.rint(p.w * 4096)).astype(int))),
            static_decode_slope(p, t_dec),
        )

    t_pre, t_dec, decode_law, slope = p.memo("static_tables", tables)

    def batch_time(k: int):
        return decode_law.max_of(k).affine(float(slope[k - 1]), float(t_pre[k - 1]))

    q = DynamicBatching(rate, batch_time, max_batch=b)
    if not q.stable:
        return Latencies(q.capacity)
    k = max(1, min(b, round(q.mean_batch_size)))
    idx = rng.choice(p.w.size, n, p=p.w)
    busy, (r1, r2) = q.busy_probability, q.residual_moments
    m1 = q.mean_wait  # given busy: the batch in progress' residual (shape), queued batches
    wait = positive_wait(rng, n, busy, m1, m1**2 / busy * r2 / r1**2)
    ttft = wait + t_pre[k - 1]
    d = p.D[idx]
    per_token = np.where(d > 0, t_dec[k - 1], np.nan)
    return _finish(q.capacity, float(k), ttft, per_token, d)


def static_decode_slope(p: Prepared, t_dec: np.ndarray) -> np.ndarray:
    """Per batch size k = 1..b, the decode time of a static batch per decode step of its
    longest member: finished members leave, so at step s the batch runs Binomial(k, S(s))
    sequences (S(s) = P(D >= s)) and E[decode time] = sum_s E[t_d(Bin(k, S(s)))], over
    E[max(D_1..D_k)] = sum_s 1 - (1 - S(s))^k."""
    hist = np.bincount(np.ceil(p.D - 1e-9).astype(np.int64), weights=p.w)  # D >= s iff ceil
    # S(s) for s = 1..max D is constant between request lengths: its levels and step counts
    surv, steps = np.unique(np.cumsum(hist[::-1])[::-1][1:], return_counts=True)
    b = t_dec.size
    out = np.array(t_dec, dtype=float)
    pmf = np.zeros((surv.size, b + 1))  # Binomial(k, S) over 0..b, built up in k
    pmf[:, 0] = 1.0
    for k in range(1, b + 1):
        pmf[:, 1 : k + 1] = pmf[:, 1 : k + 1] * (1 - surv[:, None]) + pmf[:, :k] * surv[:, None]
        pmf[:, 0] *= 1 - surv
        decode = float(steps @ (pmf[:, 1 : k + 1] @ t_dec[:k]))
        longest = float(steps @ (1 - pmf[:, 0]))
        out[k - 1] = decode / longest if longest > 0 else t_dec[k - 1]
    return out


# ---- disaggregated prefill / decode -------------------------------------------------------
def disaggregated(engine: Engine, p: Prepared, rate: float, rng, n: int) -> Latencies:
    sched, hw = engine.scheduler, engine.hardware
    pr, dr, ctx = sched.prefill_replicas, sched.decode_replicas, p.decode_context
    pe = engine.prefill_side  # the prefill replicas' own plan, when it differs
    tp0 = p.t_prefill if pe is engine else p.memo("t_prefill_side", lambda: pe.prefill_time(p.I))
    ed = p.mean(p.D)
    cap_n = n_cap(engine, p)
    grid = n_grid(cap_n)
    td = p.memo("decode_table", lambda: engine.decode_time(grid, ctx))
    cap_decode = dr * cap_n / (ed * td[-1]) if ed > 0 else math.inf
    # saturated prefill replicas run full batches (prefill_sharing caps K at 64 prompts)
    cap_prefill = pr / (p.mean(tp0) * prefill_sharing(pe, p, 64.0)[0])
    capacity = min(cap_prefill, cap_decode)
    if rate >= capacity:
        return Latencies(capacity)
    share, own, _ = prefill_batching(pe, p, rate / pr, tp0)
    tp = tp0 * share
    e1, e2 = p.mean(tp), p.mean(tp**2)
    offered = rate * e1
    if offered >= pr:  # the prefill replicas saturate at this rate's batching
        return Latencies(rate * pr / offered * (1 - 1e-9))
    cs2 = max(e2 - e1**2, 0.0) / e1**2
    p_wait = erlang_c(pr, offered)
    cond = e1 * (1 + cs2) / 2 / (pr - offered)
    idx = rng.choice(p.w.size, n, p=p.w)
    w = np.where(rng.random(n) < p_wait, rng.exponential(cond, n), 0.0)
    bw, lat = (
        (hw.link_bandwidth, hw.link_latency_s)
        if sched.same_node
        else (hw.nic_bandwidth, hw.nic_latency_s)
    )
    transfer = p.I[idx] * engine.kv_bytes_per_token * engine.gpus / bw + lat
    N = decode_root(grid, rate / dr * ed * td) if ed > 0 else 0.0
    t_d = float(np.interp(N, grid, td))
    slope = decode_slope(grid, td, N)
    fano = occupancy_fano(rate / dr, t_d, slope, p)
    a = slot_wait(rng, n, engine, p, N, fano, rate / dr, cap_decode / dr)
    v = iteration_residual(rng, n, N, t_d)  # its KV in, a request joins at a boundary
    ttft = w + tp0[idx] * (1 + offered / pr * (own - 1)) + transfer + v + a
    d = p.D[idx]
    per_token = np.where(d > 0, t_d + batch_drift(rng, N, slope, t_d, d), np.nan)
    return _finish(capacity, N, ttft, per_token, d, fano=fano)


def prefill_batching(
    engine: Engine, p: Prepared, rate: float, t_prefill=None
) -> tuple[float, float, float]:
    """``prefill_sharing`` of a prefill replica that takes every prompt waiting when it
    frees: a batch holds the m = λ·E[t_batch] arrivals of the batch before it, with
    E[t_batch] = share·E[t_p]·E[K] (fixed point, 8 steps of the contraction). The own
    factor holds for a request arriving while the replica is busy (with probability its
    utilization ρ); one that finds it idle is prefilled alone, so the caller takes
    1 + ρ(own - 1). ``t_prefill``: per-request prefill times (default: the prepared ones)."""
    t = p.t_prefill if t_prefill is None else t_prefill
    e1, m = p.mean(t), rate * p.mean(t)
    for _ in range(8):
        share = prefill_sharing(engine, p, m)[0]
        m = rate * share * e1 * m / max(-math.expm1(-m), 1e-12)
    return prefill_sharing(engine, p, m)


def _finish(capacity, N, ttft, per_token, d, gaps=None, fano=1.0) -> Latencies:
    """Latencies from per-request TTFT and TPOT; TBT gaps default to each request's TPOT
    (schedulers whose iterations do not stall decodes)."""
    e2e = ttft + np.nan_to_num(per_token) * d
    tbt = per_token[d > 0] if gaps is None else gaps
    return Latencies(capacity, N, ttft, per_token[d > 0], e2e, tbt, decode_fano=fano)
