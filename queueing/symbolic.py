"""Closed forms of the M/G/1 and max-token clipping in sympy, and the optimal limit.

* Pollaczek–Khinchine: W = λE[S²]/(2(1−ρ)), ρ = λE[S] (Kleinrock 1975, §5.7); M/M/1 gives
  W = ρ/(μ−λ), M/D/1 W = ρ/(2μ(1−ρ)).
* Clipping (Yang, Jiao & Xu 2024, arXiv:2407.05347): S = a·min(N, L) + c with clipped token
  moments M_k(L) = E[min(N,L)^k]; E[S] = aM₁ + c, E[S²] = a²M₂ + 2acM₁ + c². Closed forms:
  exponential N (mean m) M₁ = m(1 − e^{−L/m}), M₂ = 2m(m − (L + m)e^{−L/m}) (sympy.integrate);
  geometric N on {1, 2, …} by sympy.summation (exact at integer L).
* Optimal limit: maximise J(L) = v·M₁(L) − w·D(L), v the value of a delivered token, w the
  price of a second of delay D (wait or sojourn). For a continuous law M₁' = P(N>L) and
  M₂' = 2L·P(N>L), so J'(L) = P(N>L)·g(L) with
  g = v − w[a·[sojourn] + λa(aL + c)/(1−ρ) + λ²aE[S²]/(2(1−ρ)²)]; g mixes L and e^{−L/m}
  and has no closed-form root, so the exact optimum is solved with ``sympy.nsolve`` on a
  bracket. To first order in λ, g is linear in L and ``sympy.solve`` gives the law-free
  light-traffic limit L₀ = (v − w·a·[sojourn])/(wλa²) − c/a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from queueing.errors import QueueingInputError, nonnegative, positive
from queueing.laws import Gamma, Geometric, ServiceLaw
from queueing.results import json_safe

lam, mu = sp.symbols("lambda mu", positive=True)
ES, ES2 = sp.symbols("ES ES2", positive=True)  # E[S], E[S²]
rho = sp.Symbol("rho", positive=True)
_NAMES = {ES: r"\mathbb{E}[S]", ES2: r"\mathbb{E}[S^2]"}
L, m = sp.symbols("L m", positive=True)
q = sp.Symbol("q", positive=True)  # geometric: P(N = n) = (1 − q) q^{n−1}, q = 1 − 1/m
a, c0 = sp.symbols("a c", nonnegative=True)
v, w = sp.symbols("v w", positive=True)
_x = sp.Symbol("x", positive=True)
_n = sp.Symbol("n", integer=True, positive=True)

#: Pollaczek–Khinchine mean wait in queue.
PK_WAIT = lam * ES2 / (2 * (1 - lam * ES))
#: Textbook special cases (ρ = λ/μ).
MM1_WAIT = (lam / mu) / (mu - lam)
MD1_WAIT = (lam / mu) / (2 * mu * (1 - lam / mu))

_M1, _M2, _TAIL = sp.Function("M_1")(L), sp.Function("M_2")(L), sp.Function(r"\bar{F}")(L)
LAWS = ("exponential", "geometric")


def pk_wait_expr(service: str | None = None) -> sp.Expr:
    """PK with the service moments substituted: 'exponential' (mean 1/μ), 'deterministic'
    (1/μ); None keeps E[S], E[S²] symbolic."""
    if service is None:
        return PK_WAIT
    moments = {"exponential": (1 / mu, 2 / mu**2), "deterministic": (1 / mu, 1 / mu**2)}
    if service not in moments:
        raise QueueingInputError(f"service must be one of {sorted(moments)}; got {service!r}")
    s1, s2 = moments[service]
    return sp.simplify(PK_WAIT.subs({ES: s1, ES2: s2}))


def pk_wait(arrival_rate: float, service: ServiceLaw) -> float:
    """:data:`PK_WAIT` evaluated with ``service``'s moments (inf when ρ >= 1)."""
    lam_ = positive("arrival_rate", arrival_rate)
    s1, s2 = service.moment(1), service.moment(2)
    if lam_ * s1 >= 1:
        return math.inf
    return float(sp.N(PK_WAIT.subs({lam: lam_, ES: s1, ES2: s2}), 30))


