"""Iteration times for the serving simulator, in perfmodel.shape's conventions.

A step is a list of sequences, each ``q`` new tokens after ``c`` cached ones; its aggregates
(perfmodel.compiled.FIELDS order) are tokens, seqs, logits and, per attention class (prefill
class q > 1, decode class q = 1), the new tokens, attended (query, key) pairs and cached tokens
read, the last two averaged over full and sliding-window layers. ``engine.steps.time`` maps
aggregate rows to seconds.

Pure-decode iterations of n sequences differ only in their pair and read totals. When the
calibration has constant efficiencies (perfmodel.calibration.Efficiencies) the step time is a
sum of maxima of affine functions, hence convex, in those totals; ``decode_coefs(n)`` fits
``t = a + b * pairs + c * read`` on the box of reachable totals and certifies it exactly
(a convex function equal to an affine one at the four corners and the centre of a box is
affine on the whole box). Uncertified sizes fall back to rows evaluated per epoch.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from perfmodel.calibration import Efficiencies
from perfmodel.compiled import FIELDS
from perfmodel.shape import StepShape

from .engine import Engine

RTOL_CERT = 1e-9  # affine certificate: floating-point agreement only
RTOL_APPROX = 1e-4  # non-convex (measured) calibrations: midpoint deviation allowed per epoch


class StepCosts:
    """Step times of one engine: decode lines, prefill and mixed rows, explicit batches."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.steps = engine.steps
        model = engine.model
        sliding = bool(model.sliding_window and model.sliding_window_layers)
        self.share = model.sliding_window_layers / model.num_layers if sliding else 0.0
        self.window = float(model.sliding_window) if sliding else math.inf
        self.convex = isinstance(engine.steps.calibration, Efficiencies)
        self.rtol = RTOL_CERT if self.convex else RTOL_APPROX
        self.max_context = float(min(engine.max_context, engine.kv_tokens))
        self._decode: dict[int, tuple[float, float, float] | None] = {}
        self._prefill: dict[int, float] = {}
        self.time_calls = 0

    # ---- per-sequence terms (perfmodel.shape.layer_mean, scalar) -------------------------
    def seq_terms(self, q: int, c: int) -> tuple[float, float]:
        """Layer-averaged attended pairs and cached reads of q new tokens after c cached."""
        pairs = q * c + q * (q + 1) / 2
        if self.share == 0.0:
            return pairs, float(c)
        w = self.window
        n0 = min(max(w - c, 0.0), q)
        win = n0 * c + n0 * (n0 + 1) / 2 + (q - n0) * w
        s = self.share
        return (1 - s) * pairs + s * win, (1 - s) * c + s * min(c, w)

    def aggregates(self, n_dec: int, dec_pairs: float, dec_read: float, chunks=()) -> list:
        """Aggregates (FIELDS order) of ``n_dec`` decodes with the given totals plus prompt
        chunks ``(q, c, final)``; a 1-token chunk is decode class, as in
        StepShape.from_sequences."""
        tokens, seqs, logits = float(n_dec), float(n_dec), float(n_dec)
        pre = [0.0, 0.0, 0.0]
        dec = [float(n_dec), float(dec_pairs), float(dec_read)]
        for q, c, final in chunks:
            pairs, read = self.seq_terms(q, c)
            tokens, seqs, logits = tokens + q, seqs + 1, logits + (1.0 if final else 0.0)
            cls = pre if q > 1 else dec
            cls[0], cls[1], cls[2] = cls[0] + q, cls[1] + pairs, cls[2] + read
        return [tokens, seqs, logits, *pre, *dec]

    def row(self, n_dec: int, dec_pairs: float, dec_read: float, chunks=()) -> np.ndarray:
        """The aggregates as one step row."""
        return np.array(self.aggregates(n_dec, dec_pairs, dec_read, chunks))

    def times(self, rows) -> np.ndarray:
        """engine.steps.time on aggregate rows (counted)."""
        self.time_calls += 1
        return self.steps.time(rows)

    # ---- decode -----------------------------------------------------------------------------
    def decode_coefs(self, n: int) -> tuple[float, float, float] | None:
        """(a, b, c) with t = a + b*pairs + c*read for every n-sequence decode step, or None
        when the affine form cannot be certified (non-convex calibration or a bound switch)."""
        if n in self._decode:
            return self._decode[n]
        coefs = self._fit_decode(n) if self.convex else None
        self._decode[n] = coefs
        return coefs

    def _fit_decode(self, n: int) -> tuple[float, float, float] | None:
        """Fit and certify on the reachable set: reads u in [0, n*C] and pairs - reads v in
        [(1 - share)*n, n] (each sequence attends its cached tokens plus itself, except on
        window layers once past the window), a centrally symmetric parallelogram (a segment
        without windows); corners and centre are evaluated in one call."""
        u_hi, v_lo, v_hi = n * self.max_context, (1 - self.share) * n, float(n)
        pts = [(0.0, v_lo), (u_hi, v_lo), (0.0, v_hi), (u_hi, v_hi), (u_hi / 2, (v_lo + v_hi) / 2)]
        t = self.times(np.array([self.row(n, u + v, u) for u, v in pts]))
        alpha = (t[1] - t[0]) / u_hi
        beta = (t[2] - t[0]) / (v_hi - v_lo) if v_hi > v_lo else 0.0
        a = t[0] - beta * v_lo
        ok = all(abs(a + alpha * u + beta * v - x) <= self.rtol * x for (u, v), x in zip(pts, t))
        # t = a + alpha*read + beta*(pairs - read)
        return (float(a), float(beta), float(alpha - beta)) if ok else None

    def decode_line(self, n: int, p1: float, r1: float, dp: float, dr: float, k: int):
        """(tau1, delta, k): iteration j in 1..k of an n-sequence decode epoch whose pair and
        read totals start at (p1, r1) and grow by (dp, dr) per iteration takes
        tau1 + (j - 1) * delta; k may be shortened until that line is exact (certified)."""
        coefs = self.decode_coefs(n)
        if coefs is not None:
            a, b, c = coefs
            return a + b * p1 + c * r1, b * dp + c * dr, k

        def rows(js):
            return np.array([self.row(n, p1 + (j - 1) * dp, r1 + (j - 1) * dr) for j in js])

        return self.line(rows, k)

    def line(self, rows, k: int):
        """(tau1, delta, k) from rows(js) of an epoch whose aggregates are affine in the
        iteration index j: the times at j = 1, mid, k must lie on a line (exact for convex
        calibrations); otherwise k is halved."""
        while True:
            if k <= 2:
                t = self.times(rows(range(1, k + 1)))
                return float(t[0]), float(t[-1] - t[0]), k
            mid = (k + 1) // 2
            t = self.times(rows([1, mid, k]))
            delta = (t[2] - t[0]) / (k - 1)
            if abs(t[0] + (mid - 1) * delta - t[1]) <= self.rtol * t[1]:
                return float(t[0]), float(delta), k
            k = mid

    # ---- prefill and mixed ----------------------------------------------------------------
    def prefetch_prefill(self, lengths) -> None:
        """Cache the one-prompt prefill time of every distinct length (one batched call)."""
        todo = sorted({int(x) for x in lengths} - self._prefill.keys())
        if todo:
            t = self.times(np.array([self.row(0, 0, 0, [(q, 0, True)]) for q in todo]))
            self._prefill.update(zip(todo, map(float, t)))

    def prefill(self, lengths: list[int]) -> float:
        """Time of one iteration prefilling the given prompts from scratch."""
        if len(lengths) == 1:
            q = lengths[0]
            if q not in self._prefill:
                self.prefetch_prefill([q])
            return self._prefill[q]
        return self.direct(0, 0.0, 0.0, [(q, 0, True) for q in lengths])

    def direct(self, n_dec: int, dec_pairs: float, dec_read: float, chunks) -> float:
        """Time of one iteration with decodes (totals given) and prompt chunks, evaluated."""
        return float(self.times(self.row(n_dec, dec_pairs, dec_read, chunks)[None, :])[0])

    def mixed(self, n_dec: int, dec_pairs: float, dec_read: float, chunks) -> float:
        """Time of one iteration with decodes and prompt chunks (sim_mixed shortcuts when
        they apply, else evaluated)."""
        return self.split.mixed(n_dec, dec_pairs, dec_read, chunks)

    def chunk_line(self, n: int, q: int, c0: int, p1, r1, dp, dr, k: int):
        """(tau1, delta, k) of an epoch of iterations holding n decodes (totals (p1, r1)
        growing by (dp, dr)) and one non-final chunk of q tokens after c0 + (j - 1) * q."""
        return self.split.chunk_line(n, q, c0, p1, r1, dp, dr, k)

    @cached_property
    def split(self):
        from .sim_mixed import SplitCosts

        return SplitCosts(self)

    def explicit(self, new, cached, final) -> float:
        """Reference time of one iteration from its sequences via StepShape.from_sequences."""
        s = StepShape.from_sequences(new, cached, self.engine.model, final)
        row = np.column_stack([getattr(s, f) for f in FIELDS])
        return float(self.times(row)[0])
