"""Service-time laws in the style of scipy.stats (SI units: seconds).

Every law has ``moment(k)``, ``cdf``, ``quantile`` (ppf), the Laplace–Stieltjes transform
``lst(s) = E[exp(-s X)]`` (complex ``s`` allowed, Re s >= 0) and ``sample(n, rng)``.
Laws compose: ``law.clip(limit)`` (censoring: the mass above ``limit`` moves onto it),
``law.affine(a, c)`` (the law of ``a·X + c``), ``law.max_of(n)`` (the longest of ``n`` iid
draws, e.g. the longest request in a batch) and :class:`Mixture`.

Quantities without a closed form (the lognormal transform, partial moments of a maximum) use
a quadrature of the law: Gauss–Legendre nodes in probability space ``u`` mapped through the
quantile function, ``E[g(X)] = ∫_0^1 g(Q(u)) du``, on pieces that crowd the tail
(relative error ~1e-10 for smooth ``g``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from scipy import special, stats

from queueing.errors import (
    QueueingInputError,
    as_float,
    positive,
    positive_int,
    samples,
    weights,
)

ArrayLike = float | np.ndarray | Sequence[float]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_U_EDGES = np.concatenate(
    ([0.0], 10.0 ** -np.arange(11, 1, -1), [0.1, 0.5, 0.9], 1.0 - 10.0 ** -np.arange(2, 12), [1.0])
)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_p(p: ArrayLike) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise QueueingInputError(f"p must be probabilities in [0, 1]; got {p!r}")
    return arr


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise QueueingInputError(f"k must be an integer >= 0; got {k!r}")
    return int(k)


def lst_of_nodes(s: complex | np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_i w_i exp(-s x_i), with underflowing terms set to 0 (no inf·0 NaNs)."""
    z = np.multiply.outer(np.asarray(s), x)
    far = z.real > 700.0
    terms = np.exp(-np.where(far, 0.0, z))
    return np.where(far, 0.0, terms) @ w


