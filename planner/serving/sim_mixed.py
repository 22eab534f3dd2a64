"""Iterations with prompt chunks without a step-model call where possible.

The operator catalog's ops read disjoint groups of a step's aggregate columns: the token ops
(tokens, seqs, logits), prefill-class attention (pre_*) and decode-class attention (dec_*).
A step's time then splits exactly into three terms,

    t(X) = T_tok(tokens, seqs, logits) + T_pre(pre_tokens, pre_pairs, pre_cached)
           + T_dec(dec_tokens, dec_pairs, dec_cached),

each the time of the row holding only its own columns. The split is checked on random rows
when first needed; where it fails (e.g. MLA), every such iteration is evaluated directly.
With constant-efficiency calibrations (convex times):
- T_tok is tabulated on its integer arguments (blocks of 64 token counts);
- T_dec of n decodes is a + b*pairs + c*reads, fitted and certified per n as in sim_costs;
- T_pre of any set of chunks is evaluated in plain Python on their summed pre_* aggregates
  (StepTimeModel.scalar: the few ops those columns touch);
- within a chunk epoch, T_pre of one chunk of q tokens after c cached is convex piecewise
  affine in c; its affine pieces are found from grids of c (three collinear points of a
  convex function certify the segment between the outer two) and kept per q.
Iterations with 1-token chunks (decode class) and measured calibrations are evaluated
directly.
"""

from __future__ import annotations

import numpy as np

from perfmodel.shape import layer_mean

RTOL_SPLIT = 1e-11
GRID = 33
TOK_BLOCK = 64


