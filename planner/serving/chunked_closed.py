"""A closed loop of C clients under chunked prefill, on the iteration path itself.

The open model at the loop's throughput (planner.serving.loads) feeds the queue with Poisson
arrivals, whose excursions above C pile up prompts that a closed loop never holds: a client
sends only when its last request ends, so a slow stretch slows the arrivals too. The path
(planner.serving.chunked, chunked_walk) is therefore walked with the loop's own arrivals: all
C clients send at t = 0 (as the simulator's do, sim_closed), and each ended sequence's
client sends its next request think_s later, joining the first iteration that starts at or
after it. Request k is then measured on the path as the simulator measures it: TTFT = end of
its first-token iteration - its arrival, E2E = end of its last decode - its arrival, TPOT =
(E2E - TTFT) / D; after a warm-up of max(C, n/8) requests the next n are measured, and the
throughput is the completions between the first and the last measured arrival over that
time (sim_closed). TBT gaps are the iterations weighted by their decode batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .analytic import Latencies, _finish
from .chunked import BATCHES, _gaps, draws, rate_free
from .chunked_walk import walk, workspace
from .engine import Engine
from .prepared import Prepared
from .report import mean_rse
from .sim_replica import WATERMARK

TRIES = 4  # path lengths tried (each twice the last) until the measured requests all end


@dataclass(frozen=True)
class ClosedPath:
    """The loop's throughput (req/s) and the Latencies of its measured requests (TTFT,
    TPOT, E2E and the TBT gaps)."""

    throughput: float
    latencies: Latencies


def closed_path(
    engine: Engine, p: Prepared, clients: int, think_s: float, n: int, seed: int = 0
) -> ClosedPath:
    """The loop's n measured requests on one path (module docstring)."""
    tab, _, capacity = rate_free(engine, p)
    warm = max(clients, n // 8)
    requests = warm + n + clients + 16  # the measured ones and those in flight at the end
    # iterations per request: its prompt's and decodes' shared by the running ones, and an
    # idle one (walk) where a thinking loop leaves the replica empty
    per_request = (p.mean(p.D) + 2 + p.mean(p.I) / float(tab.q[1])) / min(clients, tab.top)
    L = int(1.5 * requests * (per_request + (think_s > 0))) + 64
    rng = np.random.default_rng(seed)
    d = draws(rng, p, L, requests, 0, block=None)
    for _ in range(TRIES):
        got = _walk(engine, tab, d, L, clients, think_s, warm, n)
        if got is not None:
            break
        L *= 2
    else:
        raise RuntimeError(f"closed loop of {clients} clients: requests unfinished on the path")
    ttft, e2e, D, throughput, path_g, path_n = got
    tpot = np.where(D > 0, (e2e - ttft) / np.maximum(D, 1), np.nan)
    gaps = _gaps(rng, _Iterations(path_g, path_n), tab, n, 0)
    n_time = float(np.dot(path_n, path_g) / path_g.sum())
    lat = _finish(capacity, n_time, ttft, tpot, D, gaps)
    lat.ttft_rse = mean_rse(ttft, BATCHES, 2)
    lat.ttft_boundary = ttft  # every request arrives as the loop sends it
    return ClosedPath(throughput, lat)


@dataclass(frozen=True)
class _Iterations:
    """What ``chunked._gaps`` reads of a path: iteration lengths and decode batches."""

    g: np.ndarray
    N: np.ndarray


def _walk(engine, tab, d, L, clients, think_s, warm, n):
    """Walk L iterations with the loop's arrivals; None if a measured request has not
    ended on the path. Returns the measured requests' TTFT, E2E and D, the throughput, and
    the iterations' lengths and decode batches over the measured arrivals' span."""
    m, kv = d.I.size, float(engine.kv_tokens)
    ep = np.full(m, np.inf)
    fb, ib = workspace(L, m, 0, d.longest)
    ib[4, :m], ib[6, :m] = -1, 0  # rows of the arrivals the walk does not reach stay so
    empty = np.zeros(0, np.int64)
    out = walk(ep, d.cum, d.sizes, d.D, tab.T.ravel(), tab.dT.ravel(), tab.ctx, tab.q, L, 1.0,
               kv, kv * (1 - WATERMARK), engine.scheduler.block_size / 2,
               float(tab.T[min(1, tab.top), 0]), empty, empty.astype(float), fb, ib, 1.0,
               clients, think_s)  # fmt: skip
    g, N, end = out[0], out[2], out[10]
    first, stop = ib[4, :m], ib[6, :m]
    k = np.arange(warm, warm + n)
    if k[-1] >= m or not np.isfinite(ep[k[-1]]):
        return None
    done = (first[k] >= 0) & (stop[k] >= 1) & (stop[k] <= L)
    if not done.all():
        return None
    arrive = ep[k]
    ttft = end[first[k]] - arrive
    finish = end[np.clip(stop - 1, 0, L - 1)]
    ended = (first >= 0) & (stop >= 1) & (stop <= L)
    t0, t1 = arrive[0], arrive[-1]
    inside = ended & (finish > t0) & (finish <= t1)
    throughput = inside.sum() / (t1 - t0) if t1 > t0 else math.nan
    span = (end > t0) & (end - g <= t1)
    return ttft, finish[k] - arrive, d.D[k], float(throughput), g[span].copy(), N[span].copy()
