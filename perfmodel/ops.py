"""The operator catalog: FLOPs and bytes (weights / activations / KV) of every operator of one
engine step, per GPU, for any mix of prefill, chunked-prefill and decode sequences.

Conventions (per GPU of a tp-way tensor-parallel group; L layers; T new tokens; d hidden):
- linear y = x W with x: (m, k), W: (k, n): FLOPs 2*m*n*k; bytes W*bytes_w + (x + y) activations.
- attention: 2*2*pairs*head_dim FLOPs per head (QK^T and PV); causal pairs from StepShape.
  FlashAttention-style IO: q, k, v of the new tokens and the output move once; cached KV is read
  once per sequence (GQA: only kv heads; MLA: the latent + rope key) and new KV written once.
- MLA (DeepSeek-V2, sec. 2.1): prefill runs the non-absorbed form (kv_b_proj expands every
  attended latent to per-head K/V, attention with qk dim nope+rope and v dim v_head_dim); decode
  runs the absorbed form (q_nope @ W_UK and out @ W_UV, attention over the latent: key dim
  kv_lora+rope, value dim kv_lora), as vLLM and SGLang do.
- MoE: at T tokens, top-k of E experts, the expected distinct experts touched per layer is
  E(1 - (1 - k/E)^T); expert weight bytes scale with that, FLOPs with T*k.
- tp shards heads and FFN widths (kv heads replicated when fewer than tp); embeddings and
  lm_head are vocab-parallel; MLA's down-projections (q_a, kv_a) and the router are replicated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import ModelSpec
from .parallel import Parallelism
from .quant import Quant
from .shape import StepShape

OP_ORDER = (
    "embed",
    "norm",
    "qkv_proj",
    "q_a_proj",
    "q_b_proj",
    "q_proj",
    "kv_a_proj",
    "kv_b_proj",
    "rope",
    "attn",
    "o_proj",
    "gate_up_proj",
    "act",
    "down_proj",
    "router",
    "experts",
    "lm_head",
    "all_reduce",
    "all_gather",
    "all_to_all",
    "p2p",
)


@dataclass
class Op:
    """One operator's totals for a step on one GPU (arrays over points).

    ``kind`` selects the roofline and calibration class: gemm, attn_prefill, attn_decode,
    memory or comm. ``count`` is kernel instances per step; ``resident`` the weight bytes this
    op keeps in the GPU's memory (for the memory model). Comm ops carry their message bytes in
    ``bytes_act`` and their collective shape in ``collective``. Decode attention of GQA/MHA
    models also carries its shape per kernel instance: ``seqs`` sequences reading
    ``kv_tokens`` cached tokens in all, with ``heads`` = (query heads, KV heads, head_dim) per
    GPU (prefill attention carries ``heads`` too). A decode kernel's speed depends on batch and
    KV length, which flops and bytes alone do not separate (1 sequence of 16k tokens and 16 of
    1k move the same bytes); a prefill kernel's on its head dimension."""

    name: str
    kind: str
    count: float
    flops: np.ndarray
    bytes_weight: np.ndarray
    bytes_act: np.ndarray
    bytes_kv: np.ndarray
    dtype: str
    resident: float = 0.0
    collective: str = ""
    ranks: int = 1
    seqs: np.ndarray | float = 0.0
    kv_tokens: np.ndarray | float = 0.0
    heads: tuple[int, int, int] | None = None

    def shape(self, seqs=None, kv_tokens=None) -> dict | None:
        """The shape a calibration keys on, or None: a collective's ``collective`` and
        ``ranks``; decode attention's batch, kv_len = kv_tokens / batch (arrays over points),
        heads, kv_heads, head_dim; prefill attention's heads, kv_heads, head_dim."""
        if self.kind == "comm":
            return {"collective": self.collective, "ranks": self.ranks}
        if self.heads is None:
            return None
        h, h_kv, d = self.heads
        if self.kind == "attn_prefill":
            return {"heads": h, "kv_heads": h_kv, "head_dim": d}
        seqs = np.asarray(self.seqs if seqs is None else seqs, dtype=float)
        kv = np.asarray(self.kv_tokens if kv_tokens is None else kv_tokens, dtype=float)
        kv_len = np.divide(kv, seqs, out=np.zeros(np.broadcast(kv, seqs).shape), where=seqs > 0)
        return {"batch": seqs, "kv_len": kv_len, "heads": h, "kv_heads": h_kv, "head_dim": d}


