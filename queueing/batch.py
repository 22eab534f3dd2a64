"""Batch-service queues whose batch time depends on the batch (size, longest request).

Policies (one server, Poisson arrivals λ, FCFS between batches):

* :class:`DynamicBatching` — when the server frees it takes everything waiting, up to
  ``max_batch``; if nothing waits it idles until the next arrival and starts a batch of
  that one request at once (our choice; Inoue 2021 and the "general bulk service rule" with
  threshold 1 of Chaudhry & Templeton 1983). ``max_batch=None`` is *elastic* batching
  (Yang, Jiao & Xu 2024: no cap, no waiting to fill).
* :class:`FixedBatching` — waits until exactly ``batch_size`` requests are there.
* :class:`ContinuousBatching` — iteration-level batching: each iteration with k running
  requests takes t(k); waiting requests join at iteration boundaries up to ``max_batch``;
  each request needs a geometric number of iterations with mean m (exact discrete-time
  chain on the number in system at iteration boundaries; Li, Dai & Peng 2025 stability
  λ·m·t(B)/B < 1).

General method (exact, numeric): the number waiting at batch completions X is a Markov
chain X' = X - k(X) + A_{k}, A_k the Poisson arrivals during a batch time T_k (mixed over
the law of T_k). Per cycle the queue area is (X - k)E[T_k] + λE[T_k²]/2 (+ the idle area),
so L_q = E[area]/E[cycle] and W_q = L_q/λ (Little); the mean sojourn adds the
customer-weighted E[T_k]. Stability: λ < capacity = b/E[T_b] at the largest batch b.
The bulk-service queues with closed forms (Bailey's M/G^[b]/1, M/M^[K]/1) are in
:mod:`queueing.bulk`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np
from scipy import stats

from queueing.errors import QueueingInputError, positive, positive_int
from queueing.laws import Deterministic, ServiceLaw
from queueing.multiserver import grow_until_negligible, solve_stationary
from queueing.results import QueueModel

BatchTime = Callable[[int], "ServiceLaw | float"]
_ELASTIC_PROBE = 2**40


def linear_batch_time(per_request: float, overhead: float) -> BatchTime:
    """Deterministic batch time t(b) = per_request·b + overhead (Inoue 2021: α·b + τ0)."""
    a, c = positive("per_request", per_request), float(overhead)
    if not math.isfinite(c) or c < 0:
        raise QueueingInputError(f"overhead must be a finite number >= 0; got {overhead!r}")
    return lambda b: Deterministic(a * b + c) if a * b + c > 0 else Deterministic(1e-300)


def longest_request_batch_time(
    tokens: ServiceLaw, seconds_per_token: float, overhead: float, per_request: float = 0.0
) -> BatchTime:
    """T_b = seconds_per_token·max(N_1..N_b) + per_request·b + overhead (iid token counts)."""
    a = positive("seconds_per_token", seconds_per_token)
    return lambda b: tokens.max_of(b).affine(a, overhead + per_request * b)


def _as_law(value: ServiceLaw | float) -> ServiceLaw:
    return value if isinstance(value, ServiceLaw) else Deterministic(value)


def mixed_poisson_pmf(rate: float, law: ServiceLaw, size: int) -> np.ndarray:
    """P(A = j), j < size, for A ~ Poisson(rate·T), T ~ law (quadrature over T)."""
    j = np.arange(size)
    if isinstance(law, Deterministic):
        return stats.poisson(rate * law.value).pmf(j)
    x, w = law.nodes()
    return stats.poisson.pmf(j[:, None], rate * x[None, :]) @ w


def _trim(pmf: np.ndarray) -> np.ndarray:
    """Drop the negligible right tail (mass < 1e-16) of a pmf."""
    tail = 1.0 - np.cumsum(pmf)
    cut = int(np.argmax(tail < 1e-16)) + 1 if np.any(tail < 1e-16) else pmf.size
    return pmf[:cut]


@dataclass
class _CycleSums:
    """Stationary expectations per cycle (batch or iteration, plus any idle period)."""

    time: float = 0.0
    queue_area: float = 0.0
    system_area: float = 0.0
    batch: float = 0.0
    batch_time: float = 0.0
    busy: float = 0.0  # E[T] over batches
    busy2: float = 0.0  # E[T^2]
    busy3: float = 0.0  # E[T^3]


class _BatchChain(QueueModel):
    """Embedded chain at batch completions; subclasses define the policy."""

    def __init__(self, arrival_rate: float, batch_time: BatchTime) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        if not callable(batch_time):
            raise QueueingInputError(f"batch_time must be a callable b -> law; got {batch_time!r}")
        self._batch_time = batch_time
        self._pi: np.ndarray | None = None

    @cache  # noqa: B019 (models are small and few)
    def batch_law(self, k: int) -> ServiceLaw:
        return _as_law(self._batch_time(k))

    @cache  # noqa: B019
    def _moments(self, k: int) -> tuple[float, float]:
        law = self.batch_law(k)
        return law.mean, law.moment(2)

    @cache  # noqa: B019
    def _moment3(self, k: int) -> float:
        return self.batch_law(k).moment(3)

    @cache  # noqa: B019
    def _arrivals(self, k: int) -> np.ndarray:
        law = self.batch_law(k)
        m = self.arrival_rate * float(law.quantile(1 - 1e-12))
        return _trim(mixed_poisson_pmf(self.arrival_rate, law, int(m + 12 * math.sqrt(m) + 40)))

    # policy: (k taken, x left in queue, idle time, idle queue area) for state x
    def _step(self, x: int) -> tuple[int, int, float, float]:
        raise NotImplementedError

    @property
    def capacity(self) -> float:
        raise NotImplementedError

    @property
    def utilization(self) -> float:
        return self.arrival_rate / self.capacity

    def _initial_size(self) -> int:
        b = self._full_batch
        t = self._moments(b)[0]
        return int(b + self.arrival_rate * t * (2 + 20 / (1 - self.utilization))) + 50

    def _build(self, size: int) -> np.ndarray:
        rows, cols, vals = [], [], []
        for x in range(size):
            k, left, _, _ = self._step(x)
            pmf = self._arrivals(k)[: max(size - left, 1)].copy()
            pmf[-1] += max(0.0, 1.0 - pmf.sum())
            rows.append(np.full(pmf.size, x))
            cols.append(left + np.arange(pmf.size))
            vals.append(pmf)
        return solve_stationary(size, *map(np.concatenate, (rows, cols, vals)))

    @property
    def stationary(self) -> np.ndarray:
        """Law of the number waiting at batch completions."""
        if self._pi is None:
            self._pi = grow_until_negligible(self._build, self._initial_size())
        return self._pi

    @cached_property
    def _sums(self) -> _CycleSums:
        """Expectations over the stationary chain of one cycle's time, areas and counts."""
        sums = _CycleSums()
        lam = self.arrival_rate
        for x, p in enumerate(self.stationary):
            if p < 1e-300:
                continue
            k, left, idle, idle_area = self._step(x)
            m1, m2 = self._moments(k)
            sums.time += p * (m1 + idle)
            sums.queue_area += p * (left * m1 + lam * m2 / 2 + idle_area)
            sums.system_area += p * ((left + k) * m1 + lam * m2 / 2 + idle_area)
            sums.batch += p * k
            sums.batch_time += p * k * m1
            sums.busy += p * m1
            sums.busy2 += p * m2
            sums.busy3 += p * self._moment3(k)
        return sums

    @property
    def mean_queue_length(self) -> float:
        """Time-average number waiting (not in service)."""
        if not self.stable:
            return math.inf
        sums = self._sums
        return sums.queue_area / sums.time

    @property
    def mean_number(self) -> float:
        """Time-average number in system."""
        if not self.stable:
            return math.inf
        sums = self._sums
        return sums.system_area / sums.time

    @property
    def mean_wait(self) -> float:
        return self.mean_queue_length / self.arrival_rate if self.stable else math.inf

    @property
    def busy_probability(self) -> float:
        """P(an arrival finds a batch in service) = E[T]/E[cycle] (PASTA). At low load
        batches are small and slow per request, so this exceeds λ/capacity."""
        if not self.stable:
            return 1.0
        sums = self._sums
        return sums.busy / sums.time

    @property
    def residual_moments(self) -> tuple[float, float]:
        """E[R], E[R^2] of the batch in progress that an arrival finds busy (length-biased
        residual): E[T^2]/(2E[T]), E[T^3]/(3E[T]) over the batches' times (the full
        batch's when unstable)."""
        if not self.stable:
            b = self._full_batch
            t1, t2, t3 = *self._moments(b), self._moment3(b)
        else:
            t1, t2, t3 = self._sums.busy, self._sums.busy2, self._sums.busy3
        return t2 / (2 * t1), t3 / (3 * t1)

    @property
    def mean_batch_size(self) -> float:
        """Customer count per batch (mean over batches)."""
        if not self.stable:
            return float(self._full_batch)
        return self._sums.batch

    @property
    def mean_service(self) -> float:
        """E[T of the batch a random customer is in] (customer-weighted)."""
        if not self.stable:
            return self._moments(self._full_batch)[0]
        sums = self._sums
        return sums.batch_time / sums.batch

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.mean_service if self.stable else math.inf

    @property
    def throughput(self) -> float:
        return min(self.arrival_rate, self.capacity)

    def _extra(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "throughput": self.throughput,
            "mean_batch_size": self.mean_batch_size,
        }


