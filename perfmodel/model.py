"""ModelSpec: the shapes of a decoder-only transformer, read from a Hugging Face config.json.

Covers dense MHA/GQA/MQA, routed + shared-expert MoE (Mixtral, Qwen-MoE, DeepSeek), MLA
(DeepSeek-V2/V3: compressed KV latent + decoupled RoPE dims), gated (SwiGLU) and plain MLPs,
tied embeddings, qkv biases and sliding-window attention. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hardware_specs.yaml_strict import DuplicateKeyError, load_json

from .errors import PerfModelError

#: model_type values whose MLP is not gated and whose norms/linears carry biases (GPT-style).
PLAIN_MLP_TYPES = {"gpt2", "gpt_bigcode", "opt", "gpt_neox", "gptj", "falcon", "phi", "starcoder2"}

KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}


@dataclass(frozen=True)
class MoESpec:
    """Routed experts (``num_experts``, ``top_k``, per-expert FFN width) plus shared experts
    (a dense gated MLP of width ``shared_intermediate`` every MoE layer runs)."""

    num_experts: int
    top_k: int
    expert_intermediate: int
    shared_intermediate: int = 0
    shared_gate: bool = False  # Qwen2-MoE's sigmoid gate on the shared expert (d -> 1)
    num_moe_layers: int = 0


@dataclass(frozen=True)
class MLASpec:
    """Multi-head latent attention (DeepSeek-V2 paper, sec. 2.1): KV cache holds a latent of
    ``kv_lora_rank`` plus a shared RoPE key of ``qk_rope_head_dim`` per token and layer."""

    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts: ``total`` stored, ``active`` used per token (top-k experts only)."""

    total: int
    active: int
    breakdown: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per component of ``breakdown``: ``component, params``."""
        rows = [{"component": k, "params": v} for k, v in self.breakdown.items()]
        return pd.DataFrame(rows, columns=["component", "params"])


@dataclass(frozen=True)
class ModelSpec:
    """Shapes of a decoder-only transformer (one instance per model; immutable)."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    gated_mlp: bool = True
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    linear_bias: bool = False  # GPT-style: biases on o_proj and MLP, LayerNorm with bias
    qk_norm: bool = False  # Qwen3: RMSNorm on q and k heads
    max_position_embeddings: int = 4096
    sliding_window: int | None = None
    sliding_window_layers: int = 0
    moe: MoESpec | None = None
    mla: MLASpec | None = None
    dtype: str = "bf16"
    weight_quant: str | None = None  # format of a pre-quantized checkpoint (e.g. fp8)
    model_type: str = "llama"

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_hf_config(cls, config: str | Path | dict, name: str | None = None) -> ModelSpec:
        """Parse a Hugging Face ``config.json`` (a path or an already-loaded dict)."""
        source = "config"
        if not isinstance(config, dict):
            path = Path(config)
            if not path.is_file():
                raise PerfModelError(f"config file {str(path)!r} does not exist")
            source = str(path)
            try:
                config = load_json(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                msg = f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})"
                raise PerfModelError(msg) from None
            except (DuplicateKeyError, UnicodeDecodeError) as exc:
                raise PerfModelError(f"{source}: {exc}") from None
            if not isinstance(config, dict):
                kind = type(config).__name__
                raise PerfModelError(f"{source}: expected a JSON object of fields, got {kind}")
            name = name or path.stem
        from .hf_config import parse_hf_config

        return parse_hf_config(cls, config, name or config.get("_name_or_path") or "model", source)

    # ---- derived shapes -----------------------------------------------------------------
    @property
    def q_dim(self) -> int:
        """Width of the query projection output (all heads)."""
        return self.num_heads * (self.mla.qk_head_dim if self.mla else self.head_dim)

    @property
    def num_dense_layers(self) -> int:
        return self.num_layers - (self.moe.num_moe_layers if self.moe else 0)

    def kv_elements_per_token(self) -> int:
        """KV-cache elements per token per layer: 2*kv_heads*head_dim, or MLA's latent+rope."""
        if self.mla:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def attention_params(self) -> int:
        """Parameters of one attention block (projections, biases, MLA/q-k norms)."""
        d, h = self.hidden_size, self.num_heads
        if self.mla:
            m = self.mla
            q = d * h * m.qk_head_dim
            if m.q_lora_rank:
                q = d * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * h * m.qk_head_dim
            kv = d * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
            kv += m.kv_lora_rank * h * (m.qk_nope_head_dim + m.v_head_dim)
            return q + kv + h * m.v_head_dim * d
        qkv_out = (h + 2 * self.num_kv_heads) * self.head_dim
        params = d * qkv_out + h * self.head_dim * d
        params += qkv_out if self.qkv_bias else 0
        params += d if self.linear_bias else 0
        params += 2 * self.head_dim if self.qk_norm else 0
        return params

    def mlp_params(self, width: int) -> int:
        """Parameters of one MLP of intermediate width ``width`` (gated: 3*d*I; plain: 2*d*I)."""
        d = self.hidden_size
        params = (3 if self.gated_mlp else 2) * d * width
        return params + (width + d if self.linear_bias else 0)

    def norm_params(self) -> int:
        return self.hidden_size * (2 if self.linear_bias else 1)

    def param_count(self) -> ParamCount:
        """Total and active parameters (embeddings and lm_head included; MTP heads excluded)."""
        d, v = self.hidden_size, self.vocab_size
        parts = {
            "embed": v * d,
            "lm_head": 0 if self.tie_word_embeddings else v * d,
            "norm": (2 * self.num_layers + 1) * self.norm_params(),
            "attention": self.num_layers * self.attention_params(),
            "mlp": self.num_dense_layers * self.mlp_params(self.intermediate_size),
        }
        active_experts = 0
        if self.moe:
            m, n = self.moe, self.moe.num_moe_layers
            expert = self.mlp_params(m.expert_intermediate)
            parts["router"] = n * d * m.num_experts
            parts["shared_experts"] = n * (
                (self.mlp_params(m.shared_intermediate) if m.shared_intermediate else 0)
                + (d if m.shared_gate else 0)
            )
            parts["experts"] = n * m.num_experts * expert
            active_experts = n * m.top_k * expert
        total = sum(parts.values())
        active = total - parts.get("experts", 0) + active_experts
        return ParamCount(total=int(total), active=int(active), breakdown=parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
