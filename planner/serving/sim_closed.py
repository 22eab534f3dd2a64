"""Closed-loop load: N clients, each sending a request, waiting for its last token, thinking
``think_s`` seconds and sending the next (vLLM ``bench serve --max-concurrency N``, GuideLLM
concurrent, genai-perf ``--concurrency N``).

Mechanism: the replica's inbox is a ``ClosedLoop`` source. All N clients send at t = 0; a
replica reports every last token (``Inbox.finished``) and the source issues that client's next
request at finish + think_s. A replica's finishes come in time order, so arrivals do too. With
think_s = 0 a request arrives exactly at an iteration boundary (a finish ends a decode epoch),
so the epochs skipped in closed form stay exact; with think_s > 0 the arrival cuts the epoch as
an open arrival does.

Measurement: the first ``warmup`` share of the n requests, and at least the N sent together
at t = 0, are left out; the window runs from the first measured arrival t0 to the last
measured arrival t1, while all N clients are active. So that every measured request is served
at full concurrency, the clients keep sending (unmeasured) requests until each measured one
has finished; then they stop and the replica drains. Throughput X = completions in (t0, t1]
/ (t1 - t0); Little's law for the clients: N = X (mean E2E + think_s).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from numbers import Integral, Real

import numpy as np

from planner.workload import Workload

from .engine import Engine
from .report import ServingReport
from .sim_costs import StepCosts
from .sim_report import window_report
from .sim_result import SimResult
from .sim_state import Inbox, Requests
from .simulate import REPLICAS, admissible, probe_run
from .slo import SLO

Sizes = Callable[[], tuple[int, int]]


class ClosedLoop(Inbox):
    """Arrivals of ``clients`` closed-loop clients. Requests get ids in order of issue (= of
    arrival); the first len(input_tokens) are the measured ones, with the given sizes; after
    them ``more()`` gives the sizes of requests that keep the clients busy until every
    measured request has finished."""

    def __init__(self, reqs: Requests, input_tokens, output_tokens, clients, think_s, more):
        super().__init__()
        self.reqs, self.think, self.more = reqs, float(think_s), more
        ins, outs = np.asarray(input_tokens).tolist(), np.asarray(output_tokens).tolist()
        self.sizes = list(zip(ins, outs))
        self.left = len(self.sizes)  # measured requests not finished yet
        for _ in range(min(clients, len(self.sizes))):
            self._issue(0.0)

    def _issue(self, t: float) -> None:
        rid = len(self.reqs)
        p, o = self.sizes[rid] if rid < len(self.sizes) else self.more()
        self.push(t, self.reqs.add(t, p, o))

    def finished(self, rid: int, t: float) -> None:
        """The client of ``rid`` sends its next request at t + think_s (none once every
        measured request has finished)."""
        if rid < len(self.sizes):
            self.left -= 1
        if self.left > 0:
            self._issue(t + self.think)


def run_closed(
    engine: Engine,
    input_tokens,
    output_tokens,
    concurrency: int,
    think_s: float = 0.0,
    more: Sizes | None = None,
    exact: bool = False,
) -> SimResult:
    """Closed-loop run: ``concurrency`` clients send the given requests (in this order, the
    first ``concurrency`` at t = 0, then one at each finish + think_s), followed by requests
    of sizes ``more()`` (default: the given sizes again, cyclically) until each given request
    has finished. The result holds every request issued, by arrival; the given ones first.
    Every request must fit the engine (``admissible``)."""
    check_clients(concurrency, think_s)
    kind = engine.scheduler.kind
    if kind not in REPLICAS:
        raise ValueError(f"closed loop is not supported for {kind} serving")
    ins, outs = np.asarray(input_tokens), np.asarray(output_tokens)
    if ins.size == 0:
        raise ValueError("no requests to simulate")
    more = more or _cycle(ins, outs)
    reqs = Requests([], [], [])
    source = ClosedLoop(reqs, ins, outs, concurrency, think_s, more)
    costs = StepCosts(engine)
    if not exact:
        costs.prefetch_prefill(np.unique(ins))
    start = time.perf_counter()
    rep = REPLICAS[kind](engine, costs, reqs, source, exact)
    rep.run()
    wall = time.perf_counter() - start
    return SimResult.collect(reqs, [rep.c], [rep.c], wall, costs.time_calls)


def _cycle(ins: np.ndarray, outs: np.ndarray) -> Sizes:
    """The given sizes again, in order, cyclically."""
    pool = list(zip(ins.tolist(), outs.tolist()))
    it = (pool[i % len(pool)] for i in itertools.count())
    return lambda: next(it)


def _sampler(engine: Engine, workload: Workload, rng: np.random.Generator) -> Sizes:
    """Sizes drawn from the workload (blocks of 1024), those the engine cannot serve
    skipped."""

    def draws() -> Iterator[tuple[int, int]]:
        while True:
            ins, outs = workload.sample(1024, rng)
            ok = ~np.logical_or.reduce(list(admissible(engine, ins, outs).values()))
            yield from zip(ins[ok].tolist(), outs[ok].tolist())

    it = draws()
    return lambda: next(it)


def check_clients(concurrency, think_s) -> None:
    """A ValueError naming ``concurrency`` (an integer >= 1) or ``think_s`` (finite, >= 0)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, Integral) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1 (clients), got {concurrency!r}")
    if isinstance(think_s, bool) or not (
        isinstance(think_s, Real) and think_s >= 0 and math.isfinite(think_s)
    ):
        raise ValueError(f"think_s must be a finite number of seconds >= 0, got {think_s!r}")


