"""The loads published serving benchmarks measure, besides an open Poisson rate:

- ``offline``: every request queued at once (vLLM ``benchmark_throughput``, MLPerf Offline,
  batch-inference jobs). The replica runs saturated, so its throughput is the analytic
  capacity (work-conserving stability, Li, Dai & Peng 2025); N requests take N / capacity.
- ``closed_loop``: C clients each sending the next request when the last one ends, after a
  think time Z (vLLM ``bench serve --max-concurrency``, GuideLLM concurrent, genai-perf).
  Little's law for the closed population, C = X (E2E(X) + Z), is solved for the throughput
  X with E2E(X) the analytic model's mean at the open rate X (an M/G-style approximation of
  the closed loop's latencies at the same throughput; exact at C = 1 and at saturation, where
  X tends to the capacity). TPOT is the open model's mean at that X; TTFT is E2E less the
  open model's mean decode time (at saturation the surplus of E2E is the wait for a slot).
  With one request size and no think time the clients move in lockstep (all C finish in the
  same iteration and send again together; the simulator shows it, and so do benchmarks with
  fixed lengths): the loop is a sequence of static batches of k = min(C, slots) requests,
  X = k / T_batch(k), E2E = C / X, TTFT = E2E - the batch's decode time. Under prefill-first
  continuous batching with at least as many clients (no think time) as the batch holds, the
  batch stays full: X is the capacity and TPOT = N_cap / (X E[D]) (``_saturated``). Under
  chunked prefill (requests of several sizes, or think time) the loop is walked on the
  iteration path with its own arrivals instead (planner.serving.chunked_closed): no open-model
  approximation, and the means and percentiles are those of the requests on the path.
- ``static_batch``: one batch of B equal requests (``generate()`` at batch B): the prompts
  are prefilled in iterations of at most max_num_batched_tokens, then every decode step runs
  the whole batch at its growing context: T = sum_k t_pre(k prompts) + sum_j t_d(B, I + j).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import optimize

from .analytic import n_cap
from .api import analyze, build_report, capacity
from .chunked_closed import closed_path
from .engine import Engine
from .prepared import Prepared, prepare
from .report import ServingReport

SAMPLES = 1024


@dataclass(frozen=True)
class LoadResult:
    """Throughput and mean latencies of one replica under one load (seconds, per second)."""

    load: str  # offline | concurrency | batch
    level: float  # clients (concurrency), batch size (batch), requests (offline)
    request_s: float
    output_tok_s: float
    total_tok_s: float
    ttft_mean_s: float
    tpot_mean_s: float
    e2e_mean_s: float
    time_s: float  # offline: time to finish the requests; batch: the batch's latency
    engine: str = ""
    notes: tuple[str, ...] = ()
    report: ServingReport | None = field(default=None, repr=False)  # closed loop: percentiles
    prefill_s: float = math.nan  # batch: its prompt phase (to the last first token)
    step_s: float = math.nan  # batch: its mean decode iteration after the prompt phase

    def metric(self, name: str) -> float:
        """A planner.fit.records metric name (request_s, output_tok_s, ..., batch_latency_s).
        Percentiles (e.g. ttft_p90_s, itl_p50_s: the time between tokens) come from the
        loop's report (the requests on the chunked path; else the open model at or just below
        the loop's throughput, TTFT shifted to the loop's mean); without one, itl is the
        TPOT."""
        alias = {"itl_mean_s": "tpot_mean_s", "batch_latency_s": "time_s",
                 "batch_prefill_s": "prefill_s", "batch_step_s": "step_s"}  # fmt: skip
        if name in alias or hasattr(self, name):
            return float(getattr(self, alias.get(name, name)))
        if self.report is None:  # a deterministic cycle: every request alike
            kind = name.split("_")[0]
            return self.metric(f"{'tpot' if kind == 'itl' else kind}_mean_s")
        at_end = self.report.ttft_boundary
        if name.startswith("ttft_") and at_end is not None:  # shifted by the slot wait
            return float(at_end.get(name.split("_")[1]) + self.ttft_mean_s - at_end.mean)
        return report_metric(self.report, name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("report")
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()
        }

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


def report_metric(rep: ServingReport, name: str) -> float:
    """A planner.fit.records metric of a ServingReport: served request and token rates, or a
    latency statistic such as ttft_p90_s (itl: the time between tokens)."""
    rates = {"request_s": min(rep.rate, rep.capacity), "output_tok_s": rep.output_tokens_per_s,
             "total_tok_s": rep.total_tokens_per_s}  # fmt: skip
    if name in rates:
        return float(rates[name])
    kind, stat, _ = name.split("_")
    return float(getattr(rep, "tbt" if kind == "itl" else kind).get(stat))


def _tokens(p: Prepared) -> tuple[float, float]:
    """Mean generated (D + 1) and prompt tokens per request."""
    return p.mean(p.D + 1), p.mean(p.I)


def offline(engine: Engine, p: Prepared, n_requests: int | None = None) -> LoadResult:
    """All requests queued: throughput at capacity; ``n_requests`` of them take n / capacity."""
    cap, (eo, ei) = float(capacity(engine, p)), _tokens(p)
    n = float(n_requests) if n_requests else math.nan
    time = n / cap if n_requests else math.nan
    inf = math.inf
    return LoadResult(
        "offline",
        n,
        cap,
        cap * eo,
        cap * (eo + ei),
        inf,
        inf,
        inf,
        time,
        engine.engine_label,
        ("offline: latencies are not defined (all queued)",),
    )


def closed_loop(
    engine: Engine,
    p: Prepared,
    concurrency: float,
    think_s: float = 0.0,
    samples: int = SAMPLES,
) -> LoadResult:
    """C clients in a closed loop (module docstring): X solves X (E2E(X) + Z) = C."""
    if not (concurrency >= 1 and math.isfinite(concurrency)):
        raise ValueError(f"concurrency must be a number of clients >= 1, got {concurrency!r}")
    if not (think_s >= 0 and math.isfinite(think_s)):
        raise ValueError(f"think time must be >= 0 seconds, got {think_s!r}")
    if p.I.size == 1 and think_s == 0:
        res = _lockstep(engine, p, concurrency)
        if res is not None:
            return res
    if engine.scheduler.kind == "chunked" and p.w.size:
        return _chunked_loop(engine, p, concurrency, think_s, samples)
    full = engine.scheduler.kind == "continuous" and think_s == 0 and p.w.size
    if full and concurrency >= n_cap(engine, p):
        return _saturated(engine, p, concurrency, samples)
    engine, p, held = _closed_population(engine, p, concurrency)
    cap = capacity(engine, p)

    def report(x: float):
        return analyze(engine, p, x, samples=samples, rse=None)

    def e2e_of(r) -> float:  # a client's request arrives as another's ends (Z = 0)
        at_end = r.ttft_boundary if think_s == 0 else None
        return r.e2e.mean - (r.ttft.mean - at_end.mean if at_end is not None else 0.0)

    def excess(log_odds: float) -> float:
        x = cap / (1 + math.exp(-log_odds))
        r = report(x)
        if r.overloaded:
            return math.inf
        return math.log(x * (e2e_of(r) + think_s) / concurrency)

    lo, hi = -30.0, 0.0
    while excess(hi) < 0 and hi < 30:
        lo, hi = hi, hi + 2.0
    t = optimize.brentq(lambda u: min(excess(u), 50.0), lo, hi, xtol=1e-4) if hi < 30 else hi
    x = float(cap / (1 + math.exp(-t)))
    r = report(x)
    eo, ei = _tokens(p)
    if held and not r.overloaded:  # no slot wait: a sampled model's root miss is not one
        x = concurrency / (e2e_of(r) + think_s)
    e2e = concurrency / x - think_s  # = e2e_of(r) at the root; more when saturated
    # the surplus is the wait for a slot (a sampled model's root may miss by its noise)
    ttft = e2e_of(r) - (r.e2e.mean - r.ttft.mean) + max(0.0, e2e - e2e_of(r))
    return LoadResult(
        "concurrency",
        float(concurrency),
        x,
        x * eo,
        x * (eo + ei),
        ttft,
        r.tpot.mean,
        e2e,
        math.nan,
        engine.engine_label,
        (f"closed loop, {concurrency:g} clients, think {think_s:g} s",),
        r,
    )


def _chunked_loop(engine: Engine, p: Prepared, concurrency: float, think_s: float, n: int):
    """A closed loop under chunked prefill, walked with its own arrivals (chunked_closed):
    throughput and means from 4n requests measured on the path, percentiles from them too."""
    c = max(1, round(concurrency))
    run = closed_path(engine, p, c, think_s, 4 * n)
    x, lat = run.throughput, run.latencies
    rep = build_report("analytic", engine, p, min(x, lat.capacity * (1 - 1e-9)), lat, None)
    eo, ei = _tokens(p)
    return LoadResult("concurrency", float(concurrency), x, x * eo, x * (eo + ei),
                      rep.ttft.mean, rep.tpot.mean, rep.e2e.mean, math.nan, engine.engine_label,
                      (f"closed loop, {c} clients, think {think_s:g} s: the chunked path "
                       "walked with the loop's own arrivals",), rep)  # fmt: skip


def _saturated(engine: Engine, p: Prepared, concurrency: float, samples: int) -> LoadResult:
    """At least as many clients without think time as the batch holds (N_cap, slots or KV):
    the batch stays full and the replica runs at its capacity X (continuous_capacity); by
    Little's law on the decoding requests N_cap = X E[D] TPOT, so TPOT = N_cap / (X E[D]);
    E2E = C / X and TTFT = E2E - E[D] TPOT, its surplus over the own prefill (the open
    model's TTFT at an iteration end, its floor) being the wait for a slot. The open model
    just below X gives the shapes of the percentiles (TTFT shifted to this mean)."""
    x, ed, (eo, ei) = capacity(engine, p), p.mean(p.D), _tokens(p)
    tpot = n_cap(engine, p) / (x * ed) if ed > 0 else 0.0
    for load in (0.99, 0.98, 0.95, 0.9, 0.8):  # the highest load the open model holds
        rep = analyze(engine, p, load * x, samples=samples, rse=None)
        if math.isfinite(rep.ttft.mean):  # no stable decode batch: an overload report
            break
    own = rep.ttft_boundary.mean if rep.ttft_boundary is not None else 0.0
    ttft = max(concurrency / x - ed * tpot, own)
    e2e = ttft + ed * tpot
    x = concurrency / e2e
    note = (f"closed loop, {concurrency:g} clients: the batch stays full, the replica runs at "
            "its capacity")  # fmt: skip
    return LoadResult("concurrency", float(concurrency), x, x * eo, x * (eo + ei), ttft, tpot,
                      e2e, math.nan, engine.engine_label, (note,), rep)  # fmt: skip


def _closed_population(engine: Engine, p: Prepared, concurrency: float):
    """A closed loop holds at most C requests. Where C of the workload's largest fit the
    KV cache (and C the slots), KV never binds and no request waits for a slot, though the
    open model's Poisson excursions above C would fill the cache and jam it: the open model
    then runs with a KV cache that holds every slot's largest request. Returns the engine,
    the prepared workload and whether the loop's population is held without waiting."""
    largest = float(np.max(p.I + p.D + 1))
    held = concurrency <= engine.max_seqs and concurrency * largest <= engine.kv_tokens
    need = math.ceil(engine.max_seqs * largest)
    if not held or need <= engine.kv_tokens:
        return engine, p, held
    wide = replace(engine, kv_tokens=need)
    return wide, prepare(wide, p.workload), held


def _lockstep(engine: Engine, p: Prepared, concurrency: float) -> LoadResult | None:
    """Closed loop of equal requests without think time: cohorts of static batches, or
    under chunked prefill a rotation of groups (``_rotation``); None where neither holds."""
    k = int(max(1, min(concurrency, math.floor(n_cap(engine, p)))))
    budget = getattr(engine.scheduler, "token_budget", None)  # chunked prefill only
    if budget is not None and k * int(p.I[0]) > budget:
        return _rotation(engine, p, concurrency, k, budget)
    batch = static_batch(engine, k, int(p.I[0]), int(p.D[0]) + 1)
    x = k / batch.time_s
    e2e = concurrency / x
    eo, ei = _tokens(p)
    return LoadResult("concurrency", float(concurrency), x, x * eo, x * (eo + ei),
                      e2e - batch.time_s + batch.ttft_mean_s, batch.tpot_mean_s, e2e,
                      math.nan, engine.engine_label,
                      (f"closed loop, {concurrency:g} clients in lockstep (equal requests): "
                       f"static batches of {k}",))  # fmt: skip


def _rotation(engine: Engine, p: Prepared, concurrency: float, k: int, budget: int):
    """k equal requests under chunked prefill whose prompts overflow one iteration's token
    budget B: the cohort splits into G groups of g = floor((B - (k - g)) / I) prompts (the
    budget less the others' decode tokens) that stay apart, as the simulator shows. Each
    group re-arrives when it finishes and prefills in the next iteration beside the k - g
    decodes of the others, so one cycle of D + 1 iterations holds G mixed iterations and
    D + 1 - G pure decodes t_d(k), at the mean context I + D/2: X = k / P with
    P = sum_groups t_mix(g_j) + (D + 1 - G) t_d(k), TTFT = t_mix(g), TPOT = (P - TTFT) / D.
    None where G > D + 1 (the prompts queue: the open model applies)."""
    i, d = int(p.I[0]), int(p.D[0])
    g = max(1, budget // i)
    for _ in range(3):  # the decodes beside a group take budget: a fixed point in g
        g = int(min(k, max(1, (budget - (k - g)) // i)))
    sizes = np.array([g] * (k // g) + ([k % g] if k % g else []), dtype=float)
    if sizes.size > d + 1:
        return None
    ctx, others = i + d / 2, k - sizes
    base = engine.mixed_rows(others, ctx, 0, 0, 0)
    prompt = engine.mixed_rows(others, ctx, i, 0, 1) - base  # one whole prompt's columns
    mixed = engine.steps.time(base + sizes[:, None] * prompt)
    t_dec = float(engine.steps.time(engine.mixed_rows(k, ctx, 0, 0, 0))[0])
    period = float(mixed.sum()) + (d + 1 - sizes.size) * t_dec
    ttft = float(sizes @ mixed) / k
    x = k / period
    e2e = concurrency / x
    eo, ei = _tokens(p)
    note = (f"closed loop, {concurrency:g} clients of equal requests under chunked prefill: "
            f"{sizes.size} groups of up to {g} in rotation")  # fmt: skip
    return LoadResult("concurrency", float(concurrency), x, x * eo, x * (eo + ei),
                      e2e - period + ttft, (period - ttft) / max(d, 1), e2e, math.nan,
                      engine.engine_label, (note,))  # fmt: skip


def step_tokens(engine: Engine) -> int | None:
    """Prompt tokens one iteration may carry: chunked prefill's token budget, else
    max_num_batched_tokens (None: the scheduler sets no limit)."""
    sched = engine.scheduler
    return getattr(sched, "token_budget", getattr(sched, "max_num_batched_tokens", None))


def static_batch(engine: Engine, batch: int, input_tokens: int, output_tokens: int) -> LoadResult:
    """One batch of ``batch`` requests of equal lengths (module docstring). A request's TTFT
    is the end of its prefill group; its TPOT spreads the rest of the batch over its tokens.
    The batch's prompt phase (``prefill_s``) ends with the last group; ``step_s`` is its mean
    decode iteration after that (what profilers such as Splitwise's report per batch)."""
    if batch < 1 or input_tokens < 1 or output_tokens < 1:
        raise ValueError("batch, input_tokens and output_tokens must all be >= 1")
    per_step = max(1, int((step_tokens(engine) or input_tokens * batch) // input_tokens))
    sizes = [per_step] * (batch // per_step) + ([batch % per_step] if batch % per_step else [])
    pre = engine.steps.prefill(np.full(len(sizes), input_tokens), sizes)
    ends, share = np.cumsum(pre), np.asarray(sizes) / batch  # group g's first token: ends[g]
    ctx = input_tokens + np.arange(output_tokens - 1)
    decode = float(np.sum(engine.steps.decode(np.full(ctx.size, batch), ctx))) if ctx.size else 0.0
    total = float(ends[-1]) + decode  # every request ends with the last decode step
    ttft = float(share @ ends)
    tpot = float(share @ (total - ends)) / max(output_tokens - 1, 1)
    rates = np.array([1, output_tokens, input_tokens + output_tokens]) * batch / total
    return LoadResult("batch", float(batch), *map(float, rates), ttft, tpot, total, total,
                      engine.engine_label, prefill_s=float(ends[-1]),
                      step_s=decode / max(ctx.size, 1))  # fmt: skip
