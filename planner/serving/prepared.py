"""A workload prepared for one engine: requests it cannot serve are counted and set aside, and
per-request prefill times and the moments the analytic model needs are computed once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from planner.workload import Workload

from .engine import Engine


@dataclass(frozen=True)
class Prepared:
    """Servable requests: input I, decode tokens D = output - 1, weights w (sum 1), prefill
    time of each alone; ``rejected`` maps a reason to the share of requests it removed."""

    workload: Workload
    I: np.ndarray
    D: np.ndarray
    w: np.ndarray
    t_prefill: np.ndarray
    rejected: dict[str, float] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key, compute):
        """Rate-independent results (tables, capacity) computed once per prepared workload."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def mean(self, x) -> float:
        return float(np.dot(self.w, x))

    @property
    def kv_moments(self) -> tuple[float, float]:
        """E[X], E[X^2] of the KV a running sequence holds (X uniform on [I, I + D] within a
        request, requests length-biased by D): E[D(I + D/2)]/E[D], E[D(I^2 + ID + D^2/3)]/E[D]."""
        d = np.maximum(self.D, 1e-9)
        ed = self.mean(d)
        x1 = self.mean(d * (self.I + d / 2)) / ed
        x2 = self.mean(d * (self.I**2 + self.I * d + d**2 / 3)) / ed
        return x1, x2

    @property
    def decode_overlap(self) -> float:
        """h = E[min(D, D')]/E[D] for iid decode lengths, i.e. the integral of P(D > u)^2 over
        E[D]: the share of the decode batch's variance that batch-mates arriving together add
        (M^X/G/inf: Var N = E[N](1 + (E[A(A-1)]/E[A]) h) for A arrivals per iteration)."""
        ed = self.mean(self.D)
        if ed <= 0:
            return 1.0
        order = np.argsort(self.D)
        d, w = self.D[order], self.w[order]
        survival = 1.0 - np.cumsum(w)  # P(D > d_k)
        steps = np.diff(np.concatenate([[0.0], d]))  # P(D > u) = survival[k-1] on (d_k-1, d_k]
        return float(np.dot(steps, np.concatenate([[1.0], survival[:-1]]) ** 2) / ed)

    @property
    def decode_context(self) -> float:
        """Time-average context of a decoding sequence: E[D (I + D/2)] / E[D] (length-biased:
        long answers spend longer in the decode batch)."""
        ed = self.mean(self.D)
        return self.mean(self.D * (self.I + self.D / 2)) / ed if ed > 0 else self.mean(self.I)

    @property
    def reserved_context(self) -> float:
        """Time-average KV a decoding sequence holds when its prompt and whole output are
        reserved at admission (TensorRT-LLM's GUARANTEED_NO_EVICT): E[D (I + D + 1)] / E[D]."""
        ed = self.mean(self.D)
        return self.mean(self.D * (self.I + self.D + 1)) / ed if ed > 0 else self.mean(self.I)


KEPT = 4  # prepared workloads an engine keeps (``prepare``)


def prepare(engine: Engine, workload: Workload) -> Prepared:
    """Set aside requests longer than the model context or than the KV capacity. An engine
    keeps its last KEPT preparations, keyed on the workload's content and the engine's host
    terms, so that asking the same replica about the same workload again (another SLO, rate
    or call) reuses its rate-free tables, capacity and random numbers: every answer is the
    same, since they depend on the engine and the workload only."""
    host = engine.steps.host  # a fit swaps it on a built replica (planner.fit)
    kept, key = engine.prepared, (_content(workload), host.key if host is not None else None)
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    kept[key] = p = _prepare(engine, workload)
    if len(kept) > KEPT:
        kept.popitem(last=False)
    return p


def _content(workload: Workload) -> bytes:
    """A digest of everything a Prepared reads from its workload."""
    h = hashlib.blake2b(workload.name.encode(), digest_size=16)
    for a in (workload.input_tokens, workload.output_tokens, workload.weights, workload.arrival_s):
        a = np.ascontiguousarray(a if a is not None else np.zeros(0))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.digest()


def _prepare(engine: Engine, workload: Workload) -> Prepared:
    total = workload.input_tokens + workload.output_tokens
    reasons = {
        f"longer than the model context ({engine.max_context} tokens)": total > engine.max_context,
        f"larger than the KV cache ({engine.kv_tokens} tokens)": total > engine.kv_tokens,
    }
    rejected, keep = {}, np.ones(total.size, dtype=bool)
    for reason, mask in reasons.items():
        mask = mask & keep
        if mask.any():
            rejected[reason] = float(workload.weights[mask].sum())
            keep &= ~mask
    if not keep.any():
        return Prepared(workload, *(np.zeros(0) for _ in range(4)), rejected=rejected)
    w = workload.weights[keep] / workload.weights[keep].sum()
    ins = workload.input_tokens[keep].astype(float)
    return Prepared(
        workload,
        ins,
        workload.output_tokens[keep].astype(float) - 1,
        w,
        engine.prefill_time(ins),
        rejected,
    )
