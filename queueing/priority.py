"""Disciplines of one M/G/1 server: Cobham priorities, SJF, SRPT, processor sharing.

* Non-preemptive priorities (Cobham 1954), class 1 highest, σ_i = Σ_{j<=i} ρ_j,
  W_0 = Σ_j λ_j E[S_j²]/2:  W_i = W_0 / ((1 - σ_{i-1})(1 - σ_i)).
* Preemptive-resume priorities: T_i = E[S_i]/(1 - σ_{i-1})
  + (Σ_{j<=i} λ_j E[S_j²]/2) / ((1 - σ_{i-1})(1 - σ_i))  (Kleinrock Vol. 2, §3.7).
* SJF, non-preemptive, by exact size (continuous priority classes):
  W(x) = W_0 / ((1 - ρ(x⁻))(1 - ρ(x))), ρ(x) = λE[S; S <= x] (Phipps 1956).
* SRPT (Schrage & Miller 1966): T(x) = λ m₂(x) / (2(1 - ρ(x⁻))(1 - ρ(x)))
  + ∫_0^x dt/(1 - ρ(t)), m₂(x) = E[S²; S <= x] + x²P(S > x).
* Processor sharing: E[T | S = x] = x/(1 - ρ), E[T] = E[S]/(1 - ρ) (Kleinrock Vol. 2 §4.4).

Averages over the size law use its quadrature nodes with exact partial moments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from queueing.errors import QueueingInputError, positive
from queueing.laws import ServiceLaw
from queueing.results import QueueModel, json_safe

_GL8_X, _GL8_W = np.polynomial.legendre.leggauss(8)


class PriorityMG1(QueueModel):
    """Multi-class M/G/1 with static priorities (index 0 = highest), FCFS within a class."""

    def __init__(
        self,
        arrival_rates: Sequence[float],
        services: Sequence[ServiceLaw],
        preemptive: bool = False,
    ) -> None:
        if len(arrival_rates) == 0 or len(arrival_rates) != len(services):
            raise QueueingInputError(
                "arrival_rates and services must be non-empty and of equal length; "
                f"got {len(arrival_rates)} and {len(services)}"
            )
        self.rates = [positive(f"arrival_rates[{i}]", r) for i, r in enumerate(arrival_rates)]
        self.services = list(services)
        self.preemptive = bool(preemptive)
        self.arrival_rate = float(sum(self.rates))
        self.model = "M/G/1 preemptive priority" if preemptive else "M/G/1 priority"

    @property
    def class_loads(self) -> np.ndarray:
        return np.array([r * s.mean for r, s in zip(self.rates, self.services)])

    @property
    def utilization(self) -> float:
        return float(self.class_loads.sum())

    def _residuals(self) -> np.ndarray:
        return np.array([r * s.moment(2) / 2 for r, s in zip(self.rates, self.services)])

    @property
    def class_mean_sojourn(self) -> np.ndarray:
        """Mean response time per class (inf for classes with σ_i >= 1)."""
        sigma = np.cumsum(self.class_loads)
        before = np.concatenate(([0.0], sigma[:-1]))
        means = np.array([s.mean for s in self.services])
        res = self._residuals()
        w0 = np.cumsum(res) if self.preemptive else np.full(len(res), res.sum())
        with np.errstate(divide="ignore"):
            queue = w0 / ((1.0 - before) * (1.0 - sigma))
            own = means / (1.0 - before) if self.preemptive else means
        return np.where(sigma < 1.0, queue + own, math.inf)

    @property
    def class_mean_wait(self) -> np.ndarray:
        """Mean time not in service per class (sojourn − E[S_i])."""
        return self.class_mean_sojourn - np.array([s.mean for s in self.services])

    def _overall(self, per_class: np.ndarray) -> float:
        if not self.stable:
            return math.inf
        return float(np.dot(self.rates, per_class) / self.arrival_rate)

    @property
    def mean_wait(self) -> float:
        return self._overall(self.class_mean_wait)

    @property
    def mean_sojourn(self) -> float:
        return self._overall(self.class_mean_sojourn)

    def _extra(self) -> dict[str, Any]:
        return json_safe(
            {
                "preemptive": self.preemptive,
                "class_mean_wait": self.class_mean_wait,
                "class_mean_sojourn": self.class_mean_sojourn,
            }
        )


class _SizeBased(QueueModel):
    """One-class M/G/1 whose discipline looks at job sizes."""

    def __init__(self, arrival_rate: float, service: ServiceLaw) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service = service

    @property
    def utilization(self) -> float:
        return self.arrival_rate * self.service.mean

    def _load(self, x: np.ndarray, strict: bool = False) -> np.ndarray:
        """ρ(x) = λE[S; S <= x] (``strict``: S < x) at each x."""
        shrink = 1.0 - 1e-12 if strict else 1.0
        pm = [self.service.partial_moment(1, v * shrink) for v in np.atleast_1d(x)]
        return self.arrival_rate * np.array(pm)

    def conditional_sojourn(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def mean_sojourn(self) -> float:
        if not self.stable:
            return math.inf
        x, w = self.service.nodes()
        return float(np.dot(w, self.conditional_sojourn(x)) / w.sum())

    @property
    def mean_wait(self) -> float:
        return self.mean_sojourn - self.service.mean if self.stable else math.inf


class SJF(_SizeBased):
    """Non-preemptive shortest-job-first: W(x) = W_0/((1 - ρ(x⁻))(1 - ρ(x)))."""

    model = "M/G/1 SJF"

    def conditional_sojourn(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        w0 = self.arrival_rate * self.service.moment(2) / 2
        return w0 / ((1 - self._load(x, strict=True)) * (1 - self._load(x))) + x


class SRPT(_SizeBased):
    """Preemptive shortest-remaining-processing-time (Schrage & Miller 1966)."""

    model = "M/G/1 SRPT"

    def _residence(self, x: np.ndarray) -> np.ndarray:
        """∫_0^x dt/(1 - ρ(t)) for sorted x, by 8-point Gauss–Legendre between points."""
        edges = np.concatenate(([0.0], x))
        lo, hi = edges[:-1, None], edges[1:, None]
        t = (lo + hi) / 2 + (hi - lo) / 2 * _GL8_X[None, :]
        vals = 1.0 / (1.0 - self._load(t.ravel(), strict=True).reshape(t.shape))
        return np.cumsum(((hi - lo) / 2 * vals) @ _GL8_W)

    def conditional_sojourn(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        order = np.argsort(x)
        xs = x[order]
        m2 = np.array([self.service.partial_moment(2, v) for v in xs])
        m2 += xs**2 * np.asarray(self.service.sf(xs))
        busy = (1 - self._load(xs, strict=True)) * (1 - self._load(xs))
        wait = self.arrival_rate * m2 / (2 * busy)
        out = np.empty_like(x)
        out[order] = wait + self._residence(xs)
        return out


class ProcessorSharing(_SizeBased):
    """M/G/1-PS: E[T | x] = x/(1 - ρ); insensitive to the size law beyond its mean."""

    model = "M/G/1-PS"

    def conditional_sojourn(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float) / (1.0 - self.utilization)

    @property
    def mean_sojourn(self) -> float:
        return self.service.mean / (1.0 - self.utilization) if self.stable else math.inf
