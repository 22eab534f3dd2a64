"""Break-even rates between GPU types for one bucket, in sympy.

One bucket of λ req/s served by GPU type g alone needs ⌈λ/κ_g⌉ replicas of κ_g req/s each
(planner.mix capacity), so it costs C_g(λ) = p_g·G_g·⌈λ/κ_g⌉ $/h (p_g $/GPU-hour, G_g GPUs
per replica). The continuous relaxation C_g ≈ p_g·G_g·λ/κ_g is a line through the origin: the
type with the lower p_g·G_g/κ_g ($/h per req/s) is cheaper at every rate, and sympy.solve of
C_a = C_b finds only λ = 0 (Mélange, Griggs et al. 2024, ranks GPUs by this ratio). The
integer steps let the other type win at low rates; with s_x < s_y the slopes, the step costs
satisfy s_y·λ <= C_y and C_x < s_x·λ + p_x·G_x, so y can only be cheaper below
λ̄ = p_x·G_x/(s_y − s_x); the exact break-even points are found by walking the step edges
(multiples of κ_a and κ_b) up to λ̄.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy as sp

lam = sp.Symbol("lambda", positive=True)
price, gpus, kappa = sp.symbols("p G kappa", positive=True)
#: Cost ($/h) of serving λ req/s with one GPU type: integer replicas.
STEP_COST = price * gpus * sp.ceiling(lam / kappa)
#: Its continuous relaxation and the $/h per req/s that ranks GPU types.
RELAXED_COST = price * gpus * lam / kappa
USD_PER_RPS = price * gpus / kappa

_pa, _pb, _ka, _kb, _sa, _sb = sp.symbols("c_a c_b kappa_a kappa_b s_x s_y", positive=True)
_cx = sp.Symbol("c_x", positive=True)
#: Rate above which the type with the lower slope s_x is never beaten (c_x = p_x·G_x).
BOUND = _cx / (_sb - _sa)


def relaxed_break_even() -> list:
    """``sympy.solve`` of c_a·λ/κ_a = c_b·λ/κ_b for λ > 0: [] (the lines meet only at 0)."""
    return sp.solve(sp.Eq(_pa * lam / _ka, _pb * lam / _kb), lam)


def latex() -> dict[str, str]:
    """LaTeX of this module's closed forms (for notebooks: IPython.display.Math)."""
    return {
        "step_cost": r"C_g(\lambda) = " + sp.latex(STEP_COST),
        "relaxed_cost": r"\tilde C_g(\lambda) = " + sp.latex(RELAXED_COST),
        "usd_per_rps": r"s_g = " + sp.latex(USD_PER_RPS),
        "bound": r"\bar\lambda = " + sp.latex(BOUND),
    }


@dataclass(frozen=True)
class Offer:
    """One pool's terms for one bucket: $/h of a replica and its capacity (req/s)."""

    pool: str
    usd_per_hour: float
    capacity_rps: float

    @property
    def usd_per_rps(self) -> float:
        """p·G/κ: $/h per req/s of the continuous relaxation."""
        return self.usd_per_hour / self.capacity_rps

    def replicas(self, rate) -> np.ndarray:
        """⌈λ/κ⌉ (a relative 1e-12 slack so that λ = kκ in floating point needs k)."""
        x = np.asarray(rate, dtype=float) / self.capacity_rps
        return np.ceil(x - 1e-12 * np.maximum(x, 1.0))

    def cost(self, rate) -> float | np.ndarray:
        """$/h of carrying ``rate`` req/s with this pool alone: :data:`STEP_COST`."""
        out = self.usd_per_hour * self.replicas(rate)
        return float(out) if np.ndim(out) == 0 else out

    def cost_expr(self) -> sp.Expr:
        """:data:`STEP_COST` with this pool's numbers (λ symbolic)."""
        return sp.Float(self.usd_per_hour) * sp.ceiling(lam / sp.Float(self.capacity_rps))


