"""Tier 1: a vectorized screen of every plan, from the step model and closed forms.

Per instance (GPU x tp x pp x ep x quant) the step model is evaluated once on a grid of decode
batches B (one numpy call per table); every (max_num_seqs, token budget) and every
disaggregated (prefill instance, decode instance, x:y) combination is then array arithmetic.

Fluid steady state of chunked prefill (Sarathi-Serve / vLLM V1): an iteration carries B decodes
and B·E[I]/E[O] prompt tokens, so its time is t_mix(B) and the rate is B / (E[O]·t_mix(B)).
B is capped by max_num_seqs, token budget - 1, the budget's share E[O]/(E[I]+E[O]) of the
tokens, and KV capacity / (decode context + half a block). Within the caps the screen takes
the largest B whose TPOT (t_mix), TBT (an iteration holding a full chunk) and zero-queue TTFT
(ceil(I_q / chunk) full iterations, I_q the SLO-percentile prompt) meet the SLO. Queueing of
prompts is charged as in DistServe's M/D/1 view of prefill: TTFT = D(1 + ρ/(2(1-ρ))) meets a
target T when ρ <= (2x-2)/(2x-1), x = T/D, which caps the rate at that share of capacity.
Disaggregated units: x prefill replicas at that ρ of their batched capacity (K prompts of the
mean length in one iteration, K as many as the token budget holds), y decode replicas
at the largest decode batch meeting TPOT; the unit's rate is the smaller side.

Pipeline parallelism (PIPELINE): a pp-stage replica keeps pp batches in flight, one per stage
(vLLM's pipeline-parallel batch queue, DistServe's and Vidur's micro-batches): it serves as pp
virtual engines, each with 1/pp of the sequence slots and KV cache, each step taking the whole
pipeline's latency (the step model's time at one micro-batch), so the rate is pp times one
virtual engine's.

The screen ignores the percentile spread of TPOT and the decode batch's fluctuation, so it is
optimistic; the full serving model (tier 2) re-evaluates the best plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
import pandas as pd

from planner.serving.schedulers import Disaggregated
from planner.workload import Workload

from .instances import Instance

GRID = np.unique(np.round(np.geomspace(1, 2048, 45)))
IDLE_POWER = 0.3  # share of TDP a GPU draws idle (energy per token; see docs/search.md)
#: a saturated prefill replica batches the prompts waiting, up to its token budget (vLLM's
#: max_num_batched_tokens, the Disaggregated default) and 64 prompts (analytic.prefill_sharing)
PREFILL_TOKENS, PREFILL_BATCH = Disaggregated.model_fields["max_num_batched_tokens"].default, 64


@dataclass(frozen=True)
class WorkloadStats:
    """What the screen needs of a workload: means, the SLO-percentile prompt, the
    length-biased decode context E[D(I + D/2)]/E[D] (D = O - 1) and the largest request."""

    mean_in: float
    mean_out: float
    q_in: float
    context: float
    largest: int

    @classmethod
    def of(cls, w: Workload, q: float) -> WorkloadStats:
        i, o, p = w.input_tokens.astype(float), w.output_tokens.astype(float), w.weights
        d = np.maximum(o - 1, 1e-9)
        order = np.argsort(i)
        q_in = float(i[order][np.searchsorted(np.cumsum(p[order]), q * (1 - 1e-12))])
        ctx = float(np.dot(p, d * (i + d / 2)) / np.dot(p, d))
        return cls(float(p @ i), float(p @ o), q_in, ctx, int((i + o).max()))


@dataclass(frozen=True)
class Targets:
    """SLO targets in seconds (inf where not set)."""

    ttft: float = np.inf
    tpot: float = np.inf
    tbt: float = np.inf
    e2e: float = np.inf

    @classmethod
    def of(cls, slo) -> Targets:
        t = slo.targets() if slo is not None else {}
        return cls(*(t.get(k, np.inf) for k in ("ttft", "tpot", "tbt", "e2e")))


def rho_max(target: np.ndarray, service: np.ndarray) -> np.ndarray:
    """Largest utilization at which M/D/1's mean time in system D(1 + ρ/(2(1-ρ))) stays
    within ``target``: (2x - 2)/(2x - 1), x = target/D (0 when D > target; 1 without one)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.asarray(target, dtype=float) / np.asarray(service, dtype=float)
        r = np.where(np.isinf(x), 1.0, (2 * x - 2) / (2 * x - 1))
    return np.clip(np.nan_to_num(r, nan=0.0), 0.0, 1.0)


def kv_batch(inst: Instance, st: WorkloadStats) -> float:
    """Sequences the KV cache of one virtual engine holds: KV tokens / pp over the decode
    context plus half a block (as planner.serving.analytic.n_cap)."""
    e = inst.engine
    return e.kv_tokens / inst.pp / (st.context + e.scheduler.block_size / 2)


