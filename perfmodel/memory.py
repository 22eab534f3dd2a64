"""Memory per GPU: weights, KV cache per token and per sequence, activation workspace, runtime
reserve; KV token capacity and the largest batch at a context length (vLLM-style paged blocks).

Budget (as vLLM's gpu_memory_utilization): KV capacity = u * memory - weights - activations
- reserve. Weights are the resident bytes of the operator catalog on the largest pipeline
stage. Activation workspace: the peak of one forward over ``max_num_batched_tokens`` tokens,
~ tokens * 2 * (2d + max(qkv, gate_up width)) half-precision values, plus fp32 logits of up to
``max_num_seqs`` rows (vLLM's profile run). Reserve: CUDA context, cuBLAS/NCCL workspaces and
CUDA graphs, 1 GiB by default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from .model import ModelSpec
from .ops import build_ops
from .parallel import Parallelism
from .quant import Quant
from .shape import StepShape

GIB = 2**30
DEFAULT_RESERVE_BYTES = 1.0 * GIB


@dataclass(frozen=True)
class MemoryFootprint:
    """Per-GPU memory under a plan (bytes), and what is left for the KV cache."""

    total_bytes: float
    budget_bytes: float
    weights_bytes: float
    activation_bytes: float
    reserve_bytes: float
    kv_bytes_per_token: float
    kv_capacity_bytes: float
    kv_capacity_tokens: int
    kv_needed_bytes: float = 0.0

    @property
    def fits(self) -> bool:
        """Weights fit and the step's KV cache fits in what is left."""
        return self.kv_capacity_bytes > 0 and self.kv_needed_bytes <= self.kv_capacity_bytes

    def to_dict(self) -> dict:
        return asdict(self) | {"fits": self.fits}

    def to_frame(self) -> pd.DataFrame:
        """One row: every byte count, the KV capacity and ``fits``."""
        return pd.DataFrame([self.to_dict()])


def weight_bytes(model: ModelSpec, par: Parallelism, quant: Quant) -> float:
    """Resident weight bytes on the largest pipeline stage of one GPU."""
    ops = build_ops(model, StepShape.from_grid(1, 1, 0, model), par, quant)
    edge = {"embed", "lm_head"}
    layers = sum(op.resident for op in ops if op.name not in edge)
    ends = [op.resident for op in ops if op.name in edge]
    if par.pp == 1:
        return layers + sum(ends)
    return layers * math.ceil(model.num_layers / par.pp) / model.num_layers + max(ends)


def kv_bytes_per_token(model: ModelSpec, par: Parallelism, quant: Quant) -> float:
    """KV-cache bytes per token on one GPU (all its layers; kv heads replicated if < tp;
    MLA's latent is replicated across tp ranks)."""
    per_layer = model.kv_elements_per_token() * quant.bytes_kv
    if not model.mla:
        per_layer *= max(1.0, model.num_kv_heads / par.tp) / model.num_kv_heads
    return per_layer * math.ceil(model.num_layers / par.pp)


def kv_bytes_per_sequence(model, par, quant, context_len, block_size: int = 16) -> float:
    """KV bytes one sequence of ``context_len`` tokens holds, in whole paged blocks;
    sliding-window layers keep at most the window."""

    def blocks(tokens):
        return math.ceil(tokens / block_size) * block_size

    per_token = kv_bytes_per_token(model, par, quant)
    share = model.sliding_window_layers / model.num_layers if model.sliding_window else 0.0
    window = min(context_len, model.sliding_window or context_len)
    return per_token * ((1 - share) * blocks(context_len) + share * blocks(window))


def activation_bytes(model, par, quant, max_num_batched_tokens=8192, max_num_seqs=256):
    """Peak activation workspace of one forward (see module docstring)."""
    d, tp = model.hidden_size, par.tp
    up = 2 if model.gated_mlp else 1
    widths = [up * model.intermediate_size / tp, model.q_dim / tp * 3]
    if model.moe:
        widths.append(up * model.moe.expert_intermediate * model.moe.top_k / tp)
    per_token = 2 * (2 * d + max(widths)) * quant.bytes_half
    logits = min(max_num_seqs, max_num_batched_tokens) * model.vocab_size / tp * 4
    return max_num_batched_tokens * per_token + logits


def memory_footprint(
    model: ModelSpec,
    hardware,
    par: Parallelism,
    quant: Quant,
    memory_utilization: float = 0.9,
    reserve_bytes: float = DEFAULT_RESERVE_BYTES,
    kv_needed_tokens: float = 0.0,
    max_num_batched_tokens: int = 8192,
) -> MemoryFootprint:
    """Footprint of one GPU; ``kv_needed_tokens`` sizes a step's own KV for ``fits``."""
    total = hardware.memory_bytes
    budget = memory_utilization * total
    weights = weight_bytes(model, par, quant)
    act = activation_bytes(model, par, quant, max_num_batched_tokens)
    per_token = kv_bytes_per_token(model, par, quant)
    kv_cap = budget - weights - act - reserve_bytes
    return MemoryFootprint(
        total_bytes=total,
        budget_bytes=budget,
        weights_bytes=weights,
        activation_bytes=act,
        reserve_bytes=reserve_bytes,
        kv_bytes_per_token=per_token,
        kv_capacity_bytes=kv_cap,
        kv_capacity_tokens=max(0, int(kv_cap // per_token)),
        kv_needed_bytes=kv_needed_tokens * per_token,
    )