# ---- clipped moments ---------------------------------------------------------------------
@cache
def clipped_token_moment(law: str, order: int) -> sp.Expr:
    """E[min(N, L)^order] for tokens N of ``law``: exponential (mean m) by sympy.integrate of
    x^k e^{−x/m}/m on [0, L] plus L^k e^{−L/m}; geometric (P(N=n) = (1−q) q^{n−1}, mean
    m = 1/(1−q)) by sympy.summation over 1 <= n <= L plus L^k q^L (exact at integer L)."""
    if law == "exponential":
        body = sp.integrate(_x**order * sp.exp(-_x / m) / m, (_x, 0, L))
        return sp.expand(body + L**order * sp.exp(-L / m))
    if law == "geometric":
        total = sp.piecewise_fold(sp.summation(_n**order * (1 - q) * q ** (_n - 1), (_n, 1, L)))
        if isinstance(total, sp.Piecewise):  # drop the q = 1 branch (m = 1: N = 1 always)
            total = next(e for e, cond in total.args if cond != sp.Eq(q, 1))
        return sp.factor(sp.cancel(total + L**order * q**L))
    raise QueueingInputError(f"law must be one of {LAWS}; got {law!r}")


def clipped_service_moments(law: str | None = None) -> tuple[sp.Expr, sp.Expr]:
    """(E[S], E[S²]) of S = a·min(N, L) + c; law None keeps M₁(L), M₂(L) as functions."""
    m1, m2 = (_M1, _M2) if law is None else (clipped_token_moment(law, k) for k in (1, 2))
    return a * m1 + c0, a**2 * m2 + 2 * a * c0 * m1 + c0**2


def clipped_wait_expr(law: str | None = None) -> sp.Expr:
    """PK mean wait of the clipped service: λE[S²]/(2(1 − λE[S]))."""
    s1, s2 = clipped_service_moments(law)
    return PK_WAIT.subs({ES: s1, ES2: s2}, simultaneous=True)


def objective_expr(law: str | None = None, delay: str = "sojourn") -> sp.Expr:
    """J(L) = v·E[min(N,L)] − w·D(L), D the mean wait or sojourn (wait + E[S])."""
    _check_delay(delay)
    s1, _ = clipped_service_moments(law)
    m1 = _M1 if law is None else clipped_token_moment(law, 1)
    d = clipped_wait_expr(law) + (s1 if delay == "sojourn" else 0)
    return v * m1 - w * d


@cache
def clipping_condition(delay: str = "sojourn") -> sp.Expr:
    """g(L) with J'(L) = P(N>L)·g(L) for any continuous token law (M₁' = P(N>L),
    M₂' = 2L·P(N>L)); the optimum solves g(L) = 0."""
    dj = sp.diff(objective_expr(None, delay), L)
    dj = dj.subs({sp.Derivative(_M1, L): _TAIL, sp.Derivative(_M2, L): 2 * L * _TAIL})
    return sp.expand(dj / _TAIL)


def clipping_condition_readable(delay: str = "sojourn") -> sp.Expr:
    """g(L) written with ρ(L) = λE[S] and E[S²] (tests check it equals
    :func:`clipping_condition`): v − w[a·[sojourn] + λa(aL + c)/(1−ρ) + λ²aE[S²]/(2(1−ρ)²)]."""
    _check_delay(delay)
    soj = a if delay == "sojourn" else 0
    return v - w * (
        soj + lam * a * (a * L + c0) / (1 - rho) + lam**2 * a * ES2 / (2 * (1 - rho) ** 2)
    )


