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


_MPMATH_MAX_RATE_TIME = 300.0  # Erlang's sum in mpmath up to λt = 300 (~290 digits)


def renewal_cdf(rate: float, law: ServiceLaw, t: ArrayLike, integrated: bool = False) -> np.ndarray:
    """R(t) = Σ_n ρ^n F_e^{*n}(t) (Beneš series; F_e the equilibrium law of the service).

    Transform R̂(s) = 1/(s - λ(1 - B*(s))); finite for every ρ (for ρ > 1 the Bromwich
    contour is shifted right of the real root s* of s = λ(1 - B*(s))). For ρ < 1 the M/G/1
    wait cdf is (1-ρ)·R(t). With ``integrated`` it returns ∫_0^t R(x) dx (transform R̂/s).
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return np.array([math.exp(v) for v in _log_renewal(rate, law, t, integrated)])


def renewal_log_and_ratio(rate: float, law: ServiceLaw, t: float) -> tuple[float, float]:
    """(log R(t), ∫_0^t R / R(t)), finite even when R(t) overflows a float (ρ >> 1)."""
    log_r = _log_renewal(rate, law, np.array([t]), False)[0]
    log_int = _log_renewal(rate, law, np.array([t]), True)[0]
    return log_r, math.exp(log_int - log_r)


def _log_renewal(rate: float, law: ServiceLaw, t: np.ndarray, integrated: bool) -> np.ndarray:
    """log R(t) (or log ∫_0^t R): Erlang's exact sum for deterministic service when
    λt <= 300, otherwise Euler inversion with the e^{ct} factor kept in log space."""
    if isinstance(law, Deterministic) and rate * float(np.max(t)) <= _MPMATH_MAX_RATE_TIME:
        fn = erlang_renewal_integral_mp if integrated else erlang_renewal_mp
        return np.array([float(mpmath.log(fn(x, rate, law.value))) for x in t])
    # contour just right of the pole s* (ρ > 1) so that e^{-ct}R(t) stays of order one
    shift = _real_root(rate, law) + 1.0 / float(np.max(t)) if rate * law.mean > 1 else 0.0
    power = 2 if integrated else 1
    out = np.full(t.shape, -math.inf if integrated else 0.0)
    pos = t > 0
    if np.any(pos):
        scaled = euler_inverse(
            lambda s: 1.0 / (s ** (power - 1) * (s - rate * (1.0 - law.lst(s)))),
            t[pos],
            shift,
            scaled=True,
        )
        out[pos] = shift * t[pos] + np.log(np.maximum(scaled, 1e-300))
    return out


def _real_root(rate: float, law: ServiceLaw) -> float:
    """Largest real s > 0 with s = λ(1 - B*(s)) (exists when ρ > 1)."""
    g = lambda s: s - rate * (1.0 - float(np.real(law.lst(s))))  # noqa: E731
    hi = rate
    return optimize.brentq(g, 1e-12 * hi, hi) if g(1e-12 * hi) < 0 else 0.0


def _erlang_terms(t: float, rate: float, d: float) -> tuple[int, int]:
    """(mpmath digits covering the cancellation, last term index ⌊t/D⌋) for Erlang's sums."""
    return int(2 * rate * t / math.log(10)) + 30, math.floor(t / d)


def erlang_renewal_mp(t: float, rate: float, d: float) -> mpmath.mpf:
    """R(t) = Σ_{k=0}^{⌊t/D⌋} [λ(kD-t)]^k / k! · e^{-λ(kD-t)} for deterministic service D.

    Termwise inversion of 1/(s - λ(1 - e^{-sD})) (Erlang 1909); the alternating sum cancels
    catastrophically in floating point, so it runs in mpmath with ~2λt/ln10 + 30 digits.
    """
    if t <= 0:
        return mpmath.mpf(1)
    dps, n = _erlang_terms(t, rate, d)
    with mpmath.workdps(dps):
        u = [mpmath.mpf(rate) * (mpmath.mpf(t) - k * mpmath.mpf(d)) for k in range(n + 1)]
        return +mpmath.fsum(
            (-uk) ** k / mpmath.factorial(k) * mpmath.exp(uk) for k, uk in enumerate(u)
        )


def erlang_renewal_integral_mp(t: float, rate: float, d: float) -> mpmath.mpf:
    """∫_0^t R(x) dx = (1/λ) Σ_{k<=t/D} [e^{u_k} Σ_{j<=k} (-u_k)^j/j! - 1], u_k = λ(t - kD)
    (termwise integration of Erlang's sum; integration by parts of y^k e^y)."""
    if t <= 0:
        return mpmath.mpf(0)
    dps, n = _erlang_terms(t, rate, d)
    with mpmath.workdps(dps):
        total = mpmath.mpf(0)
        for k in range(n + 1):
            u = mpmath.mpf(rate) * (mpmath.mpf(t) - k * mpmath.mpf(d))
            term, partial = mpmath.mpf(1), mpmath.mpf(1)
            for j in range(1, k + 1):
                term *= -u / j
                partial += term
            total += mpmath.exp(u) * partial - 1
        return +(total / rate)


def erlang_renewal(t: float, rate: float, d: float) -> float:
    """Erlang's R(t) as a float (see :func:`erlang_renewal_mp`)."""
    return float(erlang_renewal_mp(t, rate, d))


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
