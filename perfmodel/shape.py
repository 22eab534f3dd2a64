"""StepShape: the aggregates of one engine step that the operator catalog needs.

A step is a set of sequences, each with q new (query) tokens after c cached tokens: decode is
q = 1, a prefill q = prompt length and c = 0, a chunked prefill a chunk after earlier context.
Sequences with q > 1 are costed as prefill-class attention, q = 1 as decode-class. Every field is
a numpy array over evaluation points, so one code path serves a single step and a grid of 10^5
homogeneous steps.

Attended (query, key) pairs of one sequence, causal, with window W keys (W = inf without one):
    pairs = sum_{i=1..q} min(c + i, W) = n0*c + n0(n0+1)/2 + (q - n0)*W,  n0 = clip(W - c, 0, q).
Cached KV read once per sequence and layer: min(c, W) tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import PerfModelError


def attended_pairs(q, c, window: float):
    """Causal (query, key) pairs for q new tokens after c cached ones, keys capped at window."""
    q, c = np.asarray(q, dtype=float), np.asarray(c, dtype=float)
    n0 = np.clip(window - c, 0, q) if np.isfinite(window) else q
    capped = (q - n0) * window if np.isfinite(window) else 0.0
    return n0 * c + n0 * (n0 + 1) / 2 + capped


@dataclass(frozen=True)
class StepShape:
    """Per-step totals (arrays over points): tokens, sequences, lm_head rows, and for each
    attention class (pre = q > 1, dec = q = 1) the new tokens, the attended pairs and the
    cached tokens read; pairs/cached are averaged over layers (full vs sliding-window)."""

    tokens: np.ndarray
    seqs: np.ndarray
    logits: np.ndarray
    pre_tokens: np.ndarray
    pre_pairs: np.ndarray
    pre_cached: np.ndarray
    dec_tokens: np.ndarray
    dec_pairs: np.ndarray
    dec_cached: np.ndarray

    @property
    def size(self) -> int:
        return self.tokens.size

    def scaled(self, factor: float) -> StepShape:
        """The shape of one of ``1/factor`` equal micro-batches (every total times factor)."""
        return StepShape(*(getattr(self, f.name) * factor for f in fields(self)))

    @classmethod
    def from_sequences(cls, new, cached, model, final=None) -> StepShape:
        """Shape of one step holding the given sequences (1-D arrays of equal length).
        ``final`` marks sequences whose last new token produces logits (default: all)."""
        new = np.atleast_1d(np.asarray(new, dtype=float))
        cached = np.atleast_1d(np.asarray(cached, dtype=float))
        _check_sizes(new, cached)
        final = np.ones_like(new) if final is None else np.asarray(final, dtype=float)
        pre = new > 1
        pairs, read = layer_mean(model, new, cached)
        return cls(
            tokens=np.array([new.sum()]),
            seqs=np.array([float(new.size)]),
            logits=np.array([final.sum()]),
            pre_tokens=np.array([new[pre].sum()]),
            pre_pairs=np.array([pairs[pre].sum()]),
            pre_cached=np.array([read[pre].sum()]),
            dec_tokens=np.array([new[~pre].sum()]),
            dec_pairs=np.array([pairs[~pre].sum()]),
            dec_cached=np.array([read[~pre].sum()]),
        )

    @classmethod
    def from_grid(cls, batch, new, cached, model) -> StepShape:
        """Shapes of homogeneous steps: ``batch`` sequences each with ``new`` tokens after
        ``cached`` ones (arrays broadcast together; one point per element)."""
        batch, new, cached = np.broadcast_arrays(
            *(np.asarray(x, dtype=float).ravel() for x in (batch, new, cached))
        )
        _check_sizes(new, cached, batch)
        pre = new > 1
        pairs, read = layer_mean(model, new, cached)
        zero = np.zeros_like(new)
        return cls(
            tokens=batch * new,
            seqs=batch.copy(),
            logits=batch.copy(),
            pre_tokens=np.where(pre, batch * new, zero),
            pre_pairs=np.where(pre, batch * pairs, zero),
            pre_cached=np.where(pre, batch * read, zero),
            dec_tokens=np.where(pre, zero, batch * new),
            dec_pairs=np.where(pre, zero, batch * pairs),
            dec_cached=np.where(pre, zero, batch * read),
        )


def layer_mean(model, new, cached):
    """Attended pairs and cached reads per sequence, averaged over the model's layers."""
    pairs = attended_pairs(new, cached, np.inf)
    read = cached.copy()
    if model.sliding_window and model.sliding_window_layers:
        share = model.sliding_window_layers / model.num_layers
        w = float(model.sliding_window)
        pairs = (1 - share) * pairs + share * attended_pairs(new, cached, w)
        read = (1 - share) * read + share * np.minimum(cached, w)
    return pairs, read


def _check_sizes(new, cached, batch=None) -> None:
    if new.size == 0:
        raise PerfModelError("batch is empty; give at least one (new_tokens, context_tokens) pair")
    if not np.all(np.isfinite(new)) or np.any(new < 1):
        raise PerfModelError("new_tokens must be >= 1 for every sequence (decode is 1)")
    if not np.all(np.isfinite(cached)) or np.any(cached < 0):
        raise PerfModelError("context_tokens must be >= 0 for every sequence")
    if batch is not None and (not np.all(np.isfinite(batch)) or np.any(batch <= 0)):
        raise PerfModelError("batch must be > 0 at every point (a mean batch may be fractional)")
