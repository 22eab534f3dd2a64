"""Request-size buckets of one model's traffic: histogram, grid, trace or laws → Buckets.

A bucket is a representative (input, output) token pair with its share ``prob`` of the
requests; a bucket's rate is ``prob * rate``. Traces and laws are discretized on token edges
(default powers of two); the representative of a cell is the mean of the requests in it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hardware_specs.yaml_strict import DuplicateKeyError
from hardware_specs.yaml_strict import load_json as strict_json
from planner.cells import numeric_cells
from planner.mix.errors import PlanSpecError
from planner.mix.spec import ModelTraffic, PlanSpec
from planner.mix.spec_traffic import LawSpec, TrafficSpec, check_probabilities

DEFAULT_EDGES = tuple(float(2**k) for k in range(4, 18))  # 16 .. 131072 tokens


@dataclass(frozen=True)
class Buckets:
    """Request-size buckets of one model (arrays of equal length)."""

    labels: tuple[str, ...]
    input_tokens: np.ndarray  # representative input tokens (NaN when unknown)
    output_tokens: np.ndarray  # representative output tokens (NaN when unknown)
    prob: np.ndarray  # share of requests, sums to 1
    grid_index: tuple[tuple[int, int], ...] | None = None  # (row, col) for grid traffic

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_pairs(
        cls, pairs: list[tuple[float, float]], prob: list[float] | np.ndarray
    ) -> Buckets:
        """Buckets from (input, output) pairs and shares (normalized to sum to 1)."""
        p = np.asarray(prob, dtype=float)
        inp = np.array([a for a, _ in pairs], dtype=float)
        out = np.array([b for _, b in pairs], dtype=float)
        return cls(tuple(bucket_label(a, b) for a, b in pairs), inp, out, p / p.sum())


def bucket_label(input_tokens: float, output_tokens: float) -> str:
    """``in512/out128``."""
    return f"in{input_tokens:.6g}/out{output_tokens:.6g}"


def model_buckets(plan: PlanSpec, model: ModelTraffic) -> tuple[Buckets, float]:
    """The buckets and total rate (req/s, before headroom) of one model of ``plan``."""
    t = model.traffic
    if t.histogram is not None:
        pairs = [(b.input_tokens, b.output_tokens) for b in t.histogram]
        return merge_duplicates(pairs, [b.prob for b in t.histogram]), _rate(model, None)
    if t.grid is not None:
        return grid_buckets(t.grid.probs, t.grid.input_tokens, t.grid.output_tokens), _rate(
            model, None
        )
    if t.melange is not None:
        return melange_buckets(plan, model, t)
    if t.trace is not None:
        return trace_buckets(plan, model, t)
    assert t.laws is not None
    laws = t.laws
    return laws_buckets(laws.input, laws.output, laws.input_edges, laws.output_edges), _rate(
        model, None
    )


def _rate(model: ModelTraffic, fallback: float | None) -> float:
    """The model's rate_rps, else ``fallback`` (from the trace or the Mélange file)."""
    rate = model.rate_rps if model.rate_rps is not None else fallback
    if rate is None or not rate > 0:
        raise PlanSpecError(
            f"model {model.name!r}: field 'rate_rps' is needed (req/s, > 0); the traffic "
            "source gives no rate"
        )
    return float(rate)


def merge_duplicates(pairs: list[tuple[float, float]], prob: list[float]) -> Buckets:
    """Buckets from pairs, adding the shares of repeated (input, output) pairs."""
    shares: dict[tuple[float, float], float] = {}
    for pair, p in zip(pairs, prob):
        shares[pair] = shares.get(pair, 0.0) + p
    return Buckets.from_pairs(list(shares), list(shares.values()))


def grid_buckets(
    probs: list[list[float]], inputs: list[float] | None, outputs: list[float] | None
) -> Buckets:
    """Cells of a Mélange grid, row-major; labelled by size when sizes are given."""
    rows, cols = len(probs), len(probs[0])
    labels, inp, out, p, index = [], [], [], [], []
    for i in range(rows):
        for j in range(cols):
            a = inputs[i] if inputs else math.nan
            b = outputs[j] if outputs else math.nan
            labels.append(bucket_label(a, b) if inputs and outputs else f"r{i}c{j}")
            inp.append(a)
            out.append(b)
            p.append(probs[i][j])
            index.append((i, j))
    arr = np.asarray(p, dtype=float)
    return Buckets(tuple(labels), np.array(inp), np.array(out), arr / arr.sum(), tuple(index))


def melange_buckets(plan: PlanSpec, model: ModelTraffic, t: TrafficSpec) -> tuple[Buckets, float]:
    """The ``workload_distribution`` grid of a Mélange config and its total rate."""
    from planner.mix.melange import read_melange

    assert t.melange is not None
    cfg = read_melange(plan.path(t.melange))
    if cfg.distribution is None:
        raise PlanSpecError(f"{t.melange}: no workload_distribution to use as traffic")
    probs = cfg.distribution
    try:
        check_probabilities([p for row in probs for p in row], t.normalize)
    except ValueError as exc:
        raise PlanSpecError(f"{t.melange}: field 'workload_distribution': {exc}") from None
    return grid_buckets(probs, None, None), _rate(model, cfg.rate_rps)


