"""Iteration-level simulator of LLM serving: replays requests through an Engine with perfmodel
step times and paged-KV block accounting, to check the analytic serving model.

- ``simulate(engine, workload, rate, ...)`` -> ServingReport (source="simulation").
- ``run_requests(engine, arrival, input_tokens, output_tokens)`` -> SimResult: per-request
  arrival / first token / finish times and preemptions, plus counters (iterations, prefill
  iterations, epochs, wall seconds, iterations per second).
- Closed loops (N clients, each sending its next request when the last one finishes) are in
  sim_closed (``simulate_closed``, ``run_closed``).

Events are arrivals, finishes, KV shortages, prompt ends and sliding-window ageing; between
them iterations are skipped in closed form (sim_replica, sim_running, sim_costs). The
schedulers' policies are in sim_replica (continuous, static), sim_chunked and sim_disagg;
statistics, the overload rule and capacity in sim_report. docs/serving-simulator.md has the
design and its assumptions.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import numpy as np

from planner.workload import Workload

from .engine import Engine
from .errors import positive_rate
from .report import ServingReport
from .sim_chunked import ChunkedReplica
from .sim_costs import StepCosts
from .sim_disagg import run_disaggregated
from .sim_replica import ContinuousReplica, StaticReplica
from .sim_report import build_report, probe_capacity
from .sim_result import SimResult
from .sim_state import Inbox, Requests
from .slo import SLO

REPLICAS = {"continuous": ContinuousReplica, "chunked": ChunkedReplica, "static": StaticReplica}
PROBE_MIN = 2000


def run_requests(
    engine: Engine, arrival, input_tokens, output_tokens, exact: bool = False
) -> SimResult:
    """Simulate the given requests (arrival times non-decreasing, seconds) on ``engine``.

    Every request must fit the model context and the KV cache (see ``admissible``).
    ``exact=True`` is the slow reference mode: one iteration at a time, each timed from its
    explicit sequences, with the block ledger cross-checked every iteration."""
    arrival = np.asarray(arrival, dtype=float)
    if arrival.size == 0:
        raise ValueError("no requests to simulate")
    if np.any(np.diff(arrival) < 0):
        raise ValueError("arrival times must be non-decreasing")
    reqs = Requests(arrival, input_tokens, output_tokens)
    costs = StepCosts(engine)
    if not exact:
        costs.prefetch_prefill(np.unique(reqs.P))
    start = time.perf_counter()
    order = list(range(len(reqs)))
    if engine.scheduler.kind == "disaggregated":
        counters, reps = run_disaggregated(engine, costs, reqs, order, exact)
        traces = [rep.c for rep in reps]
    else:
        rep = REPLICAS[engine.scheduler.kind](engine, costs, reqs, Inbox(arrival, order), exact)
        rep.run()
        counters = traces = [rep.c]
    wall = time.perf_counter() - start
    return SimResult.collect(reqs, counters, traces, wall, costs.time_calls)


def admissible(engine: Engine, input_tokens, output_tokens) -> dict[str, np.ndarray]:
    """Masks of requests the engine can never serve, by reason (same reasons as the
    analytic model's ``prepare``): longer than the model context, or larger than the KV
    cache (input + output tokens)."""
    total = np.asarray(input_tokens) + np.asarray(output_tokens)
    ctx = total > engine.max_context
    return {
        f"longer than the model context ({engine.max_context} tokens)": ctx,
        f"larger than the KV cache ({engine.kv_tokens} tokens)": ~ctx & (total > engine.kv_tokens),
    }


def make_arrivals(
    workload: Workload,
    rate: float,
    n: int,
    rng: np.random.Generator,
    mode: Literal["poisson", "trace"] = "poisson",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arrival times, input tokens, output tokens) of n requests.

    poisson: exponential gaps of mean 1/rate, sizes drawn from the workload's weights.
    trace: the trace's rows in order with its arrival times rescaled so that its mean rate is
    ``rate`` (its burstiness kept); repeated end to end when n exceeds its length."""
    if mode == "poisson":
        ins, outs = workload.sample(n, rng)
        return np.cumsum(rng.exponential(1.0 / rate, n)), ins, outs
    if mode != "trace":
        raise ValueError(f"arrivals must be 'poisson' or 'trace', got {mode!r}")
    times = workload.arrival_s
    if times is None or times.size < 2 or times[-1] <= times[0]:
        raise ValueError(f"workload {workload.name!r} has no usable arrival_time column")
    gap = (times[-1] - times[0]) / (times.size - 1)
    reps = math.ceil(n / times.size)
    period = times[-1] - times[0] + gap
    t = (times[None, :] - times[0] + period * np.arange(reps)[:, None]).ravel()[:n]
    idx = np.arange(n) % times.size
    return t * (1.0 / gap) / rate, workload.input_tokens[idx], workload.output_tokens[idx]


def simulate(
    engine: Engine,
    workload: Workload,
    rate: float,
    n_requests: int = 20000,
    seed: int = 0,
    warmup: float = 0.1,
    arrivals: Literal["poisson", "trace"] = "poisson",
    slo: SLO | None = None,
    exact: bool = False,
) -> ServingReport:
    """Simulated ServingReport of ``engine`` serving ``workload`` at ``rate`` requests/s.

    Requests that can never be served are set aside and reported in ``report.rejected`` (the
    share of requests, by reason, as the analytic model does); the first ``warmup`` fraction
    of the others is left out of the statistics. Overload and capacity follow the rules of
    planner.serving.sim_report."""
    rate = positive_rate(rate)
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be in [0, 1), got {warmup!r}")
    rng = np.random.default_rng(seed)
    t, ins, outs = make_arrivals(workload, rate, n_requests, rng, arrivals)
    bad = admissible(engine, ins, outs)
    rejected = {why: float(m.mean()) for why, m in bad.items() if m.any()}
    keep = ~np.logical_or.reduce(list(bad.values()))
    if not keep.any():
        raise ValueError(f"no request of {workload.name!r} fits this engine: {rejected}")
    res = run_requests(engine, t[keep], ins[keep], outs[keep], exact)

    def probe() -> float:
        return probe_run(engine, ins[keep], outs[keep], exact)

    return build_report(engine, res, rate, warmup, probe, slo, rejected)


def probe_run(engine: Engine, input_tokens, output_tokens, exact: bool = False) -> float:
    """Saturated throughput (requests/s, sim_report.probe_capacity) of a probe run in which the
    first max(PROBE_MIN, 10 x sequence slots x decode replicas) of the given requests (at
    most all) arrive at time 0."""
    replicas = getattr(engine.scheduler, "decode_replicas", 1)
    n = min(len(input_tokens), max(PROBE_MIN, 10 * engine.max_seqs * replicas))
    ins, outs = input_tokens[:n], output_tokens[:n]
    return probe_capacity(run_requests(engine, np.zeros(n), ins, outs, exact))
