"""What a serving engine adds to a step's GPU time (hardware_specs.engines.EngineProfile):
CUDA-graph padding and exposed host time, on aggregate step rows (perfmodel.compiled.FIELDS).

- Padding: a step a captured graph covers runs at the next captured size s(n) >= n. In
  ``decode`` mode a pure-decode step (tokens == seqs) of n sequences runs its token ops (the
  tokens, seqs and logits columns) at s(n); in ``piecewise`` mode any step of n <= max tokens
  runs its token ops at s(n) tokens. Attention (the per-class columns) is not padded. For a
  fractional mean batch x the padding of ceil(x) is added, x + s(ceil x) - ceil x.
- Host: a step with tokens > 0 adds step_s + per_seq_s * seqs + per_token_s * tokens +
  per_collective_s * (tensor-parallel collectives of a step), plus eager_step_s when no graph
  covers it; with multi-step scheduling (k decode steps per scheduler call) a pure-decode step
  pays 1/k of it. The host terms read only the token columns, so the step-time split of
  planner.serving.sim_mixed (token, prefill and decode terms) still holds.
"""

from __future__ import annotations

import numpy as np

TOKENS, SEQS, LOGITS = 0, 1, 2


class HostCosts:
    """Padding and host time of one engine profile on one accelerator."""

    def __init__(self, profile, hardware, collectives: float = 0.0):
        self.collectives = collectives  # tensor-parallel collectives per step
        g, h = profile.graphs, profile.host
        self.mode = g.mode
        self.sizes = np.array(g.sizes(), dtype=float)
        self.max = float(g.max_size)
        self.coefs = (h.step_s, h.per_seq_s, h.per_token_s, h.eager_step_s, h.per_collective_s)
        self.multi_step = profile.multi_step
        self.gpu_scale = profile.time_scale(hardware)

    @property
    def key(self) -> tuple:
        """Everything that sets this object's times (a cache key for what is built on them)."""
        return (self.mode, tuple(self.sizes), self.coefs, self.multi_step, self.gpu_scale,
                self.collectives)  # fmt: skip

    @property
    def adds_time(self) -> bool:
        """True when the profile changes any step's time."""
        return self.mode != "none" or any(self.coefs) or self.gpu_scale != 1.0

    @staticmethod
    def pure_decode(X: np.ndarray) -> np.ndarray:
        """Rows whose every sequence adds one token (tokens == seqs)."""
        return np.abs(X[:, TOKENS] - X[:, SEQS]) < 1e-9

    def graphed(self, X: np.ndarray) -> np.ndarray:
        """Rows a captured graph covers."""
        tokens = X[:, TOKENS]
        if self.mode == "decode":
            return (tokens > 0) & self.pure_decode(X) & (X[:, SEQS] <= self.max)
        if self.mode == "piecewise":
            return (tokens > 0) & (tokens <= self.max)
        return np.zeros(len(X), dtype=bool)

    def pad(self, X: np.ndarray, graphed: np.ndarray) -> np.ndarray:
        """X with the token ops of graphed rows at their captured size."""
        if not graphed.any():
            return X
        X = X.copy()
        cols = [TOKENS, SEQS, LOGITS] if self.mode == "decode" else [TOKENS]
        n = X[graphed, TOKENS]
        up = np.ceil(n - 1e-9)
        extra = self.sizes[np.searchsorted(self.sizes, up)] - up
        for c in cols:
            X[graphed, c] += extra
        return X

    def host(self, X: np.ndarray, graphed: np.ndarray) -> np.ndarray:
        """Exposed host seconds of each row."""
        step, per_seq, per_token, eager, per_coll = self.coefs
        t = step + per_coll * self.collectives + per_seq * X[:, SEQS] + per_token * X[:, TOKENS]
        t = t + eager * ~graphed
        if self.multi_step > 1:  # one scheduler call per k pure-decode steps
            t = np.where(self.pure_decode(X), t / self.multi_step, t)
        return np.where(X[:, TOKENS] > 0, t, 0.0)