def trace_buckets(plan: PlanSpec, model: ModelTraffic, t: TrafficSpec) -> tuple[Buckets, float]:
    """Bucket a request trace; the rate is the trace's when ``rate_rps`` is not set."""
    assert t.trace is not None
    path = plan.path(t.trace.path)
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PlanSpecError(f"{path}: cannot read trace CSV (a UTF-8 CSV): {exc}") from None
    missing = {"input_tokens", "output_tokens"} - set(frame.columns)
    if missing or frame.empty:
        raise PlanSpecError(
            f"{path}: a trace needs rows and columns input_tokens, output_tokens "
            f"(optional arrival_s); missing {sorted(missing) or 'rows'}"
        )
    inp, out = (
        numeric_cells(
            frame[c],
            c,
            str(path),
            error=PlanSpecError,
            integer=True,
            minimum=1,
            fix="use a whole token count >= 1",
        )
        for c in ("input_tokens", "output_tokens")
    )
    buckets = cell_means(inp, out, t.trace.input_edges, t.trace.output_edges)
    fallback = None
    if "arrival_s" in frame and len(frame) > 1:
        arrival = numeric_cells(
            frame["arrival_s"], "arrival_s", str(path), error=PlanSpecError, fix="use seconds"
        )
        span = float(arrival.max() - arrival.min())
        fallback = (len(frame) - 1) / span if span > 0 else None
    return buckets, _rate(model, fallback)


def _edges(edges: list[float] | None, top: float) -> np.ndarray:
    """Sorted bucket upper edges, extended to cover ``top``."""
    e = np.array(sorted(edges) if edges else DEFAULT_EDGES, dtype=float)
    return e if e[-1] >= top else np.append(e, top)


def cell_means(
    inp: np.ndarray,
    out: np.ndarray,
    input_edges: list[float] | None,
    output_edges: list[float] | None,
) -> Buckets:
    """Cells of (input, output) samples on the edges (bucket k holds edge[k-1] < x <= edge[k]);
    representative = mean of the samples in the cell, share = their fraction."""
    ie, oe = _edges(input_edges, inp.max()), _edges(output_edges, out.max())
    ii = np.searchsorted(ie, inp, side="left")
    jj = np.searchsorted(oe, out, side="left")
    frame = pd.DataFrame({"i": ii, "j": jj, "inp": inp, "out": out})
    g = frame.groupby(["i", "j"], sort=True).agg(
        inp=("inp", "mean"), out=("out", "mean"), n=("inp", "size")
    )
    pairs = [(round(a, 1), round(b, 1)) for a, b in zip(g["inp"], g["out"])]
    return merge_duplicates(pairs, list(g["n"] / len(inp)))


def laws_buckets(
    input_law: LawSpec,
    output_law: LawSpec,
    input_edges: list[float] | None,
    output_edges: list[float] | None,
) -> Buckets:
    """Product of two independent discretized laws (cells with share < 1e-6 dropped)."""
    a_mean, a_p = discretize(input_law, input_edges)
    b_mean, b_p = discretize(output_law, output_edges)
    pairs, prob = [], []
    for a, pa in zip(a_mean, a_p):
        for b, pb in zip(b_mean, b_p):
            if pa * pb >= 1e-6:
                pairs.append((round(float(a), 1), round(float(b), 1)))
                prob.append(pa * pb)
    return merge_duplicates(pairs, prob)


def frozen_law(law: LawSpec):
    """The scipy.stats frozen distribution of ``law`` (not for ``fixed``)."""
    if law.law == "lognormal":
        return stats.lognorm(s=law.sigma, scale=law.median)
    if law.law == "exponential":
        return stats.expon(scale=law.mean)
    assert law.low is not None and law.high is not None
    return stats.uniform(loc=law.low, scale=law.high - law.low)


def discretize(law: LawSpec, edges: list[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Cells (edge[k-1], edge[k]] of ``law`` clipped at ``max_tokens`` (mass above goes to the
    last cell): conditional means and probabilities."""
    if law.law == "fixed":
        assert law.value is not None
        return np.array([min(law.value, law.max_tokens or law.value)]), np.array([1.0])
    dist = frozen_law(law)
    top = law.max_tokens or float(dist.ppf(0.999))
    e = _edges(edges, top)
    e = e[e < top]
    e = np.append(e, top)
    lo = np.concatenate([[0.0], e[:-1]])
    cdf = dist.cdf(e)
    p = np.diff(np.concatenate([[0.0], cdf]))
    p[-1] += 1.0 - cdf[-1]
    means = []
    for k, (a, b) in enumerate(zip(lo, e)):
        pk = float(dist.cdf(b) - dist.cdf(a))
        if pk <= 1e-12:
            means.append((a + b) / 2)
            continue
        m = dist.expect(lambda x: x, lb=a, ub=b, conditional=True)
        tail = 1.0 - float(cdf[-1]) if k == len(e) - 1 else 0.0
        means.append((m * pk + b * tail) / (pk + tail))
    keep = p > 0
    return np.maximum(np.asarray(means)[keep], 1.0), p[keep] / p[keep].sum()


def load_json(path: Path) -> object:
    """Parsed JSON of ``path`` or a PlanSpecError naming it."""
    try:
        return strict_json(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise PlanSpecError(f"{path}: {exc}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanSpecError(f"{path}: cannot read JSON: {exc}") from None
