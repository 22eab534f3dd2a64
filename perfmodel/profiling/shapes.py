"""Operator shapes of real models: GEMM (n, k) of each projection and attention head shapes,
per GPU under tensor parallelism tp, derived from `perfmodel.ModelSpec`.

Per GPU (h_q = heads/tp, h_kv = max(1, kv_heads/tp), d = hidden, I = FFN width):
qkv (n = (h_q + 2·h_kv)·head_dim, k = d); o (n = d, k = h_q·head_dim); gate_up (n = 2·I/tp,
k = d; I/tp when the MLP is not gated); down (n = d, k = I/tp); lm_head (n = vocab/tp, k = d);
MoE experts and shared experts like gate_up/down with their widths; MLA: q (or q_a, q_b),
kv_a, kv_b and o projections.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "configs"
TP_DEGREES: tuple[int, ...] = (1, 2, 4, 8)

NK = tuple[int, int]
HeadShape = tuple[int, int, int]


def validation_configs() -> list[Path]:
    """The validation models' HF configs shipped with the suite (configs/validate-*.json)."""
    return sorted(CONFIG_DIR.glob("validate-*.json"))


def load_specs(models: list[str] | None, include_validation: bool = True) -> list:
    """ModelSpecs of bundled model names (None: all bundled) plus the validation configs."""
    from perfmodel import ModelSpec, get_model, list_models

    names = list_models() if models is None else models
    extra = (
        [ModelSpec.from_hf_config(p) for p in validation_configs()] if include_validation else []
    )
    return [get_model(n) for n in names] + extra


def projection_shapes(spec, tp: int = 1) -> list[NK]:
    """(n, k) of every GEMM one layer (plus lm_head) of ``spec`` runs per GPU at ``tp``."""
    d = spec.hidden_size
    shapes = [(_div(spec.vocab_size, tp), d)]
    shapes += _mla_shapes(spec, tp) if spec.mla else _attention_shapes(spec, tp)
    up = 2 if spec.gated_mlp else 1
    widths = [spec.intermediate_size] if spec.num_dense_layers else []
    if spec.moe:
        widths += [spec.moe.expert_intermediate, spec.moe.shared_intermediate]
    for width in filter(None, widths):
        shapes += [(up * _div(width, tp), d), (d, _div(width, tp))]
    return shapes


def head_shape(spec, tp: int = 1) -> HeadShape | None:
    """(query heads, KV heads, head_dim) per GPU; None for MLA (latent attention)."""
    if spec.mla:
        return None
    return (_div(spec.num_heads, tp), max(1, spec.num_kv_heads // tp), spec.head_dim)


def model_shapes(
    specs: list, tps: tuple[int, ...] = TP_DEGREES
) -> tuple[list[NK], list[HeadShape]]:
    """Distinct GEMM (n, k) and attention head shapes of ``specs`` over the tp degrees that
    divide their head count."""
    gemms: dict[NK, None] = {}
    heads: dict[HeadShape, None] = {}
    for spec in specs:
        for tp in tps:
            if spec.num_heads % tp:
                continue
            gemms.update(dict.fromkeys(projection_shapes(spec, tp)))
            shape = head_shape(spec, tp)
            if shape:
                heads[shape] = None
    return list(gemms), list(heads)


def _attention_shapes(spec, tp: int) -> list[NK]:
    hq, hk = _div(spec.num_heads, tp), max(1, spec.num_kv_heads // tp)
    hd, d = spec.head_dim, spec.hidden_size
    return [((hq + 2 * hk) * hd, d), (d, hq * hd)]


def _mla_shapes(spec, tp: int) -> list[NK]:
    a, d, hq = spec.mla, spec.hidden_size, _div(spec.num_heads, tp)
    q = [(a.q_lora_rank, d), (hq * a.qk_head_dim, a.q_lora_rank)] if a.q_lora_rank else []
    q = q or [(hq * a.qk_head_dim, d)]
    kv = [(a.kv_lora_rank + a.qk_rope_head_dim, d)]
    kv += [(hq * (a.qk_nope_head_dim + a.v_head_dim), a.kv_lora_rank)]
    return q + kv + [(d, hq * a.v_head_dim)]


def _div(value: int, tp: int) -> int:
    return max(1, value // tp)