def largest(G: np.ndarray, ok: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cap: the index of the largest grid batch G that passes ``ok`` (shaped to
    broadcast against (G.size, *cap.shape)) and is within the cap (-1: none), and the grid
    index of the cap itself (caps are grid points)."""
    shape = (G.size,) + (1,) * cap.ndim
    within = G.reshape(shape) <= cap[None] * (1 + 1e-9)
    idx = np.where(ok & within, np.arange(G.size).reshape(shape), -1).max(0)
    return idx, np.searchsorted(G, cap * (1 - 1e-12))


def aggregated(inst: Instance, k: int, st: WorkloadStats, tg: Targets, seqs, budgets) -> dict:
    """Screen rows (column arrays) of instance ``k`` for every (max_num_seqs, token
    budget)."""
    e, v = inst.engine, inst.pp  # v pipeline batches in flight (PIPELINE above)
    S, C = np.ceil(np.asarray(seqs, float) / v), np.asarray(budgets, float)
    kv_b = kv_batch(inst, st)
    cap = np.minimum.reduce(
        [
            np.broadcast_to(S[:, None], (S.size, C.size)),
            np.broadcast_to(C[None, :] - 1, (S.size, C.size)),
            np.broadcast_to(C * st.mean_out / (st.mean_in + st.mean_out), (S.size, C.size)),
            np.full((S.size, C.size), kv_b),
        ]
    )
    cap = np.maximum(cap, 1.0)
    G = np.unique(np.concatenate([GRID, cap.ravel()]))
    share = G * st.mean_in / st.mean_out
    t_mix = e.steps.time(
        e.mixed_rows(G, st.context, share, st.mean_in / 2, np.minimum(1, share / st.mean_in))
    )
    chunk = np.clip(np.minimum(C[None, :] - G[:, None], st.q_in), 1, None)
    prior = np.maximum(st.q_in / 2 - chunk / 2, 0)
    rows = e.mixed_rows(G[:, None], st.context, chunk, prior, chunk / st.q_in)
    t_full = e.steps.time(rows).reshape(G.size, C.size)
    ttft = np.ceil(st.q_in / chunk) * t_full
    checks = {
        "tpot": np.broadcast_to((t_mix <= tg.tpot)[:, None], t_full.shape),
        "tbt": t_full <= tg.tbt,
        "ttft": ttft <= tg.ttft,
        "e2e": ttft + st.mean_out * t_mix[:, None] <= tg.e2e,
    }
    ok = np.logical_and.reduce(list(checks.values()))  # (B, C)
    idx, cap_i = largest(G, ok[:, None, :], cap)  # (S, C)
    feasible = idx >= 0
    i = np.maximum(idx, 0)
    ci = np.broadcast_to(np.arange(C.size), idx.shape)
    b = G[i]
    rate_b = b / (st.mean_out * t_mix[i])
    capacity = G[cap_i] / (st.mean_out * t_mix[cap_i])
    ttft_b = ttft[i, ci]
    rate = np.where(feasible, np.minimum(rate_b, rho_max(tg.ttft, ttft_b) * capacity), 0.0)
    binding = _agg_binding(checks, G, i, ci, b, cap, S, C, kv_b, feasible, rate < rate_b)
    rate, capacity = rate * v, capacity * v
    n = idx.size
    return {
        "mode": np.full(n, "aggregated", dtype=object),
        "instance": np.full(n, k),
        "prefill_instance": np.full(n, k),
        "max_num_seqs": np.repeat(np.asarray(seqs), C.size).astype(int),
        "token_budget": np.tile(C, S.size).astype(int),
        "prefill_replicas": np.zeros(n, int),
        "decode_replicas": np.ones(n, int),
        "gpus": np.full(n, inst.gpus),
        "batch": b.ravel(),
        "rate_rps": rate.ravel(),
        "capacity_rps": capacity.ravel(),
        "tpot_s": t_mix[i].ravel(),
        "ttft_s": ttft_b.ravel(),
        "binding": binding.ravel(),
        "feasible": feasible.ravel(),
    }


def _agg_binding(checks, G, i, ci, b, cap, S, C, kv_b, feasible, queue_bound) -> np.ndarray:
    """The constraint that stopped B (or, when none is feasible, the first SLO check B = 1
    fails; or 'ttft' when prompt queueing caps the rate)."""
    out = np.full(i.shape, "none", dtype=object)
    nxt = np.minimum(i + 1, G.size - 1)
    for name in ("e2e", "ttft", "tbt", "tpot"):  # last assignment wins: tpot first
        out = np.where(~checks[name][nxt, ci], name, out)
    at_cap = b >= cap * (1 - 1e-9)
    cap_name = np.where(
        cap == S[:, None], "max_num_seqs", np.where(cap >= kv_b * (1 - 1e-9), "kv", "token_budget")
    )
    out = np.where(at_cap, cap_name, out)
    out = np.where(feasible & queue_bound, "ttft", out)
    first_fail = np.full(i.shape, "none", dtype=object)
    for name in ("e2e", "ttft", "tbt", "tpot"):
        first_fail = np.where(~checks[name][0, ci], name, first_fail)
    return np.where(feasible, out, first_fail)


def instance_tables(inst: Instance, st: WorkloadStats, tg: Targets, seqs) -> dict:
    """Per-instance quantities of the disaggregated screen: as a prefill replica (rate at
    the TTFT target, zero-load TTFT with the KV transfer) and as a decode replica per
    max_num_seqs (largest batch meeting TPOT / TBT, its rate and TPOT)."""
    e = inst.engine
    hw = e.hardware
    t_q = float(e.prefill_time(np.array([st.q_in]))[0])
    k = max(1, min(PREFILL_BATCH, int(PREFILL_TOKENS // max(st.mean_in, 1))))
    p_cap = k / float(e.steps.prefill(st.mean_in, k)[0])
    transfer = st.q_in * e.kv_bytes_per_token * e.gpus / hw.link_bandwidth + hw.link_latency_s
    ttft0 = t_q + transfer
    v = inst.pp  # v pipeline batches in flight (PIPELINE above)
    p_cap *= v
    p_rate = float(rho_max(tg.ttft, ttft0)) * p_cap
    kv_b = kv_batch(inst, st)
    S = np.ceil(np.asarray(seqs, float) / v)
    cap = np.maximum(np.minimum(S, kv_b), 1.0)
    G = np.unique(np.concatenate([GRID, cap]))
    t_dec = e.decode_time(G, st.context)
    ok = (t_dec <= min(tg.tpot, tg.tbt)) & (ttft0 + st.mean_out * t_dec <= tg.e2e)
    idx, cap_i = largest(G, ok[:, None], cap)
    i = np.maximum(idx, 0)
    return {
        "ttft0": ttft0,
        "p_rate": p_rate,
        "p_cap": p_cap,
        "d_ok": idx >= 0,
        "d_batch": G[i],
        "d_rate": v * G[i] / (st.mean_out * t_dec[i]),
        "d_cap": v * G[cap_i] / (st.mean_out * t_dec[cap_i]),
        "d_tpot": t_dec[i],
        "d_bind": np.where(
            G[i] >= cap * (1 - 1e-9), np.where(cap == S, "max_num_seqs", "kv"), "tpot"
        ),
    }


def ratios(n: int) -> np.ndarray:
    """(x, y) prefill:decode replica counts up to n with gcd 1 (2:2 is two 1:1 units)."""
    return np.array([(x, y) for x in range(1, n + 1) for y in range(1, n + 1) if gcd(x, y) == 1])


def disaggregated(
    insts: list[Instance], ids: list[int], tables: list[dict], seqs, tg: Targets, n, max_gpus
) -> dict:
    """Screen rows (column arrays) of every (prefill instance, decode instance x
    max_num_seqs, x:y) among instances ``ids`` (one GPU type and quant)."""
    xy = ratios(n)
    P, D, S = len(ids), len(ids), len(seqs)
    g = np.array([insts[k].gpus for k in ids])
    p_rate = np.array([tables[k]["p_rate"] for k in ids])
    p_cap = np.array([tables[k]["p_cap"] for k in ids])
    ttft0 = np.array([tables[k]["ttft0"] for k in ids])
    d = {f: np.array([tables[k][f] for k in ids]) for f in ("d_ok", "d_batch", "d_rate", "d_cap")}
    d_tpot = np.array([tables[k]["d_tpot"] for k in ids])
    d_bind = np.array([tables[k]["d_bind"] for k in ids])
    shape = (P, D, S, len(xy))
    pi, di, si, ri = (a.ravel() for a in np.indices(shape))
    x, y = xy[ri, 0], xy[ri, 1]
    gpus = x * g[pi] + y * g[di]
    keep = gpus <= max_gpus
    pi, di, si, x, y, gpus = pi[keep], di[keep], si[keep], x[keep], y[keep], gpus[keep]
    pre, dec = x * p_rate[pi], y * d["d_rate"][di, si]
    feasible = d["d_ok"][di, si] & (p_rate[pi] > 0)
    rate = np.where(feasible, np.minimum(pre, dec), 0.0)
    capacity = np.minimum(x * p_cap[pi], y * d["d_cap"][di, si])
    bind = np.where(pre < dec, "prefill", d_bind[di, si])
    bind = np.where(feasible, bind, np.where(p_rate[pi] > 0, "tpot", "ttft"))
    seq = np.asarray(seqs)
    return {
        "mode": np.full(pi.size, "disaggregated", dtype=object),
        "instance": np.asarray(ids)[di],
        "prefill_instance": np.asarray(ids)[pi],
        "max_num_seqs": seq[si],
        "token_budget": np.zeros(pi.size, int),
        "prefill_replicas": x,
        "decode_replicas": y,
        "gpus": gpus,
        "batch": d["d_batch"][di, si],
        "rate_rps": rate,
        "capacity_rps": capacity,
        "tpot_s": d_tpot[di, si],
        "ttft_s": ttft0[pi],
        "binding": bind.astype(object),
        "feasible": feasible,
    }


def frame(parts: list[dict]) -> pd.DataFrame:
    """One DataFrame of the screen's column arrays (one concatenation per column)."""
    return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})
