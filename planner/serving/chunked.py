"""Chunked prefill (Sarathi-Serve stall-free batching) as a sample path of iterations.

Each iteration j carries the N_j running decodes plus up to q_j = B - N_j prompt tokens (B the
token budget), FCFS, and lasts g_j = t(N_j, K_j) with K_j the prompt tokens it carries. Three
couplings set the behaviour near saturation: the prompt-token backlog drains more slowly as N
grows; N is fed by the prompts that finish; and t grows with both. A fluid model (mean N,
mean fill) misses all three at high load: t is convex in K (Jensen), and N fluctuates like an
M/G/inf population (Poisson, correlated over a decode lifetime), which modulates the drain
rate. The fluid model still gives the capacity (where full chunks stop keeping up) and the
starting point.

The model is solved on a path of L = 8 iterations per requested sample (64 on a replica
that preempts at 95% of its capacity: its KV jams are rare, long events), iteration by
iteration (its exact causal solution; the loop is compiled, chunked_walk), with common random
numbers, and on as many more independent paths as the mean TTFT's sampling error asks for
(``chunked``):
- request k arrives at a_k/λ, with a the points of a unit-rate Poisson process conditioned
  on its expected count over the fluid horizon (scaled exponential spacings) and sizes
  (I, D) drawn once, stratified over long blocks (over the whole path on a replica that
  preempts), in arrival order; an arrival joins the
  first iteration that starts after it. Fixed unit-rate epochs make the path, and so the
  latencies, move smoothly with λ;
- iteration j serves prompt tokens FCFS up to its budget, S_j = min(S_{j-1} + q_j, X_j)
  (Lindley) with X_j the tokens arrived before j, admitting a new prompt only into a free
  sequence slot and when its whole prompt fits the KV cache after this iteration's decode
  tokens (vLLM's admission with its watermark); when the decode tokens no longer fit, the
  newest admission is preempted and recomputed later, ahead of new prompts (chunked_walk);
- a prompt ends in the iteration whose S reaches its cumulative tokens, then decodes one
  token per iteration for D iterations (a difference array gives N_j; the decodes running
  when the path starts are Poisson many, with equilibrium residual lengths);
- g_j = t(N_j, K_j) from the iteration-time table at the mean decode context c, plus the
  context the decodes actually hold beyond N_j·c times the table's cost per context token
  (a KV-full replica holds long sequences, so a jam's iterations are slower than the mean
  at the same N: without it the path's jams cleared too fast, and its mean TTFT fell well
  below the simulator's on the same arrival stream, benchmarks/chunked_spread.py
  --paired).
A path whose prompt backlog never drains in its second half is reported overloaded, with the
throughput it reached as the capacity (admission stalls cap a KV-bound replica below its
fluid capacity, which counts the KV of the mean batch only).

Per-request latencies come from virtual requests placed on the solved path (PASTA: the
arrival iteration is chosen with probability proportional to its length, uniformly inside
it): FCFS, it waits for the backlog ahead of it, then its own prompt, served by the tokens
the path's iterations could serve the arrival stream (Q: less stalls and recompute); TTFT
runs to the end of its last chunk's iteration (iterations lengthened by its own tokens), and
its TPOT is the mean gap of the D iterations that follow (a virtual request is not itself
preempted: its TPOT misses the recompute stall). TBT gaps are the iteration lengths weighted
by N_j. Near capacity one path carries sampling error (slow backlog cycles, and on a
KV-bound replica rare preemption jams): benchmarks/chunked_spread.py measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from .analytic import Latencies, _finish, n_cap, slots
from .chunked_tables import ChunkTables, fluid_batch, fluid_capacity, fluid_time, tables
from .chunked_walk import sorted_search, walk, workspace
from .engine import Engine
from .prepared import Prepared
from .report import mean_rse
from .sim_replica import WATERMARK

PATH = 8  # path iterations per requested sample
BLOCK = 256  # stratification block of the draws
ARRIVALS_BLOCK = 4096  # and of the arrivals' sizes (longer: see ``draws``)
JAM_PATH = 8  # path length factor of a replica that preempts at JAM_LOAD of its capacity
JAM_LOAD = 0.95
TTFT_RSE = 0.03  # relative standard error of the mean TTFT an evaluation solves paths to
MAX_PATHS = 16  # at most
BATCHES = 16  # batch means per path


# ---- the path -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Draws:
    """Common random numbers of one path of L iterations: the requests' unit-rate arrival
    epochs and sizes in order, and the decodes running when the path starts."""

    L: int
    a: np.ndarray  # unit-rate Poisson epochs (cumulative exponential spacings)
    I: np.ndarray
    D: np.ndarray
    u0: float
    init_left: np.ndarray  # decode iterations left
    init_done: np.ndarray  # decode tokens already generated
    init_size: np.ndarray  # their prompt tokens

    @cached_property
    def cum(self) -> np.ndarray:
        """Cumulative prompt tokens of the arrivals (0 first): the walk's token stream."""
        return np.concatenate(([0.0], np.cumsum(self.I)))

    @cached_property
    def sizes(self) -> np.ndarray:
        return self.I.astype(float)

    @cached_property
    def longest(self) -> int:
        return int(max(self.D.max(initial=0), self.init_left.max(initial=0)))


