"""Parse a Hugging Face config.json dict into a ModelSpec (field names per transformers'
LlamaConfig, MistralConfig, MixtralConfig, Qwen2/Qwen2-MoE/Qwen3(-MoE)Config, DeepseekV2/V3Config,
and the GPT-2/OPT/NeoX key aliases)."""

from __future__ import annotations

from typing import Any

from .dtypes import canonical
from .errors import PerfModelError
from .model import KEY_ALIASES, PLAIN_MLP_TYPES, MLASpec, MoESpec

QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"}
QK_NORM_TYPES = {"qwen3", "qwen3_moe"}
QUANT_METHODS = {"fp8": "fp8", "fbgemm_fp8": "fp8", "mxfp4": "fp4", "modelopt": "fp4"}


class _Reader:
    """Typed access to config fields with one-line errors naming the file and the field."""

    def __init__(self, cfg: dict[str, Any], source: str) -> None:
        self.cfg, self.source = cfg, source

    def first(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.cfg.get(key) is not None:
                return self.cfg[key]
        return default

    def positive_int(self, field: str, *keys: str, default: Any = None) -> int:
        value = self.first(*(keys or KEY_ALIASES[field]), default=default)
        if value is None:
            names = " / ".join(keys or KEY_ALIASES[field])
            raise PerfModelError(f"{self.source}: missing required field {names!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise PerfModelError(
                f"{self.source}: field {field!r} must be an integer, got {value!r}"
            )
        if value <= 0:
            raise PerfModelError(f"{self.source}: field {field!r} must be > 0, got {value!r}")
        return int(value)


def parse_hf_config(cls, cfg: dict[str, Any], name: str, source: str):
    """Build ``cls`` (ModelSpec) from a config dict; see the module docstring for the keys."""
    r = _Reader(cfg, source)
    model_type = str(cfg.get("model_type", "llama")).lower()
    plain = model_type in PLAIN_MLP_TYPES
    d = r.positive_int("hidden_size")
    layers = r.positive_int("num_layers")
    heads = r.positive_int("num_heads")
    mla = _mla(r)
    kv_default = 1 if cfg.get("multi_query") else heads
    kv_heads = (
        heads
        if mla
        else r.positive_int(
            "num_key_value_heads", "num_key_value_heads", "num_kv_heads", default=kv_default
        )
    )
    if heads % kv_heads:
        raise PerfModelError(
            f"{source}: num_attention_heads={heads} is not a multiple of "
            f"num_key_value_heads={kv_heads}"
        )
    head_dim = (
        mla.qk_head_dim if mla else r.positive_int("head_dim", "head_dim", default=d // heads)
    )
    window, window_layers = _sliding_window(r, layers)
    return cls(
        name=name,
        hidden_size=d,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=r.positive_int(
            "intermediate_size", "intermediate_size", "n_inner", "ffn_dim", default=4 * d
        ),
        vocab_size=r.positive_int("vocab_size"),
        gated_mlp=not plain,
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", plain)),
        qkv_bias=bool(cfg.get("attention_bias", model_type in QKV_BIAS_TYPES or plain)),
        linear_bias=plain,
        qk_norm=model_type in QK_NORM_TYPES,
        max_position_embeddings=r.positive_int(
            "max_position_embeddings", "max_position_embeddings", "n_positions", default=4096
        ),
        sliding_window=window,
        sliding_window_layers=window_layers,
        moe=_moe(r, layers),
        mla=mla,
        dtype=_dtype(r),
        weight_quant=_weight_quant(cfg),
        model_type=model_type,
    )


def _dtype(r: _Reader) -> str:
    raw = r.first("torch_dtype", "dtype", default="bfloat16")
    try:
        return canonical(str(raw).replace("torch.", ""), "torch_dtype")
    except PerfModelError as exc:
        raise PerfModelError(f"{r.source}: {exc}") from None


def _weight_quant(cfg: dict[str, Any]) -> str | None:
    qc = cfg.get("quantization_config") or {}
    method = str(qc.get("quant_method", "")).lower()
    if method in ("awq", "gptq") and qc.get("bits", 4) == 4:
        return "int4"
    return QUANT_METHODS.get(method)


def _sliding_window(r: _Reader, layers: int) -> tuple[int | None, int]:
    """(window, number of layers using it); Qwen2 applies it from ``max_window_layers`` on."""
    window = r.cfg.get("sliding_window")
    if not window or r.cfg.get("use_sliding_window") is False:
        return None, 0
    if isinstance(r.cfg.get("layer_types"), list):
        count = sum(t == "sliding_attention" for t in r.cfg["layer_types"])
    elif r.cfg.get("use_sliding_window") and "max_window_layers" in r.cfg:
        count = max(0, layers - int(r.cfg["max_window_layers"]))
    else:
        count = layers
    return (int(window), count) if count else (None, 0)


def _moe(r: _Reader, layers: int) -> MoESpec | None:
    experts = r.first("num_local_experts", "num_experts", "n_routed_experts")
    if not experts or experts <= 1:
        return None
    experts = r.positive_int("num_experts", "num_local_experts", "num_experts", "n_routed_experts")
    top_k = r.positive_int("num_experts_per_tok", "num_experts_per_tok", "moe_topk", "top_k")
    if top_k > experts:
        raise PerfModelError(f"{r.source}: num_experts_per_tok={top_k} > num_experts={experts}")
    width = r.positive_int("moe_intermediate_size", "moe_intermediate_size", "intermediate_size")
    n_shared = int(r.first("n_shared_experts", default=0) or 0)
    shared = n_shared * width or int(r.first("shared_expert_intermediate_size", default=0) or 0)
    return MoESpec(
        num_experts=experts,
        top_k=top_k,
        expert_intermediate=width,
        shared_intermediate=shared,
        shared_gate="shared_expert_intermediate_size" in r.cfg and shared > 0,
        num_moe_layers=_moe_layer_count(r.cfg, layers),
    )


def _moe_layer_count(cfg: dict[str, Any], layers: int) -> int:
    """DeepSeek: layer i is MoE if i >= first_k_dense_replace and i % moe_layer_freq == 0;
    Qwen-MoE: if i not in mlp_only_layers and (i+1) % decoder_sparse_step == 0; else all."""
    if "first_k_dense_replace" in cfg:
        first, freq = int(cfg["first_k_dense_replace"]), int(cfg.get("moe_layer_freq", 1) or 1)
        return sum(1 for i in range(layers) if i >= first and i % freq == 0)
    step = int(cfg.get("decoder_sparse_step", 1) or 1)
    only = set(cfg.get("mlp_only_layers") or [])
    return sum(1 for i in range(layers) if i not in only and (i + 1) % step == 0)


def _mla(r: _Reader) -> MLASpec | None:
    if not r.cfg.get("kv_lora_rank"):
        return None
    q_lora = r.cfg.get("q_lora_rank")
    return MLASpec(
        q_lora_rank=int(q_lora) if q_lora else None,
        kv_lora_rank=r.positive_int("kv_lora_rank", "kv_lora_rank"),
        qk_nope_head_dim=r.positive_int("qk_nope_head_dim", "qk_nope_head_dim"),
        qk_rope_head_dim=r.positive_int("qk_rope_head_dim", "qk_rope_head_dim"),
        v_head_dim=r.positive_int("v_head_dim", "v_head_dim"),
    )
