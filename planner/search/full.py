"""Tier 2: the full serving model (planner.serving.max_rate_under_slo) on the best plans.

Aggregated plans run the chunked-prefill model with the plan's max_num_seqs and token budget;
disaggregated plans run the DistServe model with x prefill replicas on their own tp x pp and
y decode replicas; pipeline stages keep one batch each in flight (plan_engine). Plans are
evaluated in worker processes (fork) when more than one CPU is given; each evaluation is
independent and seeded, so the result does not depend on the split.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import pandas as pd

from planner.serving import max_rate_under_slo
from planner.serving.api import SAMPLES
from planner.serving.engine import Engine
from planner.serving.schedulers import ChunkedPrefill, Disaggregated

from .instances import Instance


@dataclass
class Context:
    """What every evaluation shares (inherited by forked workers)."""

    instances: list[Instance]
    workload: object
    slo: object
    memory_utilization: float
    samples: int = SAMPLES


_CTX: Context | None = None
FIELDS = ("rate_rps", "capacity_rps", "tpot_s", "ttft_s", "batch", "binding", "feasible")


def plan_engine(ctx: Context, row) -> tuple[Engine, int]:
    """The Engine of one screened plan row (the scheduler carries its limits) and the number
    of such engines the plan runs side by side. A pp-stage replica keeps pp batches in
    flight (planner.search.screen, PIPELINE): it is evaluated as pp virtual engines with
    1/pp of its sequence slots and KV cache each (disaggregated: as pp times the replicas)."""
    inst = ctx.instances[int(row["instance"])]
    mu, v = ctx.memory_utilization, inst.pp
    seqs = -(-int(row["max_num_seqs"]) // v)
    if row["mode"] == "aggregated":
        sched = ChunkedPrefill(
            max_num_seqs=seqs, token_budget=int(row["token_budget"]), memory_utilization=mu
        )
    else:
        pre = ctx.instances[int(row["prefill_instance"])]
        sched = Disaggregated(
            prefill_replicas=int(row["prefill_replicas"]) * pre.pp,
            decode_replicas=int(row["decode_replicas"]) * v,
            max_num_seqs=seqs,
            prefill_tp=pre.tp,
            prefill_pp=pre.pp,
            memory_utilization=mu,
        )
    e = inst.engine
    profile = None if e.profile is None else e.profile.name
    engine = Engine.build(
        e.model, e.hardware, e.parallelism, sched, e.quant, e.steps.calibration, profile
    )
    if v > 1:
        block = engine.scheduler.block_size
        engine = replace(engine, kv_tokens=engine.kv_tokens // v // block * block)
    return engine, (v if row["mode"] == "aggregated" else 1)


def evaluate_row(ctx: Context, row) -> dict:
    """The full model's figures for one plan row (FIELDS)."""
    engine, copies = plan_engine(ctx, row)
    res = max_rate_under_slo(engine, None, ctx.workload, ctx.slo, samples=ctx.samples)
    stat = ctx.slo.stat
    if not res.feasible:
        worst = max(
            ctx.slo.targets(),
            key=lambda k: getattr(res.floor, k).get(stat) / ctx.slo.targets()[k],
        )
        cap = res.capacity * copies
        return dict(zip(FIELDS, (0.0, cap, math.nan, math.nan, 0.0, worst, False)))
    rep = res.at_rate
    binding = "capacity"
    if res.rate < res.capacity * 0.995:
        binding = max(
            ctx.slo.targets(), key=lambda k: getattr(rep, k).get(stat) / ctx.slo.targets()[k]
        )
    values = (
        res.rate * copies,
        res.capacity * copies,
        rep.tpot.get(stat),
        rep.ttft.get(stat),
        rep.decode_batch,
        binding,
        True,
    )
    return dict(zip(FIELDS, values))


def _worker(rows: list[dict]) -> list[dict]:
    return [evaluate_row(_CTX, r) for r in rows]


def evaluate_rows(ctx: Context, rows: pd.DataFrame, jobs: int = 1) -> pd.DataFrame:
    """FIELDS of every row by the full model, in ``jobs`` forked processes."""
    global _CTX
    records = rows.to_dict("records")
    if jobs <= 1 or len(records) < 4:
        out = [evaluate_row(ctx, r) for r in records]
    else:
        _CTX = ctx
        chunks = [records[i::jobs] for i in range(jobs)]
        try:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
                parts = list(pool.map(_worker, chunks))
        finally:
            _CTX = None
        out = [None] * len(records)
        for i, part in enumerate(parts):
            out[i::jobs] = part
    return pd.DataFrame(out, index=rows.index)
