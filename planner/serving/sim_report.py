"""From a SimResult to a ServingReport: warmup, overload verdict, capacity, statistics.

Measurement window: the requests after the first ``warmup`` fraction (by arrival), from the
first measured arrival t0 to the last arrival t1.

Overload rule: the run is overloaded when its queue grows through the window: the number of
requests that have arrived but not yet received their first token grows from t0 to t1 by more
than max(5% of the measured requests, 20), and the mean TTFT of the last quarter of measured
requests exceeds 1.5 times that of the second quarter. (Beyond capacity the queue grows
linearly, by (1 - capacity/rate) per arrival, and so do the waits; a stable queue only
fluctuates.)

Capacity: when overloaded, the completions per second over the second half of the window
(the server is saturated then; capped at the rate). Otherwise the saturated throughput of a
separate probe run in which the same requests all arrive at time 0 (completions per second
from the 10th-percentile completion to the last first token, while the queue is never empty).
A probe capacity at or below the rate also makes the report overloaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .engine import Engine
from .report import Percentiles, ServingReport, mean_rse
from .sim_result import SimResult
from .slo import SLO

GROWTH_SHARE, GROWTH_MIN, TREND = 0.05, 20, 1.5
BATCHES = 20  # batch means of the mean TTFT's standard error (at least 20 requests each)


def window(res: SimResult, warmup: float) -> tuple[np.ndarray, float, float]:
    """(indices of measured requests, t0, t1)."""
    n = res.arrival.size
    start = min(math.floor(warmup * n), n - 1)
    return np.arange(start, n), float(res.arrival[start]), float(res.arrival[-1])


def backlog_grows(res: SimResult, idx: np.ndarray, t0: float, t1: float) -> tuple[bool, int]:
    """(overload verdict, growth of the first-token queue over the window)."""
    first = np.sort(res.first_token)

    def queued(t: float) -> int:
        arrived = np.searchsorted(res.arrival, t, side="right")
        return int(arrived - np.searchsorted(first, t, side="right"))

    growth = queued(t1) - queued(t0)
    m = idx.size
    ttft = res.ttft[idx]
    q2, q4 = ttft[m // 4 : m // 2], ttft[3 * m // 4 :]
    trend = q2.size > 0 and q4.size > 0 and q4.mean() > TREND * q2.mean()
    return bool(growth > max(GROWTH_SHARE * m, GROWTH_MIN) and trend), growth


def saturated_rate(res: SimResult, t0: float, t1: float) -> float:
    """Completions per second within [t0, t1]."""
    done = np.count_nonzero((res.finish > t0) & (res.finish <= t1))
    return done / (t1 - t0) if t1 > t0 else 0.0


def probe_capacity(res: SimResult) -> float:
    """Saturated throughput of a probe run (every request arrived at time 0)."""
    fin = np.sort(res.finish)
    t_a, t_e = fin[fin.size // 10], float(np.max(res.first_token))
    done = np.count_nonzero((fin > t_a) & (fin <= t_e))
    if t_e > t_a and done >= 10:
        return done / (t_e - t_a)
    return fin.size / fin[-1]


def build_report(
    engine: Engine,
    res: SimResult,
    rate: float,
    warmup: float,
    probe: Callable[[], float],
    slo: SLO | None = None,
    rejected: dict[str, float] | None = None,
) -> ServingReport:
    """The simulation's ServingReport (source='simulation'); ``rejected`` maps reasons to
    the share of requests that could not be served."""
    idx, t0, t1 = window(res, warmup)
    overloaded, growth = backlog_grows(res, idx, t0, t1)
    notes = [
        f"simulated {res.arrival.size} requests ({idx.size} measured after warmup), "
        f"{res.iterations} iterations in {res.wall_s:.3g} s "
        f"({res.iterations_per_s:.3g} iterations/s)"
    ]
    if overloaded:
        mid = float(res.arrival[idx[idx.size // 2]])
        capacity = min(saturated_rate(res, mid, t1), rate)
        notes.append(
            f"overloaded: the queue grew by {growth} requests over the run; offered "
            f"{rate:.4g} req/s, measured saturated throughput {capacity:.4g} req/s"
        )
    else:
        capacity = probe()
        if capacity <= rate:
            overloaded = True
            notes.append(
                f"overloaded: offered {rate:.4g} req/s >= saturated throughput "
                f"{capacity:.4g} req/s of a probe run (load ratio {rate / capacity:.3g})"
            )
    if res.preempted:
        notes.append(f"{res.preempted} preemptions (recomputation)")
    for reason, share in (rejected or {}).items():
        notes.append(f"rejected {share:.2%} of requests: {reason}")
    return _report(engine, res, rate, capacity, overloaded, idx, (t0, t1), slo, rejected, notes)


def window_report(engine, res, rate, capacity, idx, span, slo, rejected, notes) -> ServingReport:
    """The ServingReport of a run that is not overloaded, from measured requests ``idx`` and
    the window ``span`` = (t0, t1) (closed loops, sim_closed, choose their own window)."""
    return _report(engine, res, rate, capacity, False, idx, span, slo, rejected, notes)


def _report(engine, res, rate, capacity, overloaded, idx, span, slo, rejected, notes):
    t0, t1 = span
    tpot = res.tpot[idx]
    tpot = tpot[np.isfinite(tpot)]
    gaps, tokens = res.tbt_samples(t0, t1)

    def pct(x, weights=None):
        return Percentiles.overloaded() if overloaded else Percentiles.of(x, weights)

    done = (res.finish > t0) & (res.finish <= t1)
    width = max(t1 - t0, 1e-300)
    goodput = None
    if slo is not None:
        share = met_share(slo, res, idx) * _token_share(slo, gaps, tokens)
        goodput = 0.0 if overloaded else share * idx.size / width
    return ServingReport(
        source="simulation",
        model=engine.model.name,
        hardware=engine.hardware.name,
        scheduler=engine.scheduler.kind,
        rate=rate,
        capacity=capacity,
        ttft=pct(res.ttft[idx]),
        tpot=pct(tpot if tpot.size else [0.0]),
        e2e=pct(res.e2e[idx]),
        decode_batch=res.mean_decode_batch(t0, t1),
        output_tokens_per_s=float(res.output_tokens[done].sum() / width),
        total_tokens_per_s=float((res.output_tokens + res.input_tokens)[done].sum() / width),
        goodput=goodput,
        rejected=dict(rejected or {}),
        notes=tuple(notes),
        tbt=pct(gaps, tokens) if gaps.size else pct([0.0]),
        ttft_mean_rse=None if overloaded else mean_rse(res.ttft[idx], BATCHES, 20),
        calibration=engine.calibration,
        engine=engine.engine_label,
    )


def _token_share(slo: SLO, gaps: np.ndarray, tokens: np.ndarray) -> float:
    """Share of tokens whose gap meets the SLO's time-between-tokens target (1 if none)."""
    target = getattr(slo, "tbt_s", None)
    if target is None or gaps.size == 0:
        return 1.0
    return float(tokens[gaps <= target].sum() / tokens.sum())


def met_share(slo: SLO, res: SimResult, idx: np.ndarray) -> float:
    """Share of measured requests meeting every per-request target of ``slo``."""
    ok = np.ones(idx.size, dtype=bool)
    if slo.ttft_s is not None:
        ok &= res.ttft[idx] <= slo.ttft_s
    if slo.e2e_s is not None:
        ok &= res.e2e[idx] <= slo.e2e_s
    if slo.tpot_s is not None:
        tpot = res.tpot[idx]
        ok &= ~(tpot > slo.tpot_s)  # NaN (one-token requests) passes
    return float(ok.mean()) if idx.size else 0.0
