"""Disaggregated serving (DistServe / Splitwise): prefill replicas, a KV transfer, then decode
replicas. Prefill and decode replicas use the same Engine plan.

Prefill stage: the replicas share one FCFS queue; a replica that is free takes the waiting
requests (FCFS, up to max_num_seqs prompts, max_num_batched_tokens tokens, KV blocks; a
longer prompt runs alone) and prefills them in one iteration. Its prefill KV only limits the
batch (it is released once sent). The KV of each prompt (input x kv_bytes_per_token x GPUs per
replica bytes) then moves over the replica's link, one transfer at a time (FIFO): NVLink /
PCIe (hardware link_bandwidth, link_latency_s) when ``same_node``, else the NIC.

Decode stage: when its KV has arrived, a request joins the decode replica with the fewest
requests (running + queued; ties to the lowest index), which runs continuous batching of
decodes: the request is admitted at an iteration boundary by slots and KV blocks and emits its
first token then (TTFT = prefill queue + prefill + transfer + decode admission). A preempted
request is recomputed on its decode replica. A one-token request finishes at its prefill.
"""

from __future__ import annotations

import heapq

from .engine import Engine
from .sim_costs import StepCosts
from .sim_replica import ContinuousReplica
from .sim_state import Counters, Inbox, Requests


def transfer_link(engine: Engine) -> tuple[float, float]:
    """(bytes/s, latency s) of the link that carries KV from prefill to decode."""
    hw = engine.hardware
    if engine.scheduler.same_node:
        return hw.link_bandwidth, hw.link_latency_s
    return hw.nic_bandwidth, hw.nic_latency_s


def transfer_time(engine: Engine, tokens: int) -> float:
    """Seconds to move the KV of ``tokens`` prompt tokens to a decode replica."""
    bandwidth, latency = transfer_link(engine)
    return tokens * engine.kv_bytes_per_token * engine.gpus / bandwidth + latency


def prefill_stage(engine, costs: StepCosts, reqs: Requests, order, exact=False):
    """Run the prefill replicas over requests ``order`` (by arrival); returns the sorted
    (KV arrival time, rid) of requests that go on to decode, and the stage's counters."""
    sched = engine.scheduler
    B, total = sched.block_size, engine.kv_tokens // sched.block_size
    free_at = [(0.0, r) for r in range(sched.prefill_replicas)]
    link_free = [0.0] * sched.prefill_replicas
    c, ready, i = Counters(kv_blocks=total), [], 0
    while i < len(order):
        f, r = heapq.heappop(free_at)
        start = max(f, reqs.arrival[order[i]])
        batch, tokens, blocks = [], 0, 0
        while i < len(order) and reqs.arrival[order[i]] <= start:
            rid = order[i]
            q, need = reqs.P[rid], -(-reqs.P[rid] // B)
            full = len(batch) >= sched.max_num_seqs or blocks + need > total
            if batch and (full or tokens + q > sched.max_num_batched_tokens):
                break
            batch.append(rid)
            tokens, blocks, i = tokens + q, blocks + need, i + 1
        lengths = [reqs.P[rid] for rid in batch]
        if exact:
            tau = costs.explicit(lengths, [0] * len(batch), [1] * len(batch))
        else:
            tau = costs.prefill(lengths)
        done = start + tau
        c.iterations += 1
        c.prefill_iterations += 1
        c.epochs += 1
        c.peak_kv_blocks = max(c.peak_kv_blocks, blocks)
        for rid in batch:
            if reqs.O[rid] == 1:
                reqs.emit(rid, done)
                continue
            link_free[r] = max(done, link_free[r]) + transfer_time(engine, reqs.P[rid])
            ready.append((link_free[r], rid))
        heapq.heappush(free_at, (done, r))
    ready.sort()
    return ready, c


def run_disaggregated(engine: Engine, costs: StepCosts, reqs: Requests, order, exact=False):
    """Simulate the whole disaggregated system; returns (counters per replica, decode
    replicas)."""
    for rid in order:
        reqs.todo[rid] = 0  # decode replicas receive computed KV
    pe = engine.prefill_side  # the prefill replicas' own plan, when it differs
    pcosts = costs if pe is engine else StepCosts(pe)
    ready, pre = prefill_stage(pe, pcosts, reqs, order, exact)
    reps = [
        ContinuousReplica(engine, costs, reqs, Inbox(), exact)
        for _ in range(engine.scheduler.decode_replicas)
    ]
    for t, rid in ready:
        for rep in reps:
            rep.run(until=t)
        target = min(reps, key=_load)
        target.inbox.push(t, rid)
    for rep in reps:
        rep.run()
    return [pre, *(rep.c for rep in reps)], reps


def _load(rep: ContinuousReplica) -> int:
    """Requests on a decode replica: running, queued and delivered but not yet seen."""
    return rep.rs.n + len(rep.waiting) + len(rep.inbox.times) - rep.inbox.i
