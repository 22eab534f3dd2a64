"""Bulk-service queues with closed forms (one server, Poisson arrivals λ, FCFS).

* :class:`BaileyBulk` — Bailey's M/G^[b]/1 (1954): the server runs service periods of law
  G back to back, each taking up to b waiting customers (possibly none); its roots formula is
  checked against the embedded chain of :mod:`queueing.batch`.
* :class:`BulkMMK` — M/M^[K]/1 with joining of a batch in service (Gross & Harris §3.3.2):
  p_n = (1-r) r^n, r the root in (0,1) of μr^{K+1} - (λ+μ)r + λ = 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize

from queueing.batch import _BatchChain
from queueing.errors import positive, positive_int
from queueing.laws import ServiceLaw
from queueing.results import QueueModel


class BaileyBulk(_BatchChain):
    """Bailey's M/G^[b]/1: back-to-back service periods ~ ``service``, each taking up to b.

    Closed form (roots): with K(z) = B*(λ(1-z)) and z_1..z_{b-1} the roots of z^b = K(z)
    in |z| < 1, the number left at a completion has
    E[X] = λE[S] - (b(b-1) - λ²E[S²]) / (2(b - λE[S])) + Σ_i 1/(1 - z_i),
    and L_q = E[X] - λE[S] + λE[S²]/(2E[S]), W_q = L_q/λ (Bailey 1954; Chaudhry &
    Templeton, A First Course in Bulk Queues, 1983). ``mean_wait_numeric`` solves the chain.
    """

    model = "M/G^[b]/1 (Bailey)"

    def __init__(self, arrival_rate: float, service: ServiceLaw, max_batch: int) -> None:
        super().__init__(arrival_rate, lambda b: service)
        self.service = service
        self.max_batch = positive_int("max_batch", max_batch)

    @property
    def _full_batch(self) -> int:
        return self.max_batch

    @property
    def capacity(self) -> float:
        return self.max_batch / self.service.mean

    def _step(self, x: int) -> tuple[int, int, float, float]:
        k = min(x, self.max_batch)
        return k, x - k, 0.0, 0.0

    def _arrivals(self, k: int) -> np.ndarray:
        return super()._arrivals(self.max_batch)

    def roots(self) -> np.ndarray:
        """The b-1 roots of z^b = B*(λ(1-z)) inside the unit disk, z ≠ 1."""
        b, lam = self.max_batch, self.arrival_rate
        k_of = lambda z: self.service.lst(lam * (1.0 - z))  # noqa: E731
        out = []
        for j in range(1, b):
            omega = np.exp(2j * np.pi * j / b)
            z = 0.5 * omega
            for _ in range(500):
                z_new = omega * k_of(z) ** (1.0 / b)
                if abs(z_new - z) < 1e-15:
                    break
                z = z_new
            f = lambda v, om=omega: v - om * k_of(v) ** (1.0 / b)  # noqa: E731
            out.append(complex(optimize.newton(f, z, tol=1e-15, maxiter=50)))
        return np.array(out)

    @property
    def mean_wait(self) -> float:
        if not self.stable:
            return math.inf
        lam, b = self.arrival_rate, self.max_batch
        m1, m2 = self.service.mean, self.service.moment(2)
        rho1 = lam * m1
        ex = rho1 - (b * (b - 1) - lam**2 * m2) / (2 * (b - rho1))
        try:
            roots = self.roots()
        except RuntimeError:  # Newton found no root (seen near ρ = 0.5, b = 10): use the chain
            return self.mean_wait_numeric
        ex += float(np.real(np.sum(1.0 / (1.0 - roots))))
        return (ex - rho1 + lam * m2 / (2 * m1)) / lam

    @property
    def mean_wait_numeric(self) -> float:
        """W_q from the embedded chain (independent of the root formula)."""
        return super().mean_wait

    @property
    def mean_service(self) -> float:
        return self.service.mean


class BulkMMK(QueueModel):
    """M/M^[K]/1: exponential batch service of rate μ, up to K per batch, later arrivals
    join a batch in service while it holds fewer than K. N ~ Geometric: P(N=n) = (1-r)r^n."""

    model = "M/M^[K]/1"

    def __init__(self, arrival_rate: float, service_rate: float, max_batch: int) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service_rate = positive("service_rate", service_rate)
        self.max_batch = positive_int("max_batch", max_batch)

    @property
    def capacity(self) -> float:
        return self.max_batch * self.service_rate

    @property
    def utilization(self) -> float:
        return self.arrival_rate / self.capacity

    @property
    def root(self) -> float:
        """r in (0, 1) with μr^{K+1} - (λ+μ)r + λ = 0."""
        lam, mu, k = self.arrival_rate, self.service_rate, self.max_batch
        f = lambda r: mu * r ** (k + 1) - (lam + mu) * r + lam  # noqa: E731
        return optimize.brentq(f, 0.0, 1.0 - 1e-10, xtol=1e-16, rtol=1e-15)

    @property
    def mean_number(self) -> float:
        return self.root / (1.0 - self.root) if self.stable else math.inf

    @property
    def mean_sojourn(self) -> float:
        return self.mean_number / self.arrival_rate if self.stable else math.inf

    @property
    def mean_wait(self) -> float:
        return self.mean_sojourn - 1.0 / self.service_rate if self.stable else math.inf

    def _extra(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "root": self.root if self.stable else None}