def _scalar(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def quantile_nodes(quantile, u_max: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature ``(x, w)`` with ``Σ w g(x) ≈ ∫_0^{u_max} g(Q(u)) du``.

    Gauss–Legendre on the pieces [0, 1e-11, …, .01, .1, .5, .9, .99, …, 1-1e-11, 1] of
    probability space (both tails crowded).
    """
    edges = _U_EDGES[u_max > _U_EDGES]
    edges = np.append(edges, u_max)
    lo, hi = edges[:-1, None], edges[1:, None]
    u = (lo + hi) / 2 + (hi - lo) / 2 * _GL_X[None, :]
    w = (hi - lo) / 2 * _GL_W[None, :]
    return np.asarray(quantile(u.ravel()), dtype=float), w.ravel()


class ServiceLaw(ABC):
    """Base class: a non-negative random duration (seconds)."""

    name = "law"

    # --- required -------------------------------------------------------------------------
    @abstractmethod
    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        """P(X <= t)."""

    @abstractmethod
    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        """Generalised inverse of the cdf (scipy's ``ppf``)."""

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` independent draws."""

    @abstractmethod
    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature ``(x, w)`` of the sub-law on ``X <= upper`` (weights sum to F(upper))."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor parameters (JSON-safe)."""

    # --- defaults built on the quadrature ---------------------------------------------------
    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature ``(x, w)`` of the whole law."""
        return self.nodes_below(math.inf)

    def partial_moment(self, k: int, upper: float) -> float:
        """``E[X^k ; X <= upper]``."""
        x, w = self.nodes_below(upper)
        return float(np.sum(w * x ** _check_k(k)))

    def moment(self, k: int) -> float:
        """Raw moment ``E[X^k]``."""
        return self.partial_moment(k, math.inf)

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        """Laplace–Stieltjes transform ``E[exp(-s X)]``."""
        return lst_of_nodes(s, *self.nodes())

    # --- derived ----------------------------------------------------------------------------
    @property
    def mean(self) -> float:
        return self.moment(1)

    @property
    def var(self) -> float:
        return max(self.moment(2) - self.mean**2, 0.0)

    @property
    def scv(self) -> float:
        """Squared coefficient of variation Var/mean²."""
        return self.var / self.mean**2 if self.mean > 0 else 0.0

    def sf(self, t: ArrayLike) -> float | np.ndarray:
        """P(X > t)."""
        return 1.0 - np.asarray(self.cdf(t))

    def clip(self, limit: float) -> ServiceLaw:
        """Law of ``min(X, limit)``: the mass above ``limit`` moves onto it."""
        return Clipped(self, limit)

    def affine(self, scale: float, shift: float = 0.0) -> ServiceLaw:
        """Law of ``scale·X + shift`` (e.g. seconds per token · tokens + overhead)."""
        return Affine(self, scale, shift)

    def max_of(self, n: int) -> ServiceLaw:
        """Law of the maximum of ``n`` independent copies."""
        return MaxOf(self, n)

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.name, **self.params(), "mean": self.mean, "scv": self.scv}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class _Continuous(ServiceLaw):
    """A law with a continuous, strictly increasing quantile function."""

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        u_max = 1.0 if math.isinf(upper) else float(self.cdf(upper))
        if u_max <= 0:
            return np.zeros(0), np.zeros(0)
        return quantile_nodes(self.quantile, u_max)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return np.asarray(self.quantile(_rng(rng).random(n)))


class Deterministic(ServiceLaw):
    """Constant duration ``value`` (M/D/1: Erlang 1909)."""

    name = "deterministic"

    def __init__(self, value: float) -> None:
        self.value = positive("value", value)

    def params(self) -> dict[str, Any]:
        return {"value": self.value}

    def moment(self, k: int) -> float:
        return self.value ** _check_k(k)

    def partial_moment(self, k: int, upper: float) -> float:
        return self.moment(k) if self.value <= upper else 0.0

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        return _scalar(np.where(np.asarray(t, dtype=float) >= self.value, 1.0, 0.0))

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(np.full(np.shape(_check_p(p)), self.value))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        return np.exp(-np.asarray(s) * self.value)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return np.full(n, self.value)

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        keep = self.value <= upper
        return np.array([self.value] * keep), np.array([1.0] * keep)


class Gamma(_Continuous):
    """Gamma law with ``shape`` k and ``mean`` (scale θ = mean/k); E[X^j] = θ^j Γ(k+j)/Γ(k)."""

    name = "gamma"

    def __init__(self, shape: float, mean: float) -> None:
        self.shape = positive("shape", shape)
        self._mean = positive("mean", mean)
        self.scale = self._mean / self.shape

    @cached_property
    def _dist(self) -> Any:
        return stats.gamma(self.shape, scale=self.scale)

    def params(self) -> dict[str, Any]:
        return {"shape": self.shape, "mean": self._mean}

    def partial_moment(self, k: int, upper: float) -> float:
        k = _check_k(k)
        full = self.scale**k * math.exp(
            special.gammaln(self.shape + k) - special.gammaln(self.shape)
        )
        if math.isinf(upper):
            return full
        return full * float(special.gammainc(self.shape + k, max(upper, 0.0) / self.scale))

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        return _scalar(self._dist.cdf(np.asarray(t, dtype=float)))

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(self._dist.ppf(_check_p(p)))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        return (1.0 + np.asarray(s) * self.scale) ** (-self.shape)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return _rng(rng).gamma(self.shape, self.scale, n)


class Exponential(Gamma):
    """Exponential law with ``mean`` 1/μ (M/M/1)."""

    name = "exponential"

    def __init__(self, mean: float) -> None:
        super().__init__(1.0, mean)

    @classmethod
    def from_rate(cls, rate: float) -> Exponential:
        return cls(1.0 / positive("rate", rate))

    @property
    def rate(self) -> float:
        return 1.0 / self._mean

    def params(self) -> dict[str, Any]:
        return {"mean": self._mean}

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return _rng(rng).exponential(self._mean, n)


class LogNormal(_Continuous):
    """Lognormal law: log X ~ Normal(mu, sigma²); E[X^k] = exp(k·mu + k²σ²/2).

    The transform has no closed form: ``lst`` uses the quantile quadrature.
    """

    name = "lognormal"

    def __init__(self, mu: float, sigma: float) -> None:
        self.mu = as_float("mu", mu)
        self.sigma = positive("sigma", sigma)

    @classmethod
    def from_mean_cv(cls, mean: float, cv: float) -> LogNormal:
        """Lognormal with the given mean and coefficient of variation."""
        mean, cv = positive("mean", mean), positive("cv", cv)
        sigma2 = math.log1p(cv * cv)
        return cls(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def params(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma}

    def partial_moment(self, k: int, upper: float) -> float:
        k = _check_k(k)
        full = math.exp(k * self.mu + k * k * self.sigma**2 / 2)
        if math.isinf(upper):
            return full
        if upper <= 0:
            return 0.0
        z = (math.log(upper) - self.mu - k * self.sigma**2) / self.sigma
        return full * float(special.ndtr(z))

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(t, 0.0)) - self.mu) / self.sigma
        return _scalar(special.ndtr(z))

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(np.exp(self.mu + self.sigma * special.ndtri(_check_p(p))))

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return _rng(rng).lognormal(self.mu, self.sigma, n)


class Empirical(ServiceLaw):
    """The empirical law of observed ``samples`` (e.g. measured times or token counts)."""

    name = "empirical"

    def __init__(self, samples_: ArrayLike) -> None:
        data = np.sort(samples("samples", samples_))
        self.values, counts = np.unique(data, return_counts=True)
        self.probs = counts / data.size
        self._sorted = data

    def params(self) -> dict[str, Any]:
        return {"n": int(self._sorted.size)}

    def partial_moment(self, k: int, upper: float) -> float:
        keep = self.values <= upper
        return float(np.sum(self.probs[keep] * self.values[keep] ** _check_k(k)))

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        idx = np.searchsorted(self._sorted, np.asarray(t, dtype=float), side="right")
        return _scalar(idx / self._sorted.size)

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(np.quantile(self._sorted, _check_p(p), method="inverted_cdf"))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        return lst_of_nodes(s, self.values, self.probs)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return _rng(rng).choice(self.values, size=n, p=self.probs)

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        keep = self.values <= upper
        return self.values[keep], self.probs[keep]


class Geometric(ServiceLaw):
    """Geometric count on {1, 2, …} with ``mean`` m: P(N = n) = p(1-p)^{n-1}, p = 1/m.

    E[N] = 1/p, E[N²] = (2-p)/p², E[N³] = (6 - 6p + p²)/p³; LST p e^{-s} / (1 - (1-p)e^{-s}).
    The memoryless token count (iterations of a request under continuous batching).
    """

    name = "geometric"

    def __init__(self, mean: float) -> None:
        self._mean = positive("mean", mean)
        if self._mean < 1:
            raise QueueingInputError(f"mean must be a finite number >= 1; got {mean!r}")
        self.p = 1.0 / self._mean

    def params(self) -> dict[str, Any]:
        return {"mean": self._mean}

    def moment(self, k: int) -> float:
        p = self.p
        exact = {0: 1.0, 1: 1 / p, 2: (2 - p) / p**2, 3: (6 - 6 * p + p * p) / p**3}
        return exact[k] if k in exact else super().moment(k)

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        n = np.floor(np.maximum(np.asarray(t, dtype=float), 0.0))
        return _scalar(-np.expm1(n * np.log1p(-self.p)) if self.p < 1 else (n >= 1) * 1.0)

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        u = _check_p(p)
        if self.p >= 1:
            return _scalar(np.ones_like(u))
        with np.errstate(divide="ignore"):
            n = np.ceil(np.log1p(-u) / np.log1p(-self.p) - 1e-12)
        return _scalar(np.maximum(n, 1.0))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        e = np.exp(-np.asarray(s))
        return self.p * e / (1.0 - (1.0 - self.p) * e)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return _rng(rng).geometric(self.p, n).astype(float)

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        top = float(self.quantile(1 - 1e-16)) if self.p < 1 else 1.0
        n = np.arange(1.0, min(top, upper) + 1)
        return n, self.p * (1.0 - self.p) ** (n - 1)


class Mixture(ServiceLaw):
    """Finite mixture Σ wᵢ·Lawᵢ (e.g. short and long requests)."""

    name = "mixture"

    def __init__(self, components: Sequence[ServiceLaw], weights_: ArrayLike) -> None:
        comps = list(components)
        if not comps or not all(isinstance(c, ServiceLaw) for c in comps):
            raise QueueingInputError(
                f"components must be a non-empty list of ServiceLaw; got {components!r}"
            )
        self.components = comps
        self.weights = weights("weights", weights_, len(comps))

    def params(self) -> dict[str, Any]:
        return {
            "components": [c.to_dict() for c in self.components],
            "weights": self.weights.tolist(),
        }

    def partial_moment(self, k: int, upper: float) -> float:
        return sum(w * c.partial_moment(k, upper) for c, w in zip(self.components, self.weights))

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        return sum(w * np.asarray(c.cdf(t)) for c, w in zip(self.components, self.weights))

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        p = _check_p(p)
        qs = np.array([np.asarray(c.quantile(p), dtype=float) for c in self.components])
        return _scalar(_bisect_quantile(self.cdf, p, qs.min(axis=0), qs.max(axis=0)))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        return sum(w * c.lst(s) for c, w in zip(self.components, self.weights))

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        gen = _rng(rng)
        which = gen.choice(len(self.components), size=n, p=self.weights)
        out = np.empty(n)
        for i, comp in enumerate(self.components):
            mask = which == i
            out[mask] = comp.sample(int(mask.sum()), gen)
        return out

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        parts = [c.nodes_below(upper) for c in self.components]
        x = np.concatenate([q[0] for q in parts])
        w = np.concatenate([q[1] * wt for q, wt in zip(parts, self.weights)])
        return x, w


def _bisect_quantile(cdf, p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Smallest t in [lo, hi] with cdf(t) >= p, by vectorised bisection."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(200):
        mid = (lo + hi) / 2
        ok = np.asarray(cdf(mid)) >= p
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(hi, 1e-300)):
            break
    return hi


class Clipped(ServiceLaw):
    """``min(X, limit)`` (max-token clipping): E[min(X,m)^k] = E[X^k; X<=m] + m^k P(X>m)."""

    name = "clipped"

    def __init__(self, base: ServiceLaw, limit: float) -> None:
        self.base = base
        self.limit = positive("limit", limit)

    @cached_property
    def _tail(self) -> float:
        return float(1.0 - self.base.cdf(self.limit))

    def params(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "limit": self.limit}

    def partial_moment(self, k: int, upper: float) -> float:
        if upper < self.limit:
            return self.base.partial_moment(k, upper)
        return self.base.partial_moment(k, self.limit) + self.limit ** _check_k(k) * self._tail

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        t = np.asarray(t, dtype=float)
        return _scalar(np.where(t >= self.limit, 1.0, self.base.cdf(t)))

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(np.minimum(self.base.quantile(p), self.limit))

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        s = np.asarray(s)
        body = lst_of_nodes(s, *self.base.nodes_below(self.limit))
        return body + np.exp(-s * self.limit) * self._tail

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return np.minimum(self.base.sample(n, rng), self.limit)

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        if upper < self.limit:
            return self.base.nodes_below(upper)
        x, w = self.base.nodes_below(self.limit)
        return np.append(x, self.limit), np.append(w, self._tail)


class Affine(ServiceLaw):
    """``scale·X + shift`` with scale > 0, shift >= 0 (service affine in output tokens)."""

    name = "affine"

    def __init__(self, base: ServiceLaw, scale: float, shift: float = 0.0) -> None:
        self.base = base
        self.scale = positive("scale", scale)
        self.shift = float(shift)
        if not math.isfinite(self.shift) or self.shift < 0:
            raise QueueingInputError(f"shift must be a finite number >= 0; got {shift!r}")

    def params(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "scale": self.scale, "shift": self.shift}

    def partial_moment(self, k: int, upper: float) -> float:
        k = _check_k(k)
        u = (upper - self.shift) / self.scale
        return sum(
            math.comb(k, j) * self.scale**j * self.shift ** (k - j) * self.base.partial_moment(j, u)
            for j in range(k + 1)
        )

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        return self.base.cdf((np.asarray(t, dtype=float) - self.shift) / self.scale)

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return _scalar(self.scale * np.asarray(self.base.quantile(p)) + self.shift)

    def lst(self, s: complex | np.ndarray) -> complex | np.ndarray:
        s = np.asarray(s)
        return np.exp(-s * self.shift) * self.base.lst(s * self.scale)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return self.scale * self.base.sample(n, rng) + self.shift

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        x, w = self.base.nodes_below((upper - self.shift) / self.scale)
        return self.scale * x + self.shift, w


class MaxOf(ServiceLaw):
    """Maximum of ``n`` iid copies: cdf F(t)^n, quantile Q(p^(1/n)) (order statistics)."""

    name = "max_of"

    def __init__(self, base: ServiceLaw, n: int) -> None:
        self.base = base
        self.n = positive_int("n", n)

    def params(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "n": self.n}

    def cdf(self, t: ArrayLike) -> float | np.ndarray:
        return _scalar(np.asarray(self.base.cdf(t)) ** self.n)

    def quantile(self, p: ArrayLike) -> float | np.ndarray:
        return self.base.quantile(_check_p(p) ** (1.0 / self.n))

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        u = _rng(rng).random(n) ** (1.0 / self.n)
        return np.asarray(self.base.quantile(u), dtype=float)

    def nodes_below(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        x, w = self.base.nodes_below(upper)
        if isinstance(self.base, Empirical | Deterministic | Geometric):
            # atoms: P(max = x_i) = F(x_i)^n - F(x_i-)^n
            cum = np.cumsum(w)
            return x, cum**self.n - np.concatenate(([0.0], cum[:-1])) ** self.n
        u_max = float(self.base.cdf(upper)) ** self.n if math.isfinite(upper) else 1.0
        return quantile_nodes(self.quantile, u_max) if u_max > 0 else (x[:0], w[:0])
