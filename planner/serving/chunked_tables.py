"""The iteration-time table of chunked prefill and its fluid mean level (planner.serving.chunked):
iteration times at every decode batch and chunk fill, the fluid model's capacity (where full
chunks stop keeping up) and decode batch, the starting point of a path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .analytic import decode_root, n_grid
from .chunked_walk import fluid_times
from .engine import Engine
from .prepared import Prepared

# chunk fills, dense where a few prompt tokens beside the decodes turn the GEMMs from
# memory- to compute-bound (a convex bend that linear steps of 1/16 read too slow)
FILL = np.linspace(0.0, 1.0, 17) ** 2


@dataclass(frozen=True)
class ChunkTables:
    """Iteration time T[n, f] at n = 0..top decodes of mean context ``ctx`` plus a chunk of
    f*q(n) prompt tokens, and dT[n, f], its derivative in the total decode context."""

    T: np.ndarray
    dT: np.ndarray
    q: np.ndarray
    ctx: float

    @property
    def top(self) -> int:
        return self.T.shape[0] - 1

    def at(self, n: np.ndarray, fill, table: np.ndarray | None = None) -> np.ndarray:
        """T (or another table of its shape) at integer decode batches n and fills (linear
        in the fill)."""
        f = np.clip(fill, 0, 1)
        j = np.minimum((np.sqrt(f) * (FILL.size - 1)).astype(np.int64), FILL.size - 2)
        v = (f - FILL[j]) / (FILL[j + 1] - FILL[j])
        flat = (self.T if table is None else table).ravel()
        base = n * FILL.size + j
        return (1 - v) * flat[base] + v * flat[base + 1]

    def chunk(self, N) -> np.ndarray:
        return np.interp(N, np.arange(self.top + 1), self.q)


def tables(engine: Engine, p: Prepared, top: int) -> ChunkTables:
    """Mixed iteration times at n = 0..top decodes (mean context c) and chunk fills; a chunk
    continues a prompt of the token-weighted mean length (cached half of the rest). dT is
    the secant over contexts c..1.5c per token of total decode context (attention reads and
    FLOPs are linear in it)."""
    budget, ctx = engine.scheduler.token_budget, p.decode_context
    n = np.arange(top + 1, dtype=float)
    q = np.maximum(budget - n, 1)
    k = q[:, None] * FILL[None, :]
    k[0, 0] = 1.0  # no iteration holds nothing: fill 0 without decodes is one prompt token
    i2 = p.mean(p.I**2) / p.mean(p.I)
    rows = engine.mixed_rows(
        n[:, None, None],
        ctx * np.array([1.0, 1.5]),
        k[..., None],
        np.maximum(i2 / 2 - k / 2, 0)[..., None],
        np.minimum(k / p.mean(p.I), 1)[..., None],
    )
    times = engine.steps.time(rows.reshape(-1, rows.shape[-1])).reshape(n.size, FILL.size, 2)
    slope = (times[..., 1] - times[..., 0]) / (np.maximum(n, 1)[:, None] * ctx / 2)
    return ChunkTables(times[..., 0], slope, q, ctx)


# ---- fluid mean level: capacity and the starting point ------------------------------------
def fluid_time(tab: ChunkTables, rate, mean_input: float, N) -> np.ndarray:
    """Fluid iteration time at N decodes: each iteration carries the prompt tokens that
    arrived during the one before, k = λE[I]T capped at q: T = t(N, k/q) (a contraction
    where stable). inf where even full chunks cannot keep up (λE[I]·t(N, q) >= q). Rates
    along the first axis, N along the second (scalars are squeezed)."""
    loads = np.atleast_1d(np.asarray(rate, dtype=float) * mean_input).ravel()
    T = fluid_times(tab.T.ravel(), tab.q, loads, np.asarray(N, dtype=float).ravel())
    return T.reshape(np.broadcast_shapes(np.shape(rate), np.shape(N)))


def fluid_batch(tab: ChunkTables, p: Prepared, rate: float, top: float) -> float:
    """Decode batch N = λE[D]T(N) of the fluid model (inf when it overflows)."""
    ed = p.mean(p.D)
    if ed <= 0:
        return 0.0
    grid = n_grid(top)
    return decode_root(grid, rate * ed * fluid_time(tab, rate, p.mean(p.I), grid))


def fluid_capacity(tab: ChunkTables, p: Prepared, top: float, points: int = 32) -> float:
    """Largest rate at which the fluid model has a decode batch: some N on the grid with
    λE[D]·T(N) <= N and full chunks keeping up there (λE[I]·t(N, q) < q(N), so
    λ < max_N q(N)/(E[I]·t(N, q)) bounds it; between table rows the ratio of two linear
    functions is monotone, so its maximum is on a row). A vectorized grid search over rates
    below that bound, refined four times (relative resolution points^-4; stability is
    monotone in λ)."""
    grid, ei, ed = n_grid(top), p.mean(p.I), p.mean(p.D)
    lo, hi = 0.0, float(np.max(tab.q / (ei * tab.T[:, -1])))
    for _ in range(4):
        rates = np.linspace(lo, hi, points + 1)[1:]
        T = fluid_time(tab, rates[:, None], ei, grid[None, :])
        ok = np.any(rates[:, None] * ed * T <= grid, axis=1) & np.any(np.isfinite(T), axis=1)
        k = int(np.argmin(ok)) if not ok.all() else points
        lo, hi = (rates[k - 1] if k else lo), (rates[k] if k < points else hi)
    return lo