@cache
def light_traffic_limit_expr(delay: str = "sojourn") -> sp.Expr:
    """``sympy.solve`` of g(L) = 0 to first order in λ: (v − w·a·[sojourn])/(wλa²) − c/a."""
    g = clipping_condition(delay)
    first = sp.series(g, lam, 0, 2).removeO()
    (sol,) = sp.solve(first, L)
    return sp.simplify(sol)


def tex(expr: sp.Expr) -> str:
    """LaTeX with E[S], E[S²] spelled as expectations."""
    return sp.latex(expr, symbol_names=_NAMES)


def latex() -> dict[str, str]:
    """LaTeX of this module's closed forms (for notebooks: IPython.display.Math)."""
    s1, s2 = clipped_service_moments()
    pk = lam * ES2 / sp.Mul(2, 1 - rho, evaluate=False)
    return {
        "pk_wait": r"W_q = " + tex(pk) + r",\quad \rho = \lambda\,\mathbb{E}[S]",
        "mm1_wait": r"W_q^{M/M/1} = " + tex(rho / (mu - lam)) + r",\quad \rho = \lambda/\mu",
        "md1_wait": r"W_q^{M/D/1} = " + tex(rho / sp.Mul(2 * mu, 1 - rho, evaluate=False)),
        "clipped_service": r"\mathbb{E}[S] = " + tex(s1) + r",\quad \mathbb{E}[S^2] = " + tex(s2),
        "exponential_m1": r"M_1(L) = " + sp.latex(clipped_token_moment("exponential", 1)),
        "exponential_m2": r"M_2(L) = " + sp.latex(clipped_token_moment("exponential", 2)),
        "objective": r"J(L) = " + tex(objective_expr()),
        "condition": r"g(L) = " + tex(clipping_condition_readable()) + " = 0",
        "light_traffic": r"L_0 = " + tex(light_traffic_limit_expr()),
    }


# ---- numbers -----------------------------------------------------------------------------
def _check_delay(delay: str) -> None:
    if delay not in ("sojourn", "wait"):
        raise QueueingInputError(f"delay must be 'sojourn' or 'wait'; got {delay!r}")


def law_name(tokens: ServiceLaw) -> str:
    """'exponential' or 'geometric' (the token laws with closed-form clipped moments)."""
    if isinstance(tokens, Geometric):
        return "geometric"
    if isinstance(tokens, Gamma) and tokens.shape == 1.0:
        return "exponential"
    raise QueueingInputError(
        f"closed forms exist for Exponential and Geometric token laws; got {tokens!r} "
        "(use MaxTokenQueue.optimal_limit for others)"
    )


def _params(arrival_rate, tokens, seconds_per_token, overhead) -> dict:
    return {
        lam: positive("arrival_rate", arrival_rate),
        m: float(tokens.mean),
        q: 1.0 - 1.0 / float(tokens.mean) if isinstance(tokens, Geometric) else 0.0,
        a: positive("seconds_per_token", seconds_per_token),
        c0: nonnegative("overhead", overhead),
    }


def clipped_wait(
    arrival_rate: float, tokens: ServiceLaw, seconds_per_token: float, overhead: float, limit
) -> float:
    """:func:`clipped_wait_expr` evaluated (inf when λE[S] >= 1)."""
    law = law_name(tokens)
    sub = _params(arrival_rate, tokens, seconds_per_token, overhead) | {L: float(limit)}
    s1 = clipped_service_moments(law)[0]
    if float(sp.N(lam * s1, 30).subs(sub)) >= 1:
        return math.inf
    return float(sp.N(clipped_wait_expr(law).subs(sub), 30))


@dataclass(frozen=True)
class ClosedFormOptimum:
    """The limit maximising v·E[min(N,L)] − w·D(L) (inf: never clip), with its values."""

    law: str
    limit: float
    objective: float
    mean_wait: float
    mean_sojourn: float
    clipped_fraction: float
    light_traffic_limit: float
    stable_limit: float  # largest limit with ρ < 1 (inf when ρ < 1 unclipped)
    method: str

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