def draws(rng, p: Prepared, L: int, requests: int, init: int, block: int | None = ARRIVALS_BLOCK):
    """Stratified sizes (``stratified``) and unit-rate Poisson epochs (conditioned on their
    count by ``_epochs``), so that the path's arrival rate and mean request sizes match the
    workload closely: the decode batch is sensitive to them (N = λE[D]·mean gap, and the
    gap grows with N). The arrivals' sizes are stratified over blocks of ``block``
    arrivals (None: one block, the whole path), many decode lifetimes long: over a few
    hundred arrivals they vary almost as independent draws do (a window of w arrivals
    inside a block of B has its size variance cut by 1 - w/B). A KV-bound replica's jams
    come from such local excesses of long requests, and as rare events they are sensitive
    to that variance: blocks of 256 cut the mean TTFT well below the simulator's, and
    blocks of 4,096 still by ~24% on a long path (Llama-2-7B / L40S at 90% load), so a
    replica that preempts draws one block (see ``chunked``)."""
    idx = stratified(rng, p.w, requests, block=block or requests)
    wd = p.w * p.D
    pick = stratified(rng, wd / wd.sum(), init) if wd.sum() > 0 else np.zeros(0, int)
    d0 = p.D[pick]
    left = np.maximum(1, np.ceil(rng.random(init) * d0)).astype(np.int64)
    spacing = rng.exponential(size=requests)
    return Draws(
        L,
        np.cumsum(spacing),
        p.I[idx],
        p.D[idx].astype(np.int64),
        float(rng.random()),
        left,
        (d0 - left).astype(np.int64),
        p.I[pick],
    )


