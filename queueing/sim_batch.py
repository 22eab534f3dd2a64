"""Event-driven simulators for batch policies and iteration-level (continuous) batching.

Each loop runs once per batch (or per iteration), with customer-level bookkeeping in
numpy slices; batch times are drawn from pre-sampled blocks per batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from queueing.errors import QueueingInputError, positive, positive_int
from queueing.laws import Deterministic, ServiceLaw
from queueing.sim import SimEstimate, SimRun, _rng, _warm

POLICIES = ("dynamic", "fixed", "bailey")


class _Draws:
    """Batch-time draws per batch size k, sampled in blocks."""

    def __init__(self, batch_time: Callable, gen: np.random.Generator) -> None:
        self._fn, self._gen, self._blocks = batch_time, gen, {}

    def __call__(self, k: int) -> float:
        block = self._blocks.get(k)
        if block is None or block[1] >= block[0].size:
            law = self._fn(k)
            law = law if isinstance(law, ServiceLaw) else Deterministic(law)
            block = [law.sample(4096, self._gen), 0]
            self._blocks[k] = block
        block[1] += 1
        return float(block[0][block[1] - 1])


def _batch_size(policy: str, waiting: int, max_batch: int | None) -> int:
    return waiting if max_batch is None else min(waiting, max_batch)


def simulate_batching(
    arrival_rate: float,
    batch_time: Callable | None,
    policy: str = "dynamic",
    max_batch: int | None = None,
    n: int = 200_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
    tokens: ServiceLaw | None = None,
    batch_seconds: Callable[[int, float], float] | None = None,
) -> SimRun:
    """Simulate dynamic (take up to ``max_batch``; None = elastic), fixed (wait for exactly
    ``max_batch``) or Bailey (back-to-back periods, possibly empty) batching.

    Batch time: ``batch_time(k)`` (a law or seconds), or, with ``tokens``, each request
    draws a token count and a batch takes ``batch_seconds(k, longest_tokens)``.
    """
    lam = positive("arrival_rate", arrival_rate)
    if policy not in POLICIES:
        raise QueueingInputError(f"policy must be one of {POLICIES}; got {policy!r}")
    if policy != "dynamic" and max_batch is None:
        raise QueueingInputError(f"max_batch must be an integer >= 1 for policy {policy!r}")
    gen = _rng(rng)
    arr = np.cumsum(gen.exponential(1.0 / lam, n))
    toks = tokens.sample(n, gen) if tokens is not None else None
    draw = _Draws(batch_time, gen) if toks is None else None
    waits, soj = np.empty(n), np.empty(n)
    t, head = 0.0, 0
    while head < n:
        waiting = int(np.searchsorted(arr, t, side="right")) - head
        if policy == "fixed":
            if head + max_batch > n:
                break
            k, start = max_batch, max(t, float(arr[head + max_batch - 1]))
        elif waiting > 0:
            k, start = _batch_size(policy, waiting, max_batch), t
        elif policy == "bailey":
            t += draw(0)
            continue
        else:
            k, start = 1, float(arr[head])
        k = min(k, n - head)
        dur = draw(k) if toks is None else float(batch_seconds(k, toks[head : head + k].max()))
        waits[head : head + k] = start - arr[head : head + k]
        soj[head : head + k] = waits[head : head + k] + dur
        t, head = start + dur, head + k
    w = _warm(head, warmup)
    return SimRun(waits[w:head], soj[w:head])


def simulate_continuous_batching(
    arrival_rate: float,
    iteration_time: Callable[[int], float],
    iterations: ServiceLaw,
    max_batch: int,
    n: int = 100_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> SimRun:
    """Iteration-level batching: at each iteration boundary waiting requests join (FCFS) up
    to ``max_batch`` running; an iteration with k running lasts ``iteration_time(k)``; a
    request leaves after its number of iterations (drawn from ``iterations``, rounded up
    to >= 1). Waits end at the first iteration; sojourns at the last."""
    lam, b = positive("arrival_rate", arrival_rate), positive_int("max_batch", max_batch)
    gen = _rng(rng)
    arr = np.cumsum(gen.exponential(1.0 / lam, n))
    need = np.maximum(np.ceil(iterations.sample(n, gen)), 1).astype(np.int64)
    waits, soj = np.full(n, np.nan), np.full(n, np.nan)
    run_idx = np.empty(0, dtype=np.int64)
    run_left = np.empty(0, dtype=np.int64)
    t, head, done = 0.0, 0, 0
    step_time = {}
    while done < n:
        avail = int(np.searchsorted(arr, t, side="right"))
        if run_idx.size == 0 and avail == head:
            if head >= n:
                break
            t, avail = float(arr[head]), head + 1
        take = min(b - run_idx.size, avail - head)
        if take > 0:
            new = np.arange(head, head + take)
            waits[new] = t - arr[new]
            run_idx = np.concatenate((run_idx, new))
            run_left = np.concatenate((run_left, need[new]))
            head += take
        k = run_idx.size
        if k not in step_time:
            step_time[k] = float(_as_seconds(iteration_time(k)))
        t += step_time[k]
        run_left -= 1
        fin = run_left == 0
        if fin.any():
            soj[run_idx[fin]] = t - arr[run_idx[fin]]
            done += int(fin.sum())
            run_idx, run_left = run_idx[~fin], run_left[~fin]
    w = _warm(n, warmup)
    ok = ~np.isnan(soj[w:])
    return SimRun(waits[w:][ok], soj[w:][ok])


def _as_seconds(value: ServiceLaw | float) -> float:
    if isinstance(value, ServiceLaw):
        if not isinstance(value, Deterministic):
            raise QueueingInputError("iteration_time must give seconds or a Deterministic law")
        return value.value
    return float(value)


def simulate_bulk_mmk(
    arrival_rate: float,
    service_rate: float,
    max_batch: int,
    events: int = 400_000,
    rng: np.random.Generator | int | None = 0,
    n_batches: int = 20,
) -> SimEstimate:
    """Time-average number in system of M/M^[K]/1 with joining (the CTMC, event by event):
    arrivals at rate λ; at rate μ (when busy) the batch in service, min(n, K), leaves."""
    lam, mu = positive("arrival_rate", arrival_rate), positive("service_rate", service_rate)
    k = positive_int("max_batch", max_batch)
    gen = _rng(rng)
    u = gen.random(events).tolist()
    e = gen.exponential(1.0, events)
    n_sys, levels, holds = 0, np.empty(events), np.empty(events)
    for i in range(events):
        rate = lam + (mu if n_sys > 0 else 0.0)
        levels[i], holds[i] = n_sys, e[i] / rate
        n_sys = n_sys + 1 if u[i] * rate < lam else n_sys - min(n_sys, k)
    w = events // 20
    levels, holds = levels[w:], holds[w:]
    size = levels.size // n_batches
    area = (levels * holds)[: size * n_batches].reshape(n_batches, size).sum(1)
    time = holds[: size * n_batches].reshape(n_batches, size).sum(1)
    per = area / time
    return SimEstimate(float(per.mean()), float(per.std(ddof=1) / math.sqrt(n_batches)), size)
