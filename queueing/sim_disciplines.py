"""Event-driven simulators for one server under priority and size-based disciplines.

Arrivals are one Poisson stream (rate Σλ_i) with independent class marks; each loop
iteration is one service start, completion or preemption, using ``heapq``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

from queueing.errors import QueueingInputError, positive, positive_int
from queueing.laws import ServiceLaw
from queueing.sim import SimRun, _rng, _warm


def _arrivals(rates: Sequence[float], services: Sequence[ServiceLaw], n: int, gen):
    lam = float(sum(rates))
    arr = np.cumsum(gen.exponential(1.0 / lam, n))
    cls = gen.choice(len(rates), size=n, p=np.asarray(rates) / lam)
    size = np.empty(n)
    for i, law in enumerate(services):
        mask = cls == i
        size[mask] = law.sample(int(mask.sum()), gen)
    return arr, cls, size


def _non_preemptive(arr: np.ndarray, keys: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Waits when the server always starts the waiting job with the smallest key."""
    n = arr.size
    a, k, s = arr.tolist(), keys.tolist(), size.tolist()
    waits = np.empty(n)
    heap: list = []
    t, i = 0.0, 0
    for _ in range(n):
        if not heap:
            t = max(t, a[i])
        while i < n and a[i] <= t:
            heapq.heappush(heap, (k[i], i))
            i += 1
        _, j = heapq.heappop(heap)
        waits[j] = t - a[j]
        t += s[j]
    return waits


def _preemptive(arr: np.ndarray, keys: np.ndarray | None, size: np.ndarray) -> np.ndarray:
    """Sojourns under preemptive-resume; ``keys`` None means SRPT (key = remaining work)."""
    n = arr.size
    a, s = arr.tolist(), size.tolist()
    k = keys.tolist() if keys is not None else None
    soj = np.empty(n)
    heap: list = []
    t, i, done = 0.0, 0, 0
    while done < n:
        if not heap:
            t = max(t, a[i])
            heapq.heappush(heap, (k[i] if k else s[i], i, s[i]))
            i += 1
        _, j, rem = heapq.heappop(heap)
        nxt = a[i] if i < n else math.inf
        if t + rem <= nxt:
            t += rem
            soj[j] = t - a[j]
            done += 1
            continue
        rem -= nxt - t
        t = nxt
        heapq.heappush(heap, (k[j] if k else rem, j, rem))
        heapq.heappush(heap, (k[i] if k else s[i], i, s[i]))
        i += 1
    return soj


def _processor_sharing(arr: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Sojourns under PS via virtual time V (dV/dt = 1/number in system)."""
    n = arr.size
    a, s = arr.tolist(), size.tolist()
    soj = np.empty(n)
    heap: list = []
    t = v = 0.0
    i = done = 0
    while done < n:
        nxt = a[i] if i < n else math.inf
        if heap and t + (heap[0][0] - v) * len(heap) <= nxt:
            t += (heap[0][0] - v) * len(heap)
            v, j = heapq.heappop(heap)
            soj[j] = t - a[j]
            done += 1
        else:
            if heap:
                v += (nxt - t) / len(heap)
            t = nxt
            heapq.heappush(heap, (v + s[i], i))
            i += 1
    return soj


def simulate_priority(
    arrival_rates: Sequence[float],
    services: Sequence[ServiceLaw],
    preemptive: bool = False,
    n: int = 200_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> list[SimRun]:
    """Multi-class M/G/1 with static priorities (class 0 highest); one SimRun per class."""
    if len(arrival_rates) != len(services) or not arrival_rates:
        raise QueueingInputError("arrival_rates and services must be non-empty, equal length")
    rates = [positive(f"arrival_rates[{i}]", r) for i, r in enumerate(arrival_rates)]
    arr, cls, size = _arrivals(rates, services, positive_int("n", n), _rng(rng))
    keys = cls * float(n) + np.arange(n)  # class first, then FCFS
    if preemptive:
        soj = _preemptive(arr, keys, size)
        waits = soj - size
    else:
        waits = _non_preemptive(arr, keys, size)
        soj = waits + size
    w = _warm(n, warmup)
    return [SimRun(waits[w:][cls[w:] == c], soj[w:][cls[w:] == c]) for c in range(len(rates))]


def simulate_discipline(
    arrival_rate: float,
    service: ServiceLaw,
    discipline: str,
    n: int = 200_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> SimRun:
    """One-class M/G/1 under ``discipline`` in {"fcfs", "sjf", "srpt", "ps"}."""
    arr, _, size = _arrivals([positive("arrival_rate", arrival_rate)], [service], n, _rng(rng))
    if discipline == "fcfs":
        waits = _non_preemptive(arr, np.arange(n, dtype=float), size)
        soj = waits + size
    elif discipline == "sjf":
        waits = _non_preemptive(arr, size, size)
        soj = waits + size
    elif discipline == "srpt":
        soj = _preemptive(arr, None, size)
        waits = soj - size
    elif discipline == "ps":
        soj = _processor_sharing(arr, size)
        waits = soj - size
    else:
        raise QueueingInputError(
            f"discipline must be one of 'fcfs', 'sjf', 'srpt', 'ps'; got {discipline!r}"
        )
    w = _warm(n, warmup)
    return SimRun(waits[w:], soj[w:])