def stratified(
    rng, weights: np.ndarray, n: int, shuffle: bool = True, block: int = BLOCK
) -> np.ndarray:
    """n indices drawn with the given weights by stratified inversion: in every block of
    ``block`` consecutive draws one uniform falls in each slice [k/block, (k+1)/block) (so
    any prefix of whole blocks is stratified: a path uses a rate-dependent prefix of its
    draws), in random order inside the block unless ``shuffle`` is False (then ascending)."""
    u = (np.arange(block) + rng.random((-(-n // block), block))) / block
    idx = sorted_search(np.cumsum(weights), u)
    return (rng.permuted(idx, axis=1) if shuffle else idx).ravel()[:n]


@dataclass(frozen=True)
class Path:
    """A solved path; its arrays are views of the thread's walk workspace, valid until the
    thread's next ``solve_path``."""

    g: np.ndarray  # iteration lengths
    gf: np.ndarray  # their lengths had the arrival stream used all its capacity Q
    N: np.ndarray  # decodes in each iteration
    K: np.ndarray  # prompt tokens in each iteration
    S: np.ndarray  # prompt tokens served through each iteration
    X: np.ndarray  # prompt tokens arrived before each iteration starts
    Q: np.ndarray  # prompt tokens the iterations could serve (budget, less admission stalls)
    credit: np.ndarray  # Q's share from a prompt preempted in progress (recomputed whole)
    redo: np.ndarray  # iteration of that prompt's first token after its recompute
    extra: np.ndarray  # time the decode context beyond the table's mean adds to each
    end: np.ndarray  # the clock at the end of each iteration (cumulative g)
    full: np.ndarray  # cumulative gf - g
    preemptions: int = 0


def solve_path(engine: Engine, tab: ChunkTables, rate: float, d: Draws, N0: float, g0: float):
    """The path, iteration by iteration (module docstring, chunked_walk). Arrivals are
    conditioned on the expected count over the fluid horizon L·g0; the decodes running at
    the start are the u0-quantile of Poisson(N0) many, holding the KV of their prompts and
    generated tokens; a sequence's KV slack is half a block (its last block's mean unused
    part, as the simulator's block count gives)."""
    n0 = min(_poisson_quantile(d.u0, N0), d.init_left.size, tab.top)
    kv = float(engine.kv_tokens)
    out = walk(
        d.a,
        d.cum,
        d.sizes,
        d.D,
        tab.T.ravel(),
        tab.dT.ravel(),
        tab.ctx,
        tab.q,
        d.L,
        rate,
        kv,
        kv * (1 - WATERMARK),
        engine.scheduler.block_size / 2,
        float(tab.T[min(1, tab.top), 0]),
        d.init_left[:n0],
        (d.init_size[:n0] + d.init_done[:n0]).astype(float),
        *workspace(d.L, d.I.size, n0, d.longest),
        _epoch_scale(d.a, rate * d.L * g0),
    )
    return Path(*out)


def _epochs(a: np.ndarray, horizon: float) -> np.ndarray:
    """Arrival epochs (unit-rate time) of the unit-rate Poisson points ``a`` conditioned on
    m = round(horizon) of them in [0, horizon): a_k * horizon / a_{m+1}, the uniform order
    statistics of a Poisson process given its count for k <= m, continued past the horizon.
    The path then holds close to its expected number of arrivals (a free count would move
    its load by ±1/sqrt(m), and N and TTFT near capacity with it), while fluctuations inside
    the path stay Poisson. Paths with fewer than 16 expected arrivals (near zero load) keep
    the free count."""
    return a * _epoch_scale(a, horizon)


def _epoch_scale(a: np.ndarray, horizon: float) -> float:
    """The factor ``_epochs`` scales the points by (the walk applies it per arrival)."""
    m = min(int(np.rint(horizon)), a.size - 1)
    return horizon / a[m] if m >= 16 else 1.0


def _poisson_quantile(u: float, mean: float) -> int:
    """Smallest k with P(Poisson(mean) <= k) >= u."""
    k = np.arange(int(mean + 12 * math.sqrt(mean) + 12))
    return int(min(np.searchsorted(special.pdtr(k, mean), u), k[-1]))


def path_draws(
    tab, p: Prepared, capacity: float, cap_n: float, L: int, seed: int, block=ARRIVALS_BLOCK
) -> Draws:
    """The draws of a path of L iterations (sizes stratified over ``block``, see ``draws``),
    enough for any rate below capacity; they do not depend on the rate (common random
    numbers), so they are computed once per (L, seed, block) and memoized on the prepared
    workload."""

    def compute() -> Draws:
        expect = capacity * L * float(tab.T.max())
        init = int(cap_n + 6 * math.sqrt(cap_n) + 16)
        rng = np.random.default_rng(seed)
        return draws(rng, p, L, int(expect + 6 * math.sqrt(expect) + 16), init, block)

    return p.memo(("chunked_draws", L, seed, block), compute)


JAMMED = (
    "the prompt backlog never drains in the second half of the model's path (KV admission "
    "or sequence-slot stalls): throughput {:.4g} req/s there, below the fluid capacity"
)


def jammed(path: Path, sizes: np.ndarray) -> float | None:
    """Prompts completed per second over the second half of the path if its backlog never
    drains there (admission stalls hold the throughput below the offered rate: overload
    that the fluid capacity, which counts the KV on the mean batch, does not see)."""
    h = path.g.size // 2
    if np.any(path.S[h:] >= path.X[h:] - 1e-6):
        return None
    ends = np.cumsum(sizes)
    done = np.searchsorted(ends, path.S[[h - 1, -1]] + 1e-6, side="right")
    return float((done[1] - done[0]) / path.g[h:].sum())


# ---- latencies ----------------------------------------------------------------------------
def virtual_requests(
    rng, path: Path, tab: ChunkTables, p: Prepared, n: int, burn: int, boundary: bool = True
):
    """TTFT and TPOT of n requests placed on the path (module docstring), and the TTFT each
    would have arriving at the end of its iteration with that iteration's arrivals (a
    closed loop's client sending as another's request ends; None unless ``boundary``)."""
    L, g, end = path.g.size, path.g, path.end
    last = L - L // 4
    j = burn + stratified(rng, g[burn:last], n, shuffle=False, block=n)  # in path order
    u = rng.random(n)
    idx = stratified(rng, p.w, n)
    I, D = p.I[idx], p.D[idx].astype(np.int64)
    idle = (path.N[j] == 0) & (path.K[j] == 0)
    arrival = np.where(idle, end[j], end[j] - (1 - u) * g[j])
    ttft, f = first_token(path, tab, j, u, I, arrival)
    at_end = first_token(path, tab, j, np.ones(n), I, end[j])[0] if boundary else None
    stop = np.minimum(f + D, L - 1)
    tpot = np.where(D > 0, (end[stop] - end[f]) / np.maximum(stop - f, 1), np.nan)
    return ttft, tpot, D, at_end


def first_token(path: Path, tab: ChunkTables, j, u, I, arrival):
    """TTFT of requests arriving at ``arrival`` in iteration j, after a share u of its
    arrivals, and the iteration of their first token. FCFS: later arrivals do not delay
    it, and from j + 1 on the server works on the backlog ahead of it (tokens arrived
    before it, less those served) and then on it; until its last chunk the stream uses
    all of its capacity (iterations last gf), and the last one carries at least the rest
    of its prompt (the path's K leaves it out)."""
    L, end, full = path.g.size, path.end, path.full
    ahead = path.X[j] + u * (path.X[j + 1] - path.X[j]) - path.S[j]
    need = path.Q[j] + ahead + I
    f = np.clip(np.searchsorted(path.Q, need - 1e-6), j + 1, L - 2)
    q_last = tab.q[path.N[f]]
    rest = np.minimum(np.maximum(need - path.Q[f - 1], path.K[f]), q_last)
    last = tab.at(path.N[f], rest / q_last) + path.extra[f]
    ttft = end[f - 1] + (full[f - 1] - full[j]) + last - arrival
    # its last tokens in the place of a prompt preempted in progress: it waits, as that
    # prompt did, for the recompute (vLLM preempts the newest admission first)
    hit = (path.credit[f] > 0) & (need > path.Q[f] - path.credit[f] + 1e-6)
    f = np.where(hit, path.redo[f], f)
    return np.where(hit, end[f] - arrival, ttft), f


def preempts(
    engine: Engine, tab: ChunkTables, p: Prepared, capacity: float, cap_n: float, n: int, seed: int
) -> bool:
    """Whether a path at JAM_LOAD of the capacity preempts: a KV-bound replica whose
    admission jams are rare, long events (see JAM_PATH). Rate-independent, so the path
    length, and with it the latencies, stay smooth in the rate."""
    rate = JAM_LOAD * capacity
    N0 = fluid_batch(tab, p, rate, cap_n)
    if not np.isfinite(N0):
        return True
    g0 = float(fluid_time(tab, rate, p.mean(p.I), N0))
    d = path_draws(tab, p, capacity, cap_n, PATH * n, seed)
    return solve_path(engine, tab, rate, d, N0, g0).preemptions > 0


def path_size(n: int, jams: bool) -> tuple[int, int | None]:
    """Path length and arrivals' stratification block for n samples: a replica that
    preempts near capacity (``preempts``) solves a JAM_PATH times longer path, its sizes
    stratified over the whole path (see ``draws``)."""
    return PATH * n * (JAM_PATH if jams else 1), None if jams else ARRIVALS_BLOCK


def rate_free(engine: Engine, p: Prepared) -> tuple[ChunkTables, float, float]:
    """The iteration-time tables, the decode-batch cap and the fluid capacity: rate-free,
    computed once per prepared workload."""
    top = slots(engine)
    tab = p.memo("chunked_tables", lambda: tables(engine, p, top))
    cap_n = min(n_cap(engine, p), float(top))
    return tab, cap_n, p.memo("chunked_capacity", lambda: fluid_capacity(tab, p, cap_n))


def chunked_capacity(engine: Engine, p: Prepared) -> float:
    """The capacity ``chunked`` reports below it (the fluid capacity), without a path."""
    return rate_free(engine, p)[2] if p.w.size else 0.0


def chunked(
    engine: Engine,
    p: Prepared,
    rate: float,
    rng,
    n: int,
    rse: float | None = TTFT_RSE,
    only: tuple[str, ...] | None = None,
):
    """Latencies at ``rate`` from n virtual requests on each of k independent paths. Two
    stages (Stein's): the first path's relative standard error r of the mean TTFT (batch
    means of BATCHES runs of consecutive virtual requests, in path order) sets k =
    ceil((r/rse)^2) (at most MAX_PATHS; None: one path), fixed before the others are seen
    (stopping at the first small estimate would favour paths without a rare jam). Near
    capacity the mean TTFT is dominated by slow backlog cycles and, on a KV-bound replica,
    by rare preemption jams: one path is then as noisy as one simulator run of similar
    length.

    ``only`` (a search's SLO metrics, of ttft, tpot, e2e, tbt) solves one path and returns
    just those samples, the same numbers as the full answer's (no decode batch, TTFT
    boundary or standard error: the SLO search evaluates a dozen rates and builds one
    report)."""
    tab, cap_n, capacity = rate_free(engine, p)
    N0 = fluid_batch(tab, p, rate, cap_n)
    if rate >= capacity or not np.isfinite(N0):
        return Latencies(capacity)
    g0 = float(fluid_time(tab, rate, p.mean(p.I), N0))
    seed = int(rng.integers(2**62))
    jams = p.memo(
        ("chunked_jams", n, seed), lambda: preempts(engine, tab, p, capacity, cap_n, n, seed)
    )
    L, block = path_size(n, jams)
    if only is not None:
        d = path_draws(tab, p, capacity, cap_n, L, seed, block)
        path = solve_path(engine, tab, rate, d, N0, g0)
        return _targeted(rng, path, d, tab, p, n, only, rate, capacity)
    runs: list[tuple] = []
    paths = 1
    while len(runs) < paths:
        d = path_draws(tab, p, capacity, cap_n, L, seed + len(runs), block)
        path = solve_path(engine, tab, rate, d, N0, g0)
        jam = jammed(path, d.I)
        if jam is not None:
            return Latencies(min(jam, rate), notes=(JAMMED.format(jam),))
        runs.append(path_samples(rng, path, tab, p, n))
        if len(runs) == 1:
            first = mean_rse(runs[0][0], BATCHES, 2)
            if rse is not None and first is not None:
                paths = min(MAX_PATHS, math.ceil((first / rse) ** 2))
    ttft, tpot, D, gaps, at_end = (
        np.concatenate(x) for x in zip(*(r[:4] + r[6:] for r in runs), strict=True)
    )
    n_time = sum(r[4] for r in runs) / sum(r[5] for r in runs)
    lat = _finish(capacity, n_time, ttft, tpot, D, gaps)
    lat.ttft_rse = mean_rse(ttft, BATCHES * len(runs), 2)
    lat.ttft_boundary = at_end
    if len(runs) > 1:
        lat.notes += (
            f"chunked model: {len(runs)} paths of {L} iterations (the mean TTFT's relative "
            f"standard error on one path was {first:.1%})",
        )
    return lat


def _targeted(
    rng, path: Path, d: Draws, tab: ChunkTables, p: Prepared, n: int, only, rate, capacity
):
    """``chunked`` on one solved path, computing only the samples of the metrics in
    ``only`` (the same random numbers, in the same order, as path_samples)."""
    jam = jammed(path, d.I)
    if jam is not None:
        return Latencies(min(jam, rate), notes=(JAMMED.format(jam),))
    burn = path.g.size // 8
    ttft, tpot, D, _ = virtual_requests(rng, path, tab, p, n, burn, boundary=False)
    gaps = _gaps(rng, path, tab, n, burn) if "tbt" in only else None  # the costly draw
    return _finish(capacity, math.nan, ttft, tpot, D, gaps)


def _gaps(rng, path: Path, tab: ChunkTables, n: int, burn: int) -> np.ndarray:
    """TBT gaps of n decode tokens: iterations drawn by their decode batch after the burn-in."""
    weights = path.N[burn:]  # integers: their cumulative sums are exact, as in floats
    if weights.any():
        return path.g[burn:][stratified(rng, weights, n)]
    return np.full(n, float(tab.T[1, 0]))


def path_samples(rng, path: Path, tab: ChunkTables, p: Prepared, n: int):
    """TTFT, TPOT, decode tokens and TBT gaps of n virtual requests on one path (the first
    eighth of it a burn-in), the path's decode-batch time integral and length, and the
    requests' TTFT at their iteration's end."""
    L = path.g.size
    burn = L // 8
    ttft, tpot, D, at_end = virtual_requests(rng, path, tab, p, n, burn)
    gaps = _gaps(rng, path, tab, n, burn)
    busy = float(np.dot(path.N[burn:], path.g[burn:]))
    return ttft, tpot, D, gaps, busy, float(path.g[burn:].sum()), at_end
