"""ServingReport: latency percentiles, throughput, goodput and capacity of one replica at one
rate, from the analytic model or the simulator (``source``). Overload is a result: when the
rate exceeds capacity, ``overloaded`` is true and latencies are infinite, never finite guesses.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from queueing import batch_means

QUANTILES = (0.5, 0.9, 0.99)


def quantiles(x: np.ndarray) -> np.ndarray:
    """``np.quantile(x, QUANTILES)`` (linear, Hyndman & Fan's 7th: index (n - 1)q between
    the order statistics around it), to the last bit, without its generic set-up: a report
    computes four of these, and the max-rate search and the fit thousands of reports."""
    lo, hi, g, kth = _order_stats(x.size)
    s = np.partition(x, kth)
    if np.isnan(s[-1]):
        return np.full(g.size, np.nan)
    a, b = s[lo], s[hi]
    d = b - a
    return np.where(g >= 0.5, b - d * (1 - g), a + d * g)  # numpy's _lerp


@lru_cache(maxsize=64)
def _order_stats(n: int):
    """The order statistics around each quantile's index (n - 1)q, its fraction, and the
    ranks to partition at (with the first and last, as numpy does)."""
    v = (n - 1) * np.array(QUANTILES)
    lo = np.minimum(np.floor(v).astype(np.intp), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, v - lo, np.unique(np.concatenate(([0, n - 1], lo, hi)))


@dataclass(frozen=True)
class Percentiles:
    """Mean and p50/p90/p99 of one latency metric, seconds (inf when overloaded)."""

    mean: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def of(cls, samples, weights=None) -> Percentiles:
        x = np.asarray(samples, dtype=float)
        if x.size == 0:
            return cls.overloaded()
        if weights is None:
            return cls(float(x.mean()), *(float(v) for v in quantiles(x)))
        w = np.asarray(weights, dtype=float) / np.sum(weights)
        order = np.argsort(x)
        cdf = np.cumsum(w[order])
        qs = [float(x[order][min(np.searchsorted(cdf, q), x.size - 1)]) for q in QUANTILES]
        return cls(float(np.dot(w, x)), *qs)

    @classmethod
    def overloaded(cls) -> Percentiles:
        return cls(math.inf, math.inf, math.inf, math.inf)

    def get(self, stat: str) -> float:
        """'mean', 'p50', 'p90', 'p99' or a percentile number such as 0.9 / 90."""
        if isinstance(stat, str):
            return getattr(self, stat)
        q = stat if stat < 1 else stat / 100
        return {0.5: self.p50, 0.9: self.p90, 0.99: self.p99}[round(q, 2)]

    def to_dict(self) -> dict[str, float | None]:
        """``mean, p50, p90, p99`` in seconds; None where infinite (overloaded)."""
        return {k: (v if math.isfinite(v) else None) for k, v in asdict(self).items()}

    def to_frame(self) -> pd.DataFrame:
        """One row: ``mean, p50, p90, p99`` (inf when overloaded)."""
        return pd.DataFrame([asdict(self)])


def mean_rse(x: np.ndarray, batches: int, least: int) -> float | None:
    """Relative standard error of the mean of a time-ordered series by ``batches`` batch
    means (queueing.batch_means); None with fewer than ``least`` samples per batch."""
    if x.size < least * batches:
        return None
    est = batch_means(x, batches)
    return est.se / est.mean if est.mean > 0 else 0.0


@dataclass(frozen=True)
class ServingReport:
    """One replica serving ``workload`` at ``rate`` requests/s."""

    source: str
    model: str
    hardware: str
    scheduler: str
    rate: float
    capacity: float
    ttft: Percentiles
    tpot: Percentiles
    e2e: Percentiles
    decode_batch: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    goodput: float | None = None
    rejected: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    tbt: Percentiles | None = None  # time between consecutive tokens (per token)
    ttft_mean_rse: float | None = None  # relative standard error of ttft.mean (batch means)
    calibration: str = ""  # which kernel data the step times used (perfmodel.describe)
    engine: str = ""  # the serving-engine profile assumed (hardware_specs.engines)
    # TTFT of a request arriving at an iteration end with no prompt queued ahead (a closed
    # loop's client sending as another's request finishes), where the model gives it
    ttft_boundary: Percentiles | None = None

    @property
    def utilization(self) -> float:
        """Offered rate over capacity (>= 1 means overloaded)."""
        return self.rate / self.capacity if self.capacity > 0 else math.inf

    @property
    def overloaded(self) -> bool:
        return bool(self.utilization >= 1)

    def to_frame(self) -> pd.DataFrame:
        """One row per latency metric: mean, p50, p90, p99 (seconds)."""
        rows = [{"metric": name, **asdict(getattr(self, name))} for name in self.metrics]
        return pd.DataFrame(rows)

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("ttft", "tpot", "e2e") + (("tbt",) if self.tbt is not None else ())

    def to_dict(self) -> dict:
        """JSON-safe: every non-finite figure (an overloaded replica's latencies and decode
        batch) becomes None; ``overloaded`` says why."""

        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return None if isinstance(v, float) and not math.isfinite(v) else v

        d = asdict(self) | {"utilization": self.utilization, "overloaded": self.overloaded}
        return clean(d)
