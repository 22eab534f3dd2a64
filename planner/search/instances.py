"""Instance configurations of a search (GPU type x tp x pp x ep x quant), pruned with reasons.

Pruning, in this order, each counted under its reason:
- size: tp·pp above the space's max_gpus_per_unit;
- topology: a tp group larger than one node (gpus_per_node of the accelerator catalog) unless
  the space allows tp across nodes (pp may span nodes: its p2p sends are small);
- divisibility: tp must divide the attention heads (and divide or be a multiple of the KV
  heads), pp at most the layers, ep must divide the experts (perfmodel.plan_checks);
- quant: the chip has no tensor-core format for the quant's GEMMs (e.g. fp4 before Blackwell);
- memory: weights + activations + reserve leave no KV for the workload's largest request
  (prompt + output) at the engine's memory share (perfmodel.memory).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from perfmodel import Parallelism
from perfmodel.errors import ModelDoesNotFitError, PerfModelError
from perfmodel.memory import memory_footprint
from perfmodel.plan_checks import check_plan
from perfmodel.roofline import peak
from planner.serving.engine import Engine

from .space import SearchSpace, parse_quant

_ANY_GPU = SimpleNamespace(memory_bytes=0.0)  # the footprint's fixed parts need no GPU


@dataclass
class Instance:
    """One surviving (gpu, tp, pp, ep, quant) with its Engine (chunked prefill at the space's
    largest limits; the KV capacity does not depend on them)."""

    gpu: str
    tp: int
    pp: int
    ep: int
    quant: str
    engine: Engine
    price_usd_per_hour: float
    tdp_w: float

    @property
    def gpus(self) -> int:
        return self.tp * self.pp


@dataclass
class Instances:
    """Survivors, the count pruned per reason, and one example per reason."""

    kept: list[Instance]
    pruned: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def prune(self, reason: str, example: str) -> None:
        self.pruned[reason] += 1
        self.examples.setdefault(reason, example)


def ep_values(model, space: SearchSpace, tp: int) -> list[int]:
    """ep degrees tried with ``tp``: the space's (those dividing tp), or 1 for dense models and
    {1, tp} for MoE."""
    if space.ep is not None:
        return sorted({e for e in space.ep if tp % e == 0})
    return [1] if model.moe is None else sorted({1, tp})


def enumerate_instances(
    model, space: SearchSpace, need_tokens: int, calibration="default", engine=None
) -> Instances:
    """Every (gpu, tp, pp, ep, quant) of ``space`` for ``model``, pruned (module docstring);
    ``need_tokens`` is the largest request's KV (prompt + output tokens)."""
    out, fixed = Instances([]), {}
    sched = {
        "kind": "chunked",
        "max_num_seqs": max(space.max_num_seqs),
        "token_budget": max(space.token_budget),
        "memory_utilization": space.memory_utilization,
    }
    for hw in space.accelerators():
        for tp in space.tp:
            for pp in space.pp:
                for ep in ep_values(model, space, tp):
                    for q in space.quant:
                        label = f"{hw.name} tp={tp} pp={pp} ep={ep} {q}"
                        reason = _static_reason(model, hw, space, tp, pp, ep, q)
                        if reason:
                            out.prune(reason, label)
                            continue
                        par = Parallelism(tp=tp, pp=pp, ep=ep)
                        key = (tp, pp, ep, q)
                        if key not in fixed:  # the same on every GPU type
                            fixed[key] = fixed_bytes(model, par, q, sched["token_budget"])
                        held, per_token = fixed[key]
                        usable = space.memory_utilization * hw.memory_bytes - held
                        if usable < need_tokens * per_token:  # before building an Engine
                            out.prune("memory", label)
                            continue
                        try:
                            e = Engine.build(
                                model, hw, par, sched, parse_quant(q), calibration, engine
                            )
                        except ModelDoesNotFitError:
                            out.prune("memory", label)
                            continue
                        if e.kv_tokens < need_tokens:
                            out.prune("memory", label)
                            continue
                        price = hw.price.usd_per_hour
                        out.kept.append(Instance(hw.name, tp, pp, ep, q, e, price, hw.tdp_w))
    return out


def fixed_bytes(model, par, quant: str, budget: int) -> tuple[float, float]:
    """(weights + activations + reserve, KV bytes per token) on one GPU: what a GPU of any
    memory size must hold (perfmodel.memory)."""
    q = parse_quant(quant)
    fp = memory_footprint(model, _ANY_GPU, par, q, 1.0, max_num_batched_tokens=budget)
    return fp.weights_bytes + fp.activation_bytes + fp.reserve_bytes, fp.kv_bytes_per_token


def _static_reason(model, hw, space, tp, pp, ep, q) -> str | None:
    """The first pruning reason that needs no Engine (size, topology, divisibility, quant)."""
    if tp * pp > space.max_gpus_per_unit:
        return "size"
    if tp > hw.gpus_per_node and not space.cross_node_tp:
        return "topology"
    try:
        check_plan(model, hw, Parallelism(tp=tp, pp=pp, ep=ep))
    except PerfModelError:
        return "divisibility"
    try:
        peak(hw, parse_quant(q).gemm)
    except PerfModelError:
        return "quant"
    return None


def instance_table(kept: list[Instance]) -> dict[str, np.ndarray]:
    """Column arrays of the survivors (one entry per instance)."""
    return {
        "gpu": np.array([i.gpu for i in kept], dtype=object),
        "tp": np.array([i.tp for i in kept]),
        "pp": np.array([i.pp for i in kept]),
        "ep": np.array([i.ep for i in kept]),
        "quant": np.array([i.quant for i in kept], dtype=object),
        "gpus": np.array([i.gpus for i in kept]),
        "price": np.array([i.price_usd_per_hour for i in kept]),
        "tdp": np.array([i.tdp_w for i in kept]),
        "kv_tokens": np.array([i.engine.kv_tokens for i in kept], dtype=float),
    }
