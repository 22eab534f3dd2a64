"""StepTimeModel: the operator catalog compiled into affine maps of a step's aggregates, so a
step's time costs a few small matrix products instead of rebuilding the catalog.

Every op quantity of perfmodel.ops is affine in the StepShape aggregates x (tokens, seqs,
logits, and per attention class tokens / pairs / cached) except two terms, kept exact here:
- weight reads are gated: an op reads its weights only when it runs (FLOPs or activation
  bytes > 0);
- routed-expert weight bytes scale with the expected fraction of experts touched,
  1 - (1 - k/E)^T (ops.touched_fraction).
Coefficients are read off build_ops at unit shapes, so the catalog stays the single source;
tests check the compiled time against estimate_grid.
"""

from __future__ import annotations

from dataclasses import fields, replace
from operator import mul

import numpy as np

from .calibration import MIN_EFFICIENCY, Efficiencies
from .fused import fused_time
from .host import HostCosts
from .ops import build_ops, touched_fraction
from .roofline import comm_roofline, peak
from .shape import StepShape

FIELDS = tuple(f.name for f in fields(StepShape))
MEMO_ROWS = 256  # tables at least this long are worth a memo lookup (see StepTimeModel.gpu_memo)


class StepTimeModel:
    """Fast step time for one (model, hardware, parallelism, quant, calibration).

    ``time(X)`` takes an (n, 9) array of StepShape aggregates (columns in ``FIELDS`` order) and
    returns n step times (s), pipeline factor included; ``decode`` / ``prefill`` are shortcuts."""

    def __init__(
        self, model, hardware, parallelism=None, quant=None, calibration="default", engine=None
    ):
        from .step import _setup

        self.setup = s = _setup(model, hardware, parallelism, quant, calibration)
        self.model, self.hardware, self.calibration = s.model, s.hardware, s.calibration
        m, pp = s.par.microbatches, s.par.pp
        self.mb, self.factor = 1.0 / m, (m + pp - 1) / pp
        self._compile()
        costs = HostCosts(engine, s.hardware, self.collectives) if engine is not None else None
        self.host = costs if costs is not None and costs.adds_time else None
        # {(shape, column sums): (rows, GPU times)} when a caller swaps ``host`` often and
        # asks for the same tables again (planner.fit: each evaluation changes only the host
        # terms and GPU-time scale, which apply after ``_gpu``); None: no memo
        self.gpu_memo: dict | None = None

    def _compile(self) -> None:
        k = len(FIELDS)
        basis = np.vstack([np.eye(k), np.ones(k), 2 * np.ones(k)])
        ops = build_ops(self.model, StepShape(*basis.T.copy()), self.setup.par, self.setup.quant)
        self.ops = ops

        def split(values, gate):
            const = 2 * values[k] - values[k + 1]
            return const, values[:k] - const * gate[:k]

        gates = [(op.flops + op.bytes_act) > 0 for op in ops]
        self.F = np.array([op.flops[:k] for op in ops]).T  # (9, ops), no constant term
        self.A = np.array([op.bytes_act[:k] for op in ops]).T
        self.S = np.array([np.broadcast_to(op.seqs, (k + 2,))[:k] for op in ops]).T
        self.KV = np.array([np.broadcast_to(op.kv_tokens, (k + 2,))[:k] for op in ops]).T
        wc, wl = zip(*(split(op.bytes_weight, g) for op, g in zip(ops, gates)))
        kc, kl = zip(*(split(op.bytes_kv, g) for op, g in zip(ops, gates)))
        self.W0, self.W = np.array(wc), np.array(wl).T
        self.K0, self.K = np.array(kc), np.array(kl).T
        self.FAWK = np.hstack([self.F, self.A, self.W, self.K])  # one product for the fused pass
        self.experts = np.array([op.name == "experts" for op in ops])
        self.resident = np.array([op.resident for op in ops])
        self.count = np.array([op.count for op in ops])
        self.is_comm = np.array([op.kind == "comm" for op in ops])
        self.collectives = float(self.count[self.is_comm].sum())  # per step, every layer
        self.comm_col = np.where(self.is_comm, np.cumsum(self.is_comm) - 1, -1)
        self.inv_peak = np.array(
            [0.0 if op.kind == "comm" else 1.0 / peak(self.hardware, op.dtype) for op in ops]
        )
        overhead = getattr(self.calibration, "kernel_overhead_s", {}) or {}
        self.overhead = self.count * np.array([overhead.get(op.kind, 0.0) for op in ops])
        self.const_eff = (
            np.array([self.calibration.by_class[op.kind] for op in ops])
            if isinstance(self.calibration, Efficiencies)
            else None
        )

    def time(self, X) -> np.ndarray:
        """Step times for the aggregate rows of X (n x 9): estimate_grid's GPU time, plus the
        engine's padding and host time when one is given (perfmodel.host)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.host is None:
            return self._gpu(X)
        graphed = self.host.graphed(X)
        gpu = self._gpu(self.host.pad(X, graphed)) * self.host.gpu_scale
        return gpu + self.host.host(X, graphed)

    def _gpu(self, X: np.ndarray) -> np.ndarray:
        """GPU time of the rows, from ``gpu_memo`` where it holds these rows exactly."""
        memo = self.gpu_memo
        if memo is None or len(X) < MEMO_ROWS:
            return self._gpu_rows(X)
        key = (X.shape, X.sum(axis=0).tobytes())
        hit = memo.get(key)
        if hit is not None and np.array_equal(hit[0], X):
            return hit[1].copy()
        out = self._gpu_rows(X)
        memo[key] = (X.copy(), out.copy())
        return out

    def _gpu_rows(self, X: np.ndarray) -> np.ndarray:
        """GPU time of the rows (the operator catalog's roofline, calibrated)."""
        X = X * self.mb
        if self.const_eff is not None:
            return self._fused(X)
        flops, act = X @ self.F, X @ self.A
        gate = (flops + act) > 0
        weight = X @ self.W + gate * self.W0
        if self.experts.any():
            frac = touched_fraction(self.model, self.setup.par, X[:, :1])
            weight = np.where(self.experts, self.resident * frac, weight)
        nbytes = weight + act + X @ self.K + gate * self.K0
        roof = np.maximum(flops * self.inv_peak, nbytes / self.hardware.mem_bandwidth)
        if self.is_comm.any():
            roof[:, self.is_comm] = self._comm(nbytes[:, self.is_comm])
        eff = self._eff(flops, nbytes, X)
        active = (flops + nbytes) > 0
        return np.where(active, roof / eff + self.overhead, 0.0).sum(axis=1) * self.factor

    def _fused(self, X: np.ndarray) -> np.ndarray:
        """``_gpu`` under constant efficiencies, in one compiled pass over the rows
        (perfmodel.fused); the collectives' times come from ``_comm`` first."""
        P = np.ascontiguousarray(X @ self.FAWK)
        o = self.W0.size
        c = np.flatnonzero(self.is_comm)
        flops, act = P[:, c], P[:, o + c]
        gate = (flops + act) > 0
        nbytes = P[:, 2 * o + c] + gate * self.W0[c] + act + P[:, 3 * o + c] + gate * self.K0[c]
        comm = self._comm(nbytes) if c.size else np.zeros((len(X), 0))
        frac = (
            touched_fraction(self.model, self.setup.par, X[:, 0])
            if self.experts.any()
            else np.zeros(len(X))
        )
        return fused_time(
            P,
            self.W0,
            self.K0,
            self.experts,
            self.resident.astype(float),
            frac,
            self.inv_peak,
            float(self.hardware.mem_bandwidth),
            self.const_eff.astype(float),
            self.overhead.astype(float),
            np.ascontiguousarray(comm, dtype=float),
            self.comm_col,
            float(self.factor),
        )

    def scalar(self, cols):
        """A plain-Python ``f(*x)`` equal to ``time`` on rows whose only nonzero aggregates
        are ``cols`` (indices into FIELDS), or None where it does not apply (measured
        efficiencies, routed experts or communication among the ops those columns touch).
        One step row costs microseconds instead of a dozen numpy calls."""
        cols = list(cols)
        if self.host is not None and set(cols) & {0, 1, 2}:
            return None
        touched = np.flatnonzero(
            np.abs(np.vstack([self.F[cols], self.A[cols], self.W[cols], self.K[cols]])).sum(0)
        )
        if self.const_eff is None or (self.experts | self.is_comm)[touched].any():
            return None
        bw, mb = self.hardware.mem_bandwidth, self.mb
        factor = self.factor * (self.host.gpu_scale if self.host is not None else 1.0)
        terms = [
            (
                tuple(mb * self.F[cols, i]),
                tuple(mb * self.A[cols, i]),
                tuple(mb * (self.W[cols, i] + self.K[cols, i])),
                float(self.W0[i] + self.K0[i]),
                float(self.inv_peak[i]),
                float(self.const_eff[i]),
                float(self.overhead[i]),
            )
            for i in touched
        ]

        def time(*x: float) -> float:
            total = 0.0
            for f, a, w, c0, inv_peak, eff, overhead in terms:
                flops, act = sum(map(mul, f, x)), sum(map(mul, a, x))
                gate = flops + act > 0
                nbytes = sum(map(mul, w, x)) + act + (c0 if gate else 0.0)
                if flops + nbytes > 0:
                    total += max(flops * inv_peak, nbytes / bw) / eff + overhead
            return total * factor

        return time

    def _eff(self, flops: np.ndarray, nbytes: np.ndarray, X: np.ndarray) -> np.ndarray:
        out = np.empty_like(flops)
        for i, op in enumerate(self.ops):
            shape = op.shape(X @ self.S[:, i], X @ self.KV[:, i])
            e = self.calibration.efficiency(
                op.kind, op.dtype, flops[:, i] / op.count, nbytes[:, i] / op.count, op.name, shape
            )
            out[:, i] = np.nan_to_num(np.asarray(e, dtype=float), nan=1.0)
        return np.maximum(out, MIN_EFFICIENCY)

    def _comm(self, nbytes: np.ndarray) -> np.ndarray:
        comm_ops = [op for op in self.ops if op.kind == "comm"]
        cols = [
            np.where(
                nbytes[:, j] > 0,
                comm_roofline(replace(op, bytes_act=nbytes[:, j]), self.hardware),
                0.0,
            )
            for j, op in enumerate(comm_ops)
        ]
        return np.column_stack(cols)

    def shape_rows(self, batch, new, cached) -> np.ndarray:
        """Aggregate rows of homogeneous steps (as StepShape.from_grid)."""
        s = StepShape.from_grid(batch, new, cached, self.model)
        return np.column_stack([getattr(s, f) for f in FIELDS])

    def decode(self, batch, context) -> np.ndarray:
        """Decode step time of ``batch`` sequences each after ``context`` cached tokens."""
        return self.time(self.shape_rows(batch, 1, context))

    def prefill(self, prompt, batch=1) -> np.ndarray:
        """Time of one step prefilling ``batch`` prompts of ``prompt`` tokens."""
        return self.time(self.shape_rows(batch, prompt, 0))
