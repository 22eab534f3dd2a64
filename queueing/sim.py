"""Fast simulators for single- and multi-server FCFS queues, with batch-means errors.

* One FCFS server: the Lindley recursion W_{n+1} = max(0, W_n + S_n - A_{n+1}) solved in
  closed form, W_n = P_n - min_{k<=n} P_k with P the prefix sums of S_k - A_{k+1}
  (``np.cumsum`` + ``np.minimum.accumulate``: tens of millions of customers per second).
* c FCFS servers: customers start at max(arrival, earliest free server) (a heap).
* Impatience with deterministic patience τ (M/G/1+D): a customer whose wait would exceed
  τ leaves at once (FCFS waits are known at arrival: the virtual waiting time).

Standard errors come from batch means (contiguous batches after a warm-up).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from queueing.errors import positive, positive_int
from queueing.laws import ServiceLaw


@dataclass(frozen=True)
class SimEstimate:
    """A simulated mean with its batch-means standard error."""

    mean: float
    se: float
    n: int

    def z(self, value: float) -> float:
        """(value - mean) / se: how many standard errors a model is away."""
        return (value - self.mean) / self.se if self.se > 0 else math.copysign(math.inf, 1)

    def to_dict(self) -> dict[str, float | None]:
        """``mean``, ``se`` (None when not finite) and ``n``, the batch size."""
        return {"mean": _finite(self.mean), "se": _finite(self.se), "n": int(self.n)}

    def to_frame(self) -> pd.DataFrame:
        """One row: ``mean, se, n``."""
        return pd.DataFrame([self.to_dict()])


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def batch_means(values: np.ndarray, n_batches: int = 20, stat=np.mean) -> SimEstimate:
    """Mean of ``stat`` over ``n_batches`` contiguous batches and its standard error."""
    values = np.asarray(values, dtype=float)
    size = values.size // n_batches
    batches = values[: size * n_batches].reshape(n_batches, size)
    per = np.array([stat(b) for b in batches]) if stat is not np.mean else batches.mean(axis=1)
    return SimEstimate(float(per.mean()), float(per.std(ddof=1) / math.sqrt(n_batches)), size)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def lindley_waits(interarrivals: np.ndarray, services: np.ndarray) -> np.ndarray:
    """FCFS waits of customers 0..n-1 (customer 0 finds the system empty).

    ``interarrivals[k]`` is the time between customer k-1 and k (entry 0 is unused).
    """
    steps = services[:-1] - interarrivals[1:]
    prefix = np.concatenate(([0.0], np.cumsum(steps)))
    return prefix - np.minimum.accumulate(prefix)


@dataclass(frozen=True)
class SimRun:
    """Per-customer output of a simulation (after warm-up)."""

    waits: np.ndarray
    sojourns: np.ndarray

    def mean_wait(self, n_batches: int = 20) -> SimEstimate:
        return batch_means(self.waits, n_batches)

    def mean_sojourn(self, n_batches: int = 20) -> SimEstimate:
        return batch_means(self.sojourns, n_batches)

    def wait_quantile(self, p: float, n_batches: int = 20) -> SimEstimate:
        return batch_means(self.waits, n_batches, stat=lambda b: np.quantile(b, p))

    def wait_cdf(self, t: float, n_batches: int = 20) -> SimEstimate:
        return batch_means(self.waits <= t, n_batches)

    def to_frame(self) -> pd.DataFrame:
        """One row per simulated customer: ``wait_s, sojourn_s``."""
        return pd.DataFrame({"wait_s": self.waits, "sojourn_s": self.sojourns})

    def to_dict(self) -> dict[str, float | int | None]:
        """Summary (the per-customer arrays are in :meth:`to_frame`): customers, mean wait and
        sojourn with their batch-means standard errors, p50/p90/p99 wait."""
        out: dict[str, float | int | None] = {"customers": int(self.waits.size)}
        if self.waits.size < 20:
            return out
        for name, est in (("wait", self.mean_wait()), ("sojourn", self.mean_sojourn())):
            out[f"mean_{name}_s"], out[f"mean_{name}_se"] = _finite(est.mean), _finite(est.se)
        for p in (0.5, 0.9, 0.99):
            out[f"wait_p{round(p * 100)}_s"] = _finite(np.quantile(self.waits, p))
        return out


def _warm(n: int, warmup: float) -> int:
    return int(n * warmup)


def simulate_mg1(
    arrival_rate: float,
    service: ServiceLaw,
    n: int = 1_000_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> SimRun:
    """M/G/1 FCFS by the vectorised Lindley recursion."""
    lam, n = positive("arrival_rate", arrival_rate), positive_int("n", n)
    gen = _rng(rng)
    inter = gen.exponential(1.0 / lam, n)
    services = service.sample(n, gen)
    waits = lindley_waits(inter, services)
    k = _warm(n, warmup)
    return SimRun(waits[k:], waits[k:] + services[k:])


def simulate_gg1(interarrivals: np.ndarray, services: np.ndarray, warmup: float = 0.05) -> SimRun:
    """G/G/1 FCFS from given interarrival and service samples (same length)."""
    waits = lindley_waits(np.asarray(interarrivals, float), np.asarray(services, float))
    k = _warm(waits.size, warmup)
    return SimRun(waits[k:], waits[k:] + np.asarray(services, float)[k:])


def simulate_mgc(
    arrival_rate: float,
    service: ServiceLaw,
    servers: int,
    n: int = 200_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> SimRun:
    """M/G/c FCFS: each customer starts at max(arrival, earliest free server)."""
    lam, c = positive("arrival_rate", arrival_rate), positive_int("servers", servers)
    gen = _rng(rng)
    arrivals = np.cumsum(gen.exponential(1.0 / lam, n)).tolist()
    services = service.sample(n, gen)
    free = [0.0] * c
    waits = np.empty(n)
    for i, (a, s) in enumerate(zip(arrivals, services.tolist())):
        start = max(a, free[0])
        heapq.heapreplace(free, start + s)
        waits[i] = start - a
    k = _warm(n, warmup)
    return SimRun(waits[k:], waits[k:] + services[k:])


@dataclass(frozen=True)
class ImpatientRun:
    """Simulation of M/G/1+D: ``served`` flags and waits of every customer."""

    served: np.ndarray
    waits: np.ndarray

    def loss_probability(self, n_batches: int = 20) -> SimEstimate:
        return batch_means(~self.served, n_batches)

    def mean_wait_served(self, n_batches: int = 20) -> SimEstimate:
        """Ratio estimator per batch: Σ waits of served / number served."""
        size = self.waits.size // n_batches
        w = (self.waits * self.served)[: size * n_batches].reshape(n_batches, size).sum(1)
        m = self.served[: size * n_batches].reshape(n_batches, size).sum(1)
        per = w / m
        return SimEstimate(float(per.mean()), float(per.std(ddof=1) / math.sqrt(n_batches)), size)

    def to_frame(self) -> pd.DataFrame:
        """One row per simulated customer: ``served, wait_s``."""
        return pd.DataFrame({"served": self.served, "wait_s": self.waits})

    def to_dict(self) -> dict[str, float | int | None]:
        """Summary: customers, loss probability and mean wait of the served, with errors."""
        out: dict[str, float | int | None] = {"customers": int(self.waits.size)}
        if self.waits.size < 20 or not self.served.any():
            return out
        loss, wait = self.loss_probability(), self.mean_wait_served()
        out |= {"loss_probability": _finite(loss.mean), "loss_probability_se": _finite(loss.se)}
        out |= {"mean_wait_served_s": _finite(wait.mean), "mean_wait_served_se": _finite(wait.se)}
        return out


def simulate_mg1_impatient(
    arrival_rate: float,
    service: ServiceLaw,
    patience: float,
    n: int = 300_000,
    rng: np.random.Generator | int | None = 0,
    warmup: float = 0.05,
) -> ImpatientRun:
    """M/G/1+D: a customer is served iff the virtual wait V at its arrival is <= τ."""
    lam, tau = positive("arrival_rate", arrival_rate), positive("patience", patience)
    gen = _rng(rng)
    inter = gen.exponential(1.0 / lam, n).tolist()
    services = service.sample(n, gen).tolist()
    served = np.zeros(n, dtype=bool)
    waits = np.zeros(n)
    v = 0.0
    for i in range(n):
        v = max(0.0, v - inter[i])
        waits[i] = v
        if v <= tau:
            served[i] = True
            v += services[i]
    k = _warm(n, warmup)
    return ImpatientRun(served[k:], waits[k:])