def stable_limit(arrival_rate, tokens, seconds_per_token, overhead=0.0) -> float:
    """L with λ(a·M₁(L) + c) = 1 (sympy.solve); inf when even L = ∞ is stable, 0 when the
    overhead alone overloads."""
    law = law_name(tokens)
    sub = _params(arrival_rate, tokens, seconds_per_token, overhead)
    if sub[lam] * (sub[a] * tokens.mean + sub[c0]) < 1:
        return math.inf
    if sub[lam] * sub[c0] >= 1:
        return 0.0
    s1 = clipped_service_moments(law)[0]
    roots = [complex(sp.N(s.subs(sub), 30)) for s in sp.solve(sp.Eq(lam * s1, 1), L)]
    real = [z.real for z in roots if abs(z.imag) < 1e-12 and z.real > 0]
    return min(real) if real else math.inf  # ρ(∞) = 1 exactly: every finite L is stable


def optimal_limit(
    arrival_rate: float,
    tokens: ServiceLaw,
    seconds_per_token: float,
    overhead: float = 0.0,
    value_per_token: float = 1.0,
    weight: float = 1.0,
    delay: str = "sojourn",
) -> ClosedFormOptimum:
    """argmax_L v·E[min(N,L)] − w·D(L) for Exponential or Geometric tokens: the root of
    dJ/dL found by ``sympy.nsolve`` on a bracket where it changes sign (geometric: the
    better of the integers around it). Inside ρ(L) < 1 only."""
    _check_delay(delay)
    law = law_name(tokens)
    sub = _params(arrival_rate, tokens, seconds_per_token, overhead)
    sub |= {v: positive("value_per_token", value_per_token), w: positive("weight", weight)}
    J = objective_expr(law, delay).subs(sub)
    dJ = sp.diff(J, L)
    l_max = stable_limit(arrival_rate, tokens, seconds_per_token, overhead)
    if l_max == 0.0:
        raise QueueingInputError("the per-request overhead alone overloads the server")
    l_min = 1.0 if law == "geometric" else 1e-6 * tokens.mean
    top = l_max * (1 - 1e-9) if math.isfinite(l_max) else 200.0 * tokens.mean
    grid = np.geomspace(l_min, top, 400)
    f = sp.lambdify(L, dJ, "mpmath")
    signs = np.array([float(f(x)) > 0 for x in grid])
    light = float(sp.N(light_traffic_limit_expr(delay).subs(sub), 30))
    if signs.all():
        limit, method = math.inf, "dJ/dL > 0 everywhere: never clip"
    elif not signs.any():
        limit, method = l_min, "dJ/dL < 0 everywhere: smallest limit"
    else:
        i = int(np.flatnonzero(signs[:-1] & ~signs[1:])[0]) if signs[0] else 0
        root = float(sp.nsolve(dJ, L, (grid[i], grid[i + 1]), solver="anderson", prec=30))
        limit, method = root, "sympy.nsolve of dJ/dL = 0"
    if law == "geometric" and math.isfinite(limit):
        cands = [x for x in (math.floor(limit), math.ceil(limit)) if 1 <= x < l_max]
        limit = float(max(cands, key=lambda x: float(sp.N(J.subs(L, x), 30))))
        method += ", best integer neighbour"
    if math.isinf(limit):
        obj = float(sp.N(J.subs(L, sp.Float(1e300)), 30))
        wait = clipped_wait(arrival_rate, tokens, seconds_per_token, overhead, 1e300)
        frac = 0.0
    else:
        obj = float(sp.N(J.subs(L, limit), 30))
        wait = clipped_wait(arrival_rate, tokens, seconds_per_token, overhead, limit)
        frac = float(1.0 - tokens.cdf(limit))
    s1 = float(sp.N(clipped_service_moments(law)[0].subs(sub | {L: min(limit, 1e300)}), 30))
    return ClosedFormOptimum(law, limit, obj, wait, wait + s1, frac, light, l_max, method)