class SplitCosts:
    """Per-term memo tables of one StepCosts."""

    def __init__(self, costs):
        self.costs = costs
        self._tok: dict[tuple[int, int, int], np.ndarray] = {}
        self._pieces: dict[int, list[tuple[int, int, float, float]]] = {}
        self._dec: dict[int, tuple[float, float, float] | None] = {}
        self.ok = costs.convex and self._verify()
        self.pre = costs.steps.scalar((3, 4, 5)) if self.ok else None

    # ---- the three terms ----------------------------------------------------------------
    def pre_rows(self, q: int, cached: np.ndarray) -> np.ndarray:
        """Rows of one q-token chunk after each of ``cached`` (perfmodel.shape.layer_mean)."""
        c = np.asarray(cached, dtype=float)
        pairs, reads = layer_mean(self.costs.engine.model, np.full_like(c, q), c)
        rows = np.zeros((c.size, 9))
        rows[:, 3], rows[:, 4], rows[:, 5] = q, pairs, reads
        return rows

    def tok(self, tokens: int, seqs: int, logits: int) -> float:
        """T_tok, evaluated in blocks of 64 token counts per (seqs, logits)."""
        key = (seqs, logits, tokens // TOK_BLOCK)
        if key not in self._tok:
            lo = key[2] * TOK_BLOCK
            rows = np.zeros((TOK_BLOCK, 9))
            rows[:, 0], rows[:, 1], rows[:, 2] = np.arange(lo, lo + TOK_BLOCK), seqs, logits
            self._tok[key] = self.costs.times(rows)
        return float(self._tok[key][tokens % TOK_BLOCK])

    def dec(self, n: int, pairs: float, reads: float) -> float | None:
        """T_dec of n decodes with the given totals (None: not certified)."""
        if n == 0:
            return 0.0
        if n not in self._dec:
            coefs = self.costs.decode_coefs(n)
            self._dec[n] = None if coefs is None else (coefs[0] - self.tok(n, n, n), *coefs[1:])
        abc = self._dec[n]
        return None if abc is None else abc[0] + abc[1] * pairs + abc[2] * reads

    def piece(self, q: int, c: int) -> tuple[int, float, float]:
        """(hi, alpha, beta): T_pre(q, c') = alpha + beta * c' for integers c' in [c, hi]."""
        pieces = self._pieces.get(q)
        if pieces is None:
            pieces = self._pieces[q] = []
            self._scan(q, 0, max(1, int(self.costs.max_context)))
        while True:
            for lo, hi, alpha, beta in pieces:
                if lo <= c <= hi:
                    return hi, alpha, beta
            gap = max((p for p in pieces if p[1] < c), default=(0, 0), key=lambda p: p[1])[1]
            nxt = min((p[0] for p in pieces if p[0] > c), default=c + 1)
            self._scan(q, gap, nxt)

    def _scan(self, q: int, lo: int, hi: int) -> None:
        """Certified pieces of T_pre(q, .) on a grid over [lo, hi]: maximal runs of three or
        more collinear grid points, or two adjacent integers; cells between runs hold a kink
        and are scanned again, finer, when a query falls in them."""
        xs = np.unique(np.linspace(lo, hi, GRID).round().astype(np.int64))
        t = self.costs.times(self.pre_rows(q, xs))
        i = 0
        while i < xs.size - 1:
            beta = (t[i + 1] - t[i]) / (xs[i + 1] - xs[i])
            j = i + 1
            while j + 1 < xs.size and abs(
                t[i] + beta * (xs[j + 1] - xs[i]) - t[j + 1]
            ) <= self.costs.rtol * abs(t[j + 1]):
                j += 1
            if j - i >= 2 or xs[j] - xs[i] <= 1:
                self._pieces[q].append(
                    (int(xs[i]), int(xs[j]), float(t[i] - beta * xs[i]), float(beta))
                )
            i = j

    def _verify(self) -> bool:
        """t(X) == T_tok + T_pre + T_dec on random mixed rows (one call)."""
        rng = np.random.default_rng(12345)
        ctx = int(self.costs.max_context)
        rows = []
        for _ in range(8):
            n, m = int(rng.integers(1, 257)), int(rng.integers(1, 4))
            reads = float(rng.uniform(0, n * ctx))
            chunks = [
                (int(rng.integers(2, 2049)), int(rng.integers(0, ctx)), bool(rng.random() < 0.5))
                for _ in range(m)
            ]
            full = self.costs.row(n, reads + n, reads, chunks)
            parts = np.zeros((3, 9))
            for k, cols in enumerate((slice(0, 3), slice(3, 6), slice(6, 9))):
                parts[k, cols] = full[cols]
            rows += [full, *parts]
        t = self.costs.times(np.array(rows)).reshape(-1, 4)
        err = np.abs(t[:, 0] - t[:, 1:].sum(axis=1))
        return bool(np.all(err <= RTOL_SPLIT * t[:, 0]))

    # ---- iterations ---------------------------------------------------------------------
    def mixed(self, n: int, pairs: float, reads: float, chunks) -> float:
        """Time of one iteration: n decodes with the given totals plus chunks (q, c, final)."""
        dec = self.dec(n, pairs, reads) if self.pre is not None else None
        if dec is None or any(q < 2 for q, _, _ in chunks):
            return self.costs.direct(n, pairs, reads, chunks)
        x = self.costs.aggregates(n, pairs, reads, chunks)
        return self.tok(int(x[0]), int(x[1]), int(x[2])) + self.pre(*x[3:6]) + dec

    def chunk_line(self, n: int, q: int, c0: int, p1, r1, dp, dr, k: int):
        """(tau1, delta, k) of a chunk epoch (see StepCosts.chunk_line)."""
        dec = self.dec(n, p1, r1) if self.ok and q > 1 and not self.costs.share else None
        if dec is not None:
            hi, alpha, beta = self.piece(q, c0)
            k = min(k, (hi - c0) // q + 1)
            slope = self._dec[n][1] * dp + self._dec[n][2] * dr if n else 0.0
            tau1 = self.tok(n + q, n + 1, n) + alpha + beta * c0 + dec
            return tau1, beta * q + slope, k

        def rows(js):
            chunk = [(q, c0 + (j - 1) * q, False) for j in js]
            return np.array(
                [
                    self.costs.row(n, p1 + (j - 1) * dp, r1 + (j - 1) * dr, [ch])
                    for j, ch in zip(js, chunk)
                ]
            )

        return self.costs.line(rows, k)
