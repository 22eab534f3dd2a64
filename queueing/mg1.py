"""M/G/1 FCFS: Poisson arrivals, one server, general service law.

* Mean wait (Pollaczek–Khinchine): W_q = λE[S²] / (2(1-ρ)), ρ = λE[S].
* Second moment of the wait (Takács): E[W²] = 2W_q² + λE[S³] / (3(1-ρ)).
* Wait transform (Pollaczek–Khinchine): W*(s) = (1-ρ)s / (s - λ(1 - B*(s))).
* Wait distribution: M/M/1 exact, P(W > t) = ρ e^{-(μ-λ)t}; M/D/1 exact by Erlang's formula
  P(W <= t) = (1-ρ) Σ_{k=0}^{⌊t/D⌋} [λ(kD-t)]^k / k! · e^{-λ(kD-t)} evaluated with mpmath at
  a precision that covers its cancellation (``erlang_renewal``); any other law by Euler
  inversion of W*(s)/s (Abate & Whitt 2006).
  Sources: Kleinrock, Queueing Systems Vol. 1 (1975), §5.6–5.7; Erlang (1909); Takács (1962).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import mpmath
import numpy as np
from scipy import optimize

from queueing.errors import positive, probability
from queueing.inversion import euler_inverse
from queueing.laws import ArrayLike, Deterministic, Gamma, ServiceLaw
from queueing.results import QueueModel


def _is_exponential(law: ServiceLaw) -> bool:
    return isinstance(law, Gamma) and law.shape == 1.0


def renewal_cdf(rate: float, law: ServiceLaw, t: ArrayLike, integrated: bool = False) -> np.ndarray:
    """R(t) = Σ_n ρ^n F_e^{*n}(t) (Beneš series; F_e the equilibrium law of the service).

    Transform R̂(s) = 1/(s - λ(1 - B*(s))); finite for every ρ (for ρ > 1 the Bromwich
    contour is shifted right of the real root s* of s = λ(1 - B*(s))). For ρ < 1 the M/G/1
    wait cdf is (1-ρ)·R(t). With ``integrated`` it returns ∫_0^t R(x) dx (transform R̂/s).
    """
    if isinstance(law, Deterministic):
        fn = erlang_renewal_integral if integrated else erlang_renewal
        return np.array([fn(x, rate, law.value) for x in np.atleast_1d(t)], dtype=float)
    rho = rate * law.mean
    shift = _real_root(rate, law) + 1.0 / law.mean if rho > 1 else 0.0
    t = np.atleast_1d(np.asarray(t, dtype=float))
    out = np.zeros_like(t) if integrated else np.ones_like(t)
    pos = t > 0
    power = 2 if integrated else 1
    if np.any(pos):
        out[pos] = euler_inverse(
            lambda s: 1.0 / (s ** (power - 1) * (s - rate * (1.0 - law.lst(s)))), t[pos], shift
        )
    return out


def _real_root(rate: float, law: ServiceLaw) -> float:
    """Largest real s > 0 with s = λ(1 - B*(s)) (exists when ρ > 1)."""
    g = lambda s: s - rate * (1.0 - float(np.real(law.lst(s))))  # noqa: E731
    hi = rate
    return optimize.brentq(g, 1e-12 * hi, hi) if g(1e-12 * hi) < 0 else 0.0


def erlang_renewal(t: float, rate: float, d: float) -> float:
    """R(t) = Σ_{k=0}^{⌊t/D⌋} [λ(kD-t)]^k / k! · e^{-λ(kD-t)} for deterministic service D.

    Termwise inversion of 1/(s - λ(1 - e^{-sD})) (Erlang 1909); the alternating sum cancels
    catastrophically in floating point, so it runs in mpmath with ~2λt/ln10 + 30 digits.
    """
    if t <= 0:
        return 1.0
    n = math.floor(t / d)
    dps = int(2 * rate * t / math.log(10)) + 30
    with mpmath.workdps(dps):
        lam, tt, dd = mpmath.mpf(rate), mpmath.mpf(t), mpmath.mpf(d)
        total = mpmath.fsum(
            (lam * (k * dd - tt)) ** k / mpmath.factorial(k) * mpmath.exp(-lam * (k * dd - tt))
            for k in range(n + 1)
        )
        return float(total)


def erlang_renewal_integral(t: float, rate: float, d: float) -> float:
    """∫_0^t R(x) dx for deterministic service: Gauss–Legendre on each [kD, (k+1)D]
    (R is a polynomial times an exponential there, so 24 nodes are exact to rounding)."""
    edges = np.append(np.arange(0.0, t, d), t)
    x, w = np.polynomial.legendre.leggauss(24)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        nodes = (lo + hi) / 2 + (hi - lo) / 2 * x
        total += (hi - lo) / 2 * sum(wi * erlang_renewal(xi, rate, d) for xi, wi in zip(nodes, w))
    return total


def _bracket_quantile(cdf, p: float, start: float) -> float:
    """Root of cdf(t) = p, bracketed by doubling from ``start``."""
    hi = max(start, 1e-300)
    while cdf(hi) < p:
        hi *= 2.0
    return optimize.brentq(lambda x: cdf(x) - p, 0.0, hi, xtol=1e-14 * hi, rtol=1e-13)


class MG1(QueueModel):
    """M/G/1 FCFS queue with ``arrival_rate`` λ (1/s) and ``service`` law (s)."""

    model = "M/G/1"

    def __init__(self, arrival_rate: float, service: ServiceLaw) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service = service

    @property
    def utilization(self) -> float:
        return self.arrival_rate * self.service.mean

    @property
    def mean_wait(self) -> float:
        """Pollaczek–Khinchine: λE[S²]/(2(1-ρ))."""
        if not self.stable:
            return math.inf
        return self.arrival_rate * self.service.moment(2) / (2.0 * (1.0 - self.utilization))

    @property
    def wait_moment2(self) -> float:
        """Takács: E[W²] = 2W_q² + λE[S³]/(3(1-ρ))."""
        if not self.stable:
            return math.inf
        tail = self.arrival_rate * self.service.moment(3) / (3.0 * (1.0 - self.utilization))
        return 2.0 * self.mean_wait**2 + tail

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.service.mean

    def wait_lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        """Pollaczek–Khinchine transform W*(s) = (1-ρ)s / (s - λ(1 - B*(s)))."""
        s = np.asarray(s)
        lam = self.arrival_rate
        return (1.0 - self.utilization) * s / (s - lam * (1.0 - self.service.lst(s)))

    def wait_cdf(self, t: ArrayLike) -> float | np.ndarray:
        """P(W <= t) for the wait in queue (exact for M/M/1 and M/D/1, else inversion)."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        if not self.stable:
            out = np.zeros_like(t_arr)
        elif _is_exponential(self.service):
            mu, lam = 1.0 / self.service.mean, self.arrival_rate
            out = 1.0 - self.utilization * np.exp(-(mu - lam) * np.maximum(t_arr, 0.0))
        else:
            grid = np.maximum(t_arr, 0.0)
            out = (1.0 - self.utilization) * renewal_cdf(self.arrival_rate, self.service, grid)
        out = np.where(t_arr < 0, 0.0, np.clip(out, 0.0, 1.0))
        return float(out[0]) if np.ndim(t) == 0 else out

    def wait_quantile(self, p: float) -> float:
        """Smallest t with P(W <= t) >= p; 0 when p <= 1-ρ; inf when overloaded."""
        p = probability("p", p)
        if not self.stable:
            return math.inf
        rho = self.utilization
        if p <= 1.0 - rho:
            return 0.0
        if _is_exponential(self.service):
            return math.log(rho / (1.0 - p)) / (1.0 / self.service.mean - self.arrival_rate)
        start = max(self.mean_wait, self.service.mean)
        return _bracket_quantile(lambda x: float(self.wait_cdf(x)), p, start)

    def sojourn_cdf(self, t: ArrayLike) -> float | np.ndarray:
        """P(T <= t), T = W + S, by Euler inversion of W*(s)B*(s)/s (M/M/1: Exp(μ-λ))."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        if not self.stable:
            out = np.zeros_like(t_arr)
        elif _is_exponential(self.service):
            out = 1.0 - np.exp(-(1.0 / self.service.mean - self.arrival_rate) * t_arr)
        else:
            pos = np.maximum(t_arr, 1e-300)
            out = euler_inverse(lambda s: self.wait_lst(s) * self.service.lst(s) / s, pos)
        out = np.where(t_arr <= 0, 0.0, np.clip(out, 0.0, 1.0))
        return float(out[0]) if np.ndim(t) == 0 else out

    def sojourn_quantile(self, p: float) -> float:
        """Smallest t with P(T <= t) >= p (inf when overloaded)."""
        p = probability("p", p)
        if not self.stable:
            return math.inf
        return _bracket_quantile(lambda x: float(self.sojourn_cdf(x)), p, self.mean_sojourn)

    def _extra(self) -> dict[str, Any]:
        quantiles = {f"wait_p{q}": self.wait_quantile(q / 100) for q in (50, 90, 99)}
        return {
            "service": self.service.to_dict(),
            "wait_moment2": self.wait_moment2,
            **quantiles,
        }