class OpBuilder:
    """Builds the op list of one step for (model, parallelism, quant)."""

    def __init__(self, model: ModelSpec, par: Parallelism, quant: Quant) -> None:
        self.m, self.p, self.q = model, par, quant
        self.tp = par.tp
        self.hq = model.num_heads / par.tp
        self.hk = max(1.0, model.num_kv_heads / par.tp)
        self.ops: list[Op] = []

    # ---- primitives -----------------------------------------------------------------------
    def linear(self, name, rows, k, n, count, shard=True, dtype=None, resident=True, w_bytes=None):
        """count x (rows, k) @ (k, n) GEMMs; n is already per-GPU when ``shard`` is False."""
        rows = np.asarray(rows, dtype=float)
        bw = self.q.bytes_weight if w_bytes is None else w_bytes
        weight = k * n * bw
        zero = np.zeros_like(rows)
        self.ops.append(
            Op(
                name=name,
                kind="gemm",
                count=count,
                flops=count * 2.0 * rows * k * n,
                bytes_weight=count * np.where(rows > 0, weight, 0.0),
                bytes_act=count * rows * (k * self.q.bytes_act + n * self.q.bytes_half),
                bytes_kv=zero,
                dtype=dtype or self.q.gemm,
                resident=count * weight if resident else 0.0,
            )
        )

    def memory_op(self, name, count, elements, moved_per_element, flops_per_element, weight=0.0):
        """Elementwise op over ``elements`` values, moving ``moved_per_element`` half-precision
        values each (reads + writes)."""
        elements = np.asarray(elements, dtype=float)
        zero = np.zeros_like(elements)
        read = count * np.where(elements > 0, weight, 0.0)
        self.ops.append(
            Op(
                name,
                "memory",
                count,
                count * flops_per_element * elements,
                read,
                count * moved_per_element * elements * self.q.bytes_half,
                zero,
                self.q.half,
                resident=count * weight,
            )
        )

    def comm(self, name, count, message, collective, ranks):
        message = np.asarray(message, dtype=float)
        zero = np.zeros_like(message)
        self.ops.append(
            Op(
                name,
                "comm",
                count,
                zero,
                zero,
                count * message,
                zero,
                self.q.half,
                collective=collective,
                ranks=ranks,
            )
        )

    # ---- the model ------------------------------------------------------------------------
    def build(self, s: StepShape) -> list[Op]:
        m, L, d, h = self.m, self.m.num_layers, self.m.hidden_size, self.q.bytes_half
        T = s.tokens
        vocab_shard = m.vocab_size / self.tp
        self.memory_op("embed", 1, T * d, 1, 0, weight=vocab_shard * d * h)
        self.ops[-1].bytes_weight = T * d * h / self.tp  # rows looked up on this shard
        self.memory_op("norm", 2 * L + 1, T * d, 4, 5, weight=d * h)
        self._mla(s) if m.mla else self._attention(s)
        self._mlps(s)
        lm_resident = not (m.tie_word_embeddings and self.p.pp == 1)
        self.linear(
            "lm_head",
            s.logits,
            d,
            vocab_shard,
            1,
            dtype=self.q.half,
            resident=lm_resident,
            w_bytes=h,
        )
        self._communication(s)
        return self.ops

    def _attention(self, s: StepShape) -> None:
        m, L, d, hd = self.m, self.m.num_layers, self.m.hidden_size, self.m.head_dim
        qkv = (self.hq + 2 * self.hk) * hd
        self.linear("qkv_proj", s.tokens, d, qkv, L)
        if m.qk_norm:
            self.memory_op("norm", 2 * L, s.tokens * (self.hq + self.hk) * hd / 2, 2, 4)
        self.memory_op("rope", L, s.tokens * (self.hq + self.hk) * hd, 2, 3)
        kv_token = 2 * self.hk * hd * self.q.bytes_kv
        for kind, toks, pairs, cached in self._classes(s):
            act = toks * (2 * self.hq + 2 * self.hk) * hd * self.q.bytes_half
            op = self._attn(kind, L, 4 * pairs * self.hq * hd, act, (cached + toks) * kv_token)
            op.heads = (self.hq, self.hk, hd)
            if kind == "attn_decode":
                op.seqs, op.kv_tokens = toks, cached + toks
        self.linear("o_proj", s.tokens, self.hq * hd, d, L)

    def _mla(self, s: StepShape) -> None:
        L, d, a = self.m.num_layers, self.m.hidden_size, self.m.mla
        hq, r, rope, h = self.hq, a.kv_lora_rank, a.qk_rope_head_dim, self.q.bytes_half
        if a.q_lora_rank:
            self.linear("q_a_proj", s.tokens, d, a.q_lora_rank, L)
            self.memory_op("norm", L, s.tokens * a.q_lora_rank, 2, 5, weight=a.q_lora_rank * h)
            self.linear("q_b_proj", s.tokens, a.q_lora_rank, hq * a.qk_head_dim, L)
        else:
            self.linear("q_proj", s.tokens, d, hq * a.qk_head_dim, L)
        self.linear("kv_a_proj", s.tokens, d, r + rope, L)
        self.memory_op("norm", L, s.tokens * r, 2, 5, weight=r * h)
        expanded = s.pre_cached + s.pre_tokens + s.dec_tokens  # latents expanded or absorbed
        self.linear("kv_b_proj", expanded, r, hq * (a.qk_nope_head_dim + a.v_head_dim), L)
        self.memory_op("rope", L, s.tokens * (hq + 1) * rope, 2, 3)
        kv_token = (r + rope) * self.q.bytes_kv
        pre_io = (
            s.pre_tokens * hq * (a.qk_head_dim + a.v_head_dim)
            + (s.pre_cached + s.pre_tokens) * hq * (a.qk_head_dim + a.v_head_dim)
        ) * h
        dec_io = s.dec_tokens * hq * (2 * r + rope) * h
        self._attn(
            "attn_prefill",
            L,
            2 * s.pre_pairs * hq * (a.qk_head_dim + a.v_head_dim),
            pre_io,
            (s.pre_cached + s.pre_tokens) * kv_token,
        )
        self._attn(
            "attn_decode",
            L,
            2 * s.dec_pairs * hq * (2 * r + rope),
            dec_io,
            (s.dec_cached + s.dec_tokens) * kv_token,
        )
        self.linear("o_proj", s.tokens, hq * a.v_head_dim, d, L)

    def _classes(self, s: StepShape):
        yield "attn_prefill", s.pre_tokens, s.pre_pairs, s.pre_cached
        yield "attn_decode", s.dec_tokens, s.dec_pairs, s.dec_cached

    def _attn(self, kind, count, flops, act, kv) -> Op:
        zero = np.zeros_like(np.asarray(flops, dtype=float))
        op = Op("attn", kind, count, count * flops, zero, count * act, count * kv, self.q.half)
        self.ops.append(op)
        return op

    def _mlps(self, s: StepShape) -> None:
        m, T = self.m, s.tokens
        if m.num_dense_layers:
            self._mlp(T, m.intermediate_size / self.tp, m.num_dense_layers)
        if m.moe:
            moe = m.moe
            if moe.shared_intermediate:
                self._mlp(T, moe.shared_intermediate / self.tp, moe.num_moe_layers)
            self.linear(
                "router",
                T,
                m.hidden_size,
                moe.num_experts,
                moe.num_moe_layers,
                dtype=self.q.half,
                w_bytes=self.q.bytes_half,
            )
            self._experts(T)

    def _mlp(self, T, width, count) -> None:
        d, up = self.m.hidden_size, 2 if self.m.gated_mlp else 1
        self.linear("gate_up_proj", T, d, up * width, count)
        self.memory_op("act", count, T * width, up + 1, 4)
        self.linear("down_proj", T, width, d, count)

    def _experts(self, T) -> None:
        """Routed experts of all MoE layers as one grouped GEMM per layer (gate_up + down).
        With ep > 1 the MoE group spans tp*dp ranks and sees every dp rank's tokens."""
        m, moe, p, q = self.m, self.m.moe, self.p, self.q
        layers, d, up = moe.num_moe_layers, m.hidden_size, 2 if m.gated_mlp else 1
        group_tokens = T * (p.dp if p.ep > 1 else 1)
        expert_tp = p.expert_tp if p.ep > 1 else p.tp
        width = moe.expert_intermediate / expert_tp
        local = moe.num_experts / p.ep
        touched = local * touched_fraction(m, p, T)
        rows = group_tokens * moe.top_k / p.ep  # token-expert assignments on this GPU
        per_expert = (up + 1) * d * width * q.bytes_weight
        self.ops.append(
            Op(
                name="experts",
                kind="gemm",
                count=layers,
                flops=layers * 2.0 * rows * d * width * (up + 1),
                bytes_weight=layers * touched * per_expert,
                bytes_act=layers
                * rows
                * (d * (q.bytes_act + q.bytes_half) + width * (up + 1) * q.bytes_half),
                bytes_kv=np.zeros_like(rows),
                dtype=q.gemm,
                resident=layers * local * per_expert,
            )
        )
        self.memory_op("act", layers, rows * width, up + 1, 4)

    def _communication(self, s: StepShape) -> None:
        m, p, T, d = self.m, self.p, s.tokens, self.m.hidden_size
        h = self.q.bytes_half
        if p.tp > 1:
            moe_layers = m.moe.num_moe_layers if m.moe else 0
            moe_reduce = p.ep == 1 or p.expert_tp > 1 or bool(m.moe and m.moe.shared_intermediate)
            count = 1 + m.num_layers + m.num_dense_layers + (moe_layers if moe_reduce else 0)
            self.comm("all_reduce", count, T * d * h, "all_reduce", p.tp)
            self.comm("all_gather", 1, s.logits * m.vocab_size * h, "all_gather", p.tp)
        if m.moe and p.ep > 1:
            message = T * m.moe.top_k * d * h
            self.comm("all_to_all", 2 * m.moe.num_moe_layers, message, "all_to_all", p.tp * p.dp)
        if p.pp > 1:
            self.comm("p2p", p.pp - 1, T * d * h, "p2p", p.tp * p.pp)


def touched_fraction(model: ModelSpec, par: Parallelism, tokens):
    """Expected fraction of a GPU's experts that ``tokens`` new tokens (per dp rank) touch in one
    MoE layer: 1 - (1 - k/E)^T_group, T_group = tokens of every dp rank when ep > 1 (as
    -expm1(T·log1p(-k/E)): an exponential costs a tenth of a power on a long array)."""
    moe = model.moe
    group_tokens = np.asarray(tokens, dtype=float) * (par.dp if par.ep > 1 else 1)
    return -np.expm1(group_tokens * np.log1p(-moe.top_k / moe.num_experts))


def build_ops(model: ModelSpec, shape: StepShape, par: Parallelism, quant: Quant) -> list[Op]:
    """All operators of one step (or micro-batch) of ``shape`` on one GPU."""
    return OpBuilder(model, par, quant).build(shape)