def offers(problem, bucket: int | str, model: int | str = 0) -> list[Offer]:
    """The pools that can serve ``bucket`` of ``model`` in a planner.mix Problem (capacity > 0),
    with the replica price and capacity the planner uses."""
    demands = problem.demands
    d = demands[model] if isinstance(model, int) else next(x for x in demands if x.name == model)
    b = bucket if isinstance(bucket, int) else d.buckets.labels.index(bucket)
    rates = d.capacity.rate[b]
    return [
        Offer(p.name, p.usd_per_hour, float(rates[i]))
        for i, p in enumerate(problem.pools)
        if rates[i] > 0
    ]


@dataclass(frozen=True)
class BreakEven:
    """Which of two pools is cheaper for one bucket as the rate grows.

    ``intervals``: rows (lo, hi] with both step costs and the cheaper pool ('tie' when
    equal); ``points``: the rates where the cheaper pool changes; ``bound``: above it the
    lower-slope pool (``relaxed_cheaper``) is never beaten (inf when the slopes are equal:
    then the walk stops at ``max_rate``)."""

    a: Offer
    b: Offer
    relaxed_cheaper: str
    bound: float
    points: tuple[float, ...]
    intervals: pd.DataFrame

    def cheaper_at(self, rate: float) -> str:
        ca, cb = self.a.cost(rate), self.b.cost(rate)
        return "tie" if ca == cb else (self.a.pool if ca < cb else self.b.pool)

    def costs(self, rates) -> pd.DataFrame:
        """Both step costs ($/h) and the cheaper pool at each rate."""
        rates = np.atleast_1d(np.asarray(rates, dtype=float))
        return pd.DataFrame(
            {
                "rate_rps": rates,
                self.a.pool: self.a.cost(rates),
                self.b.pool: self.b.cost(rates),
                "cheaper": [self.cheaper_at(x) for x in rates],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        return self.intervals

    def to_dict(self) -> dict:
        return {
            "a": self.a.__dict__,
            "b": self.b.__dict__,
            "relaxed_cheaper": self.relaxed_cheaper,
            "bound": self.bound if math.isfinite(self.bound) else None,
            "points": list(self.points),
            "intervals": self.intervals.to_dict(orient="records"),
        }


def break_even(a: Offer, b: Offer, max_rate: float | None = None) -> BreakEven:
    """Exact break-even rates of two pools' step costs up to :data:`BOUND` (or ``max_rate``)."""
    x, y = (a, b) if a.usd_per_rps <= b.usd_per_rps else (b, a)
    gap = y.usd_per_rps - x.usd_per_rps
    bound = x.usd_per_hour / gap if gap > 0 else math.inf
    if gap > 0:
        subs = {_cx: x.usd_per_hour, _sa: x.usd_per_rps, _sb: y.usd_per_rps}
        bound = float(sp.N(BOUND.subs(subs), 30))
    top = min(bound, max_rate) if max_rate is not None else bound
    if not math.isfinite(top):
        raise ValueError("equal $/h per req/s: give max_rate to bound the walk")
    top = max(top, a.capacity_rps, b.capacity_rps)
    edges = np.unique(
        np.concatenate(
            [np.arange(1, math.floor(top / o.capacity_rps) + 2) * o.capacity_rps for o in (a, b)]
        )
    )
    edges = np.concatenate(([0.0], edges[edges <= top * (1 + 1e-12)], [math.inf]))
    mid = np.where(np.isfinite(edges[1:]), (edges[:-1] + edges[1:]) / 2, edges[:-1] + 1.0)
    ca, cb = a.cost(mid), b.cost(mid)
    winner = np.where(ca < cb, a.pool, np.where(cb < ca, b.pool, "tie"))
    winner[-1] = x.pool  # beyond the bound
    rows, points = [], []
    for i in range(len(mid)):
        if rows and rows[-1]["cheaper"] == winner[i]:
            rows[-1]["hi"] = float(edges[i + 1])
            continue
        if rows:
            points.append(float(edges[i]))
        rows.append({"lo": float(edges[i]), "hi": float(edges[i + 1]), "cheaper": str(winner[i])})
    frame = pd.DataFrame(rows)
    return BreakEven(a, b, x.pool, bound, tuple(points), frame)