class DynamicBatching(_BatchChain):
    """Take all waiting up to ``max_batch`` (None: elastic, unbounded) when the server frees."""

    model = "dynamic batching"

    def __init__(
        self, arrival_rate: float, batch_time: BatchTime, max_batch: int | None = None
    ) -> None:
        super().__init__(arrival_rate, batch_time)
        self.max_batch = None if max_batch is None else positive_int("max_batch", max_batch)
        if self.max_batch is None:
            self.model = "elastic batching"

    @property
    def _full_batch(self) -> int:
        if self.max_batch is not None:
            return self.max_batch
        x = 1.0  # elastic: the batch size where arrivals per batch balance it, x = λE[T_x]
        for _ in range(200):
            x = self.arrival_rate * self._moments(max(1, math.ceil(x)))[0]
        return max(1, math.ceil(x))

    def _initial_size(self) -> int:
        if self.max_batch is None:
            return 4 * self._full_batch + 50
        return super()._initial_size()

    @property
    def capacity(self) -> float:
        """b_max / E[T_{b_max}]; elastic: lim b/E[T_b] (probed at b = 2^40)."""
        if self.max_batch is None:
            return _ELASTIC_PROBE / _as_law(self._batch_time(_ELASTIC_PROBE)).mean
        return self.max_batch / self._moments(self.max_batch)[0]

    def _step(self, x: int) -> tuple[int, int, float, float]:
        if x == 0:
            return 1, 0, 1.0 / self.arrival_rate, 0.0
        k = x if self.max_batch is None else min(x, self.max_batch)
        return k, x - k, 0.0, 0.0

    def _extra(self) -> dict[str, Any]:
        return {**super()._extra(), "max_batch": self.max_batch}


