"""Multi-server FCFS queues: Erlang B/C, M/M/c, M/G/c approximations, exact M/D/c.

* Erlang B by the stable recursion B_0 = 1, B_k = A·B_{k-1} / (k + A·B_{k-1});
  Erlang C = c·B_c / (c - A(1 - B_c)) (Erlang 1917; Kleinrock Vol. 1 §3.5).
* M/M/c: W_q = C(c, A)/(cμ - λ), P(W > t) = C(c, A)·e^{-(cμ-λ)t}.
* M/G/c approximations: Allen–Cunneen W_q ≈ W_q(M/M/c)·(c_a² + c_s²)/2 (Allen 1978);
  Kingman/Sakasegawa W_q ≈ ρ^{√(2(c+1))-1} / (c(1-ρ)) · (c_a² + c_s²)/2 · E[S]
  (Sakasegawa 1977; Kingman 1961 for c = 1). Poisson arrivals: c_a² = 1.
* M/D/c exact (Crommelin 1932; Tijms, A First Course in Stochastic Models, 2003):
  the number in system at times kD is a Markov chain Q' = max(Q - c, 0) + Poisson(λD); its
  stationary law p is also the time-average law, so L_q = Σ (n-c)⁺ p_n, W_q = L_q/λ, and for
  (k-1)D <= x < kD: P(W <= x) = Σ_{j=0}^{kc-1} P(Q <= c+j)·Pois(kc-1-j; λ(kD - x)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, sparse, stats
from scipy.sparse import linalg as splinalg

from queueing.errors import QueueingInputError, nonnegative, positive, positive_int, probability
from queueing.laws import ArrayLike, ServiceLaw
from queueing.results import QueueModel


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/G/c/c with offered load A = λE[S] (Erlang B)."""
    c, a = positive_int("servers", servers), nonnegative("offered_load", offered_load)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability of waiting in M/M/c (Erlang C); 1.0 when A >= c (overloaded)."""
    c, a = positive_int("servers", servers), nonnegative("offered_load", offered_load)
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


class MMc(QueueModel):
    """M/M/c FCFS with ``arrival_rate`` λ, ``service_rate`` μ per server and c ``servers``."""

    model = "M/M/c"

    def __init__(self, arrival_rate: float, service_rate: float, servers: int) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service_rate = positive("service_rate", service_rate)
        self.servers = positive_int("servers", servers)

    @property
    def offered_load(self) -> float:
        return self.arrival_rate / self.service_rate

    @property
    def utilization(self) -> float:
        return self.offered_load / self.servers

    @property
    def prob_wait(self) -> float:
        return erlang_c(self.servers, self.offered_load)

    @property
    def _decay(self) -> float:
        return self.servers * self.service_rate - self.arrival_rate

    @property
    def mean_wait(self) -> float:
        return self.prob_wait / self._decay if self.stable else math.inf

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + 1.0 / self.service_rate

    def wait_cdf(self, t: ArrayLike) -> float | np.ndarray:
        """P(W <= t) = 1 - C·e^{-(cμ-λ)t}."""
        t = np.asarray(t, dtype=float)
        if not self.stable:
            return np.zeros_like(t) if t.ndim else 0.0
        out = np.where(t < 0, 0.0, 1.0 - self.prob_wait * np.exp(-self._decay * np.maximum(t, 0)))
        return float(out) if out.ndim == 0 else out

    def wait_quantile(self, p: float) -> float:
        p = probability("p", p)
        if not self.stable:
            return math.inf
        c = self.prob_wait
        return 0.0 if p <= 1.0 - c else math.log(c / (1.0 - p)) / self._decay

    def _extra(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "prob_wait": self.prob_wait,
            "wait_p99": self.wait_quantile(0.99),
        }


class MGc(QueueModel):
    """M/G/c FCFS, approximate mean wait: ``method`` "allen_cunneen" or "kingman"."""

    model = "M/G/c"
    methods = ("allen_cunneen", "kingman")

    def __init__(
        self, arrival_rate: float, service: ServiceLaw, servers: int, method: str = "allen_cunneen"
    ) -> None:
        if method not in self.methods:
            raise QueueingInputError(f"method must be one of {self.methods}; got {method!r}")
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service = service
        self.servers = positive_int("servers", servers)
        self.method = method

    @property
    def utilization(self) -> float:
        return self.arrival_rate * self.service.mean / self.servers

    @property
    def mean_wait(self) -> float:
        if not self.stable:
            return math.inf
        rho, c, es = self.utilization, self.servers, self.service.mean
        variability = (1.0 + self.service.scv) / 2.0
        if self.method == "kingman":
            return rho ** (math.sqrt(2.0 * (c + 1)) - 1.0) / (c * (1.0 - rho)) * variability * es
        mmc = MMc(self.arrival_rate, 1.0 / es, c)
        return mmc.mean_wait * variability

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.service.mean

    def _extra(self) -> dict[str, Any]:
        return {"servers": self.servers, "method": self.method}


class MDc(QueueModel):
    """Exact M/D/c FCFS with deterministic ``service_time`` D (Crommelin's embedded chain)."""

    model = "M/D/c"

    def __init__(self, arrival_rate: float, service_time: float, servers: int) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service_time = positive("service_time", service_time)
        self.servers = positive_int("servers", servers)
        self._p = self._stationary() if self.stable else None

    @property
    def utilization(self) -> float:
        return self.arrival_rate * self.service_time / self.servers

    def _stationary(self) -> np.ndarray:
        """Stationary law of Q' = max(Q - c, 0) + Poisson(λD), truncated where negligible."""
        c, m = self.servers, self.arrival_rate * self.service_time
        lq = self.arrival_rate * MMc(self.arrival_rate, 1.0 / self.service_time, c).mean_wait
        size = int(c + m + 20 * (lq + math.sqrt(m))) + 50
        return grow_until_negligible(
            lambda n: stationary_skip_free(n, c, stats.poisson(m).pmf(np.arange(n))), size
        )

    @property
    def mean_wait(self) -> float:
        if not self.stable:
            return math.inf
        n = np.arange(self._p.size)
        return float(np.sum(np.maximum(n - self.servers, 0) * self._p)) / self.arrival_rate

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.service_time

    def wait_cdf(self, x: float) -> float:
        """P(W <= x) by Crommelin's formula."""
        if not self.stable:
            return 0.0
        if x < 0:
            return 0.0
        d, c = self.service_time, self.servers
        k = math.floor(x / d) + 1
        j = np.arange(k * c)
        cum = np.cumsum(self._p)[np.minimum(j + c, self._p.size - 1)]
        return float(
            np.sum(cum * stats.poisson(self.arrival_rate * (k * d - x)).pmf(k * c - 1 - j))
        )

    def wait_quantile(self, p: float) -> float:
        p = probability("p", p)
        if not self.stable:
            return math.inf
        if self.wait_cdf(0.0) >= p:
            return 0.0
        hi = max(self.mean_wait, self.service_time)
        while self.wait_cdf(hi) < p:
            hi *= 2
        return optimize.brentq(lambda x: self.wait_cdf(x) - p, 0.0, hi, xtol=1e-12)

    def _extra(self) -> dict[str, Any]:
        return {"servers": self.servers, "wait_p99": self.wait_quantile(0.99)}


def stationary_skip_free(size: int, c: int, arrivals: np.ndarray) -> np.ndarray:
    """Stationary law of Q' = max(Q - c, 0) + A on {0..size-1} (A's pmf ``arrivals``).

    Sparse LU on (Pᵀ - I) with the normalisation replacing one equation; mass pushed past
    the truncation is folded into the last state.
    """
    tail = 1.0 - np.cumsum(arrivals)
    support = int(np.argmax(tail < 1e-16)) + 1 if np.any(tail < 1e-16) else arrivals.size
    pmf = arrivals[:support]
    rows, cols, vals = [], [], []
    for q in range(size):
        base = max(q - c, 0)
        probs = pmf[: size - base].copy()
        probs[-1] += max(0.0, 1.0 - probs.sum())
        rows.append(np.full(probs.size, q))
        cols.append(base + np.arange(probs.size))
        vals.append(probs)
    return solve_stationary(size, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals))


def solve_stationary(size: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """π P = π, Σπ = 1 for a sparse stochastic matrix given as (row, col, value) triplets."""
    p = sparse.csr_matrix((vals, (rows, cols)), shape=(size, size))
    a = (p.T - sparse.identity(size)).tocsc()
    rest = splinalg.spsolve(a[1:, 1:], -a[1:, 0].toarray().ravel())
    pi = np.maximum(np.concatenate(([1.0], np.atleast_1d(rest))), 0.0)
    return pi / pi.sum()


def grow_until_negligible(solve, size: int, tol: float = 1e-10) -> np.ndarray:
    """Call ``solve(size)`` with doubling sizes until the last 10% of states hold < tol
    (or the tail stops shrinking: the rounding floor of the sparse solve)."""
    previous = math.inf
    for _ in range(10):
        pi = solve(size)
        tail = pi[int(0.9 * size) :].sum()
        if tail < tol or tail >= previous / 2:
            return pi
        previous, size = tail, size * 2
    return pi