def check_closed(concurrency, n_requests, warmup, think_s) -> None:
    """One ValueError naming the first bad parameter."""
    check_clients(concurrency, think_s)
    if isinstance(n_requests, bool) or not isinstance(n_requests, Integral):
        raise ValueError(f"n_requests must be an integer, got {n_requests!r}")
    if n_requests <= concurrency:
        raise ValueError(
            f"n_requests must exceed concurrency ({concurrency}) to measure a closed loop, "
            f"got {n_requests!r}"
        )
    if not (isinstance(warmup, Real) and 0 <= warmup < 1):
        raise ValueError(f"warmup must be in [0, 1), got {warmup!r}")


def simulate_closed(
    engine: Engine,
    workload: Workload,
    concurrency: int,
    n_requests: int = 20000,
    seed: int = 0,
    warmup: float = 0.1,
    think_s: float = 0.0,
    slo: SLO | None = None,
    exact: bool = False,
) -> ServingReport:
    """Simulated ServingReport of ``engine`` under a closed loop of ``concurrency`` clients
    (each sends a request, waits for its last token, thinks ``think_s`` s, sends the next;
    sizes i.i.d. from the workload). ``report.rate`` is the measured throughput X (requests/s
    completed over the window); ``capacity`` the probe's saturated throughput, as in
    ``simulate`` (raised to just above X should the loop exceed it: a closed loop is never
    overloaded). Requests that can never be served are set aside and reported in
    ``rejected``; the first ``warmup`` share of the others (at least the ``concurrency``
    requests sent at t = 0) is not measured."""
    check_closed(concurrency, n_requests, warmup, think_s)
    if engine.scheduler.kind == "disaggregated":
        raise ValueError("closed loop is not supported for disaggregated serving")
    rng = np.random.default_rng(seed)
    ins, outs = workload.sample(n_requests, rng)
    bad = admissible(engine, ins, outs)
    rejected = {why: float(m.mean()) for why, m in bad.items() if m.any()}
    keep = ~np.logical_or.reduce(list(bad.values()))
    n = int(keep.sum())
    if n <= concurrency:
        raise ValueError(
            f"only {n} of {n_requests} requests of {workload.name!r} fit this engine "
            f"({rejected}); n_requests must leave more than concurrency ({concurrency})"
        )
    more = _sampler(engine, workload, rng)
    res = run_closed(engine, ins[keep], outs[keep], concurrency, think_s, more, exact)
    return closed_report(engine, res, n, concurrency, think_s, warmup, slo, rejected, exact)


def closed_report(engine, res, n, concurrency, think_s, warmup, slo, rejected, exact):
    """ServingReport of a closed-loop run whose first ``n`` requests are the measured ones."""
    start = min(max(math.floor(warmup * n), concurrency), n - 1)
    idx, t0, t1 = np.arange(start, n), float(res.arrival[start]), float(res.arrival[n - 1])
    if t1 <= t0:
        raise ValueError(
            f"the {n - start} measured requests all arrived at once: raise n_requests "
            f"well above concurrency ({concurrency})"
        )
    done = np.count_nonzero((res.finish > t0) & (res.finish <= t1))
    rate = done / (t1 - t0)
    probe = probe_run(engine, res.input_tokens[:n], res.output_tokens[:n], exact)
    capacity = max(probe, math.nextafter(rate, math.inf))  # never overloaded
    clients = f"{concurrency} client{'s' * (concurrency != 1)}"
    think = f", think time {think_s:.4g} s" if think_s else ""
    notes = [
        f"closed loop, {clients}{think}: throughput {rate:.4g} req/s (completions over the "
        f"window), probe capacity {probe:.4g} req/s",
        f"simulated {res.arrival.size} requests ({idx.size} measured after warmup, "
        f"{res.arrival.size - n} more to keep the clients busy), {res.iterations} iterations "
        f"in {res.wall_s:.3g} s ({res.iterations_per_s:.3g} iterations/s)",
    ]
    if probe <= rate:
        notes.append("the loop's throughput reached the probe's: capacity set just above it")
    if res.preempted:
        notes.append(f"{res.preempted} preemptions (recomputation)")
    for reason, share in rejected.items():
        notes.append(f"rejected {share:.2%} of requests: {reason}")
    return window_report(engine, res, rate, capacity, idx, (t0, t1), slo, rejected, notes)