class FixedBatching(_BatchChain):
    """Wait until exactly ``batch_size`` requests are there, then serve them together."""

    model = "fixed batching"

    def __init__(self, arrival_rate: float, batch_time: BatchTime, batch_size: int) -> None:
        super().__init__(arrival_rate, batch_time)
        self.batch_size = positive_int("batch_size", batch_size)

    @property
    def _full_batch(self) -> int:
        return self.batch_size

    @property
    def capacity(self) -> float:
        return self.batch_size / self._moments(self.batch_size)[0]

    def _step(self, x: int) -> tuple[int, int, float, float]:
        b, lam = self.batch_size, self.arrival_rate
        if x >= b:
            return b, x - b, 0.0, 0.0
        return b, 0, (b - x) / lam, (b - x) * (x + b - 1) / (2 * lam)

    def _extra(self) -> dict[str, Any]:
        return {**super()._extra(), "batch_size": self.batch_size}


class ContinuousBatching(_BatchChain):
    """Iteration-level batching, exact for geometric iteration counts (mean ``mean_iterations``).

    State: number in system n at an iteration boundary. k = min(n, B) run an iteration of
    ``iteration_time(k)`` seconds; each finishes with probability 1/m at its end
    (Binomial(k, 1/m) departures); Poisson(λ t(k)) arrive meanwhile and join at the next
    boundary. With n = 0 the server idles until an arrival. W_q is the time until a request
    first runs; the sojourn ends with its last iteration. Stable iff λ·m·t(B)/B < 1.
    """

    model = "continuous batching"

    def __init__(
        self,
        arrival_rate: float,
        iteration_time: BatchTime,
        mean_iterations: float,
        max_batch: int,
    ) -> None:
        super().__init__(arrival_rate, iteration_time)
        self.mean_iterations = positive("mean_iterations", mean_iterations)
        if self.mean_iterations < 1:
            raise QueueingInputError(f"mean_iterations must be >= 1; got {mean_iterations!r}")
        self.max_batch = positive_int("max_batch", max_batch)

    @property
    def _full_batch(self) -> int:
        return self.max_batch

    @property
    def capacity(self) -> float:
        """B / (m·t(B)) requests per second."""
        return self.max_batch / (self.mean_iterations * self._moments(self.max_batch)[0])

    def _initial_size(self) -> int:
        return int(self.max_batch * (2 + 20 / (1 - self.utilization))) + 50

    def _step(self, x: int) -> tuple[int, int, float, float]:
        if x == 0:
            return 1, 0, 1.0 / self.arrival_rate, 0.0
        k = min(x, self.max_batch)
        return k, x - k, 0.0, 0.0

    @cache  # noqa: B019
    def _arrivals(self, k: int) -> np.ndarray:
        """Law of (k - departures + arrivals): what the k running turn into, plus newcomers."""
        stay = stats.binom.pmf(np.arange(k + 1), k, 1.0 - 1.0 / self.mean_iterations)
        return _trim(np.convolve(stay, super()._arrivals(k)))

    @property
    def mean_sojourn(self) -> float:
        return self.mean_number / self.arrival_rate if self.stable else math.inf

    @property
    def mean_batch_size(self) -> float:
        if not self.stable:
            return float(self.max_batch)
        ks = np.array([self._step(x)[0] for x in range(self.stationary.size)])
        ts = np.array([self._moments(int(k))[0] for k in ks])
        return float(np.sum(self.stationary * ks * ts) / np.sum(self.stationary * ts))

    def _extra(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "throughput": self.throughput,
            "max_batch": self.max_batch,
            "mean_iterations": self.mean_iterations,
        }
