"""Hand-checked FLOP and byte counts of one dense MHA, one GQA, one MoE and one MLA layer.

Every expected number is derived in the comment beside it from the shapes alone:
a linear (m x k) @ (k x n) is 2mnk FLOPs; attention is 2*2*pairs*head_dim per head."""

import pytest

from perfmodel import ModelSpec, Parallelism, estimate_step


def ops(model, batch, hw, **kw):
    est = estimate_step(model, hw, batch, quant=kw.pop("quant", "fp16"), **kw)
    return est.ops.set_index("op")


def test_dense_mha_prefill_layer(a100, tiny_dense):
    m = ModelSpec.from_hf_config(tiny_dense(), name="tiny")
    t = ops(m, [(8, 0)], a100)  # one 8-token prompt, fp16 (2 bytes)
    assert t.loc["qkv_proj", "flops"] == 2 * 8 * 64 * 192  # 196,608
    assert t.loc["qkv_proj", "bytes_weight"] == 64 * 192 * 2  # 24,576
    assert t.loc["qkv_proj", "bytes_act"] == 8 * 64 * 2 + 8 * 192 * 2  # in + out
    # causal pairs 8*9/2 = 36; 4 heads of 16: 4 * 36 * 4 * 16
    assert t.loc["attn", "flops"] == 9_216
    assert t.loc["attn", "bytes_kv"] == 8 * 2 * 4 * 16 * 2  # new K and V written once
    assert t.loc["o_proj", "flops"] == 2 * 8 * 64 * 64
    assert t.loc["gate_up_proj", "flops"] == 2 * 8 * 64 * 256
    assert t.loc["down_proj", "flops"] == 2 * 8 * 128 * 64
    assert t.loc["lm_head", "flops"] == 2 * 1 * 64 * 100  # last token only


def test_gqa_decode_layer_reads_kv_heads_once_per_sequence(a100, tiny_dense):
    m = ModelSpec.from_hf_config(
        tiny_dense(num_attention_heads=8, num_key_value_heads=2), name="gqa"
    )  # head_dim 8; qkv width (8 + 2*2) * 8 = 96
    t = ops(m, [(1, 10)] * 3, a100)  # 3 sequences decoding after 10 cached tokens
    assert t.loc["qkv_proj", "flops"] == 2 * 3 * 64 * 96
    # KV: 2 kv heads * 8 dims * K,V * 2 bytes = 64 B/token; read 3*10, write 3*1
    assert t.loc["attn", "bytes_kv"] == (30 + 3) * 64
    # pairs: each query sees 11 keys -> 33; 8 query heads of 8 dims
    assert t.loc["attn", "flops"] == 4 * 33 * 8 * 8


def test_moe_layer_reads_distinct_experts_touched(a100, tiny_dense):
    cfg = tiny_dense(hidden_size=32, num_attention_heads=2, num_key_value_heads=2)
    cfg |= {
        "model_type": "mixtral",
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "intermediate_size": 64,
    }
    m = ModelSpec.from_hf_config(cfg, name="moe")
    t = ops(m, [(1, 0)] * 2, a100)  # 2 tokens
    # E(1-(1-k/E)^T) = 4 * (1 - 0.5^2) = 3 experts; each 3*32*64 params * 2 bytes
    assert t.loc["experts", "bytes_weight"] == pytest.approx(3 * 3 * 32 * 64 * 2)
    # 2 tokens * top-2 = 4 assignments through a 3-matrix expert
    assert t.loc["experts", "flops"] == 2 * 4 * 32 * 64 * 3
    assert t.loc["router", "flops"] == 2 * 2 * 32 * 4


def mla_model(tiny_dense) -> ModelSpec:
    cfg = tiny_dense(num_attention_heads=2, num_key_value_heads=2)
    cfg |= {
        "model_type": "deepseek_v3",
        "q_lora_rank": 32,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 8,
        "qk_rope_head_dim": 4,
        "v_head_dim": 8,
    }
    return ModelSpec.from_hf_config(cfg, name="mla")


def test_mla_decode_uses_absorbed_form_and_latent_cache(a100, tiny_dense):
    t = ops(mla_model(tiny_dense), [(1, 5)], a100)
    # cache per token: kv_lora + rope = 20 values * 2 bytes; read 5, write 1
    assert t.loc["attn", "bytes_kv"] == 6 * 20 * 2
    # absorbed attention over the latent: 2 * pairs(6) * heads(2) * (2*16 + 4)
    assert t.loc["attn", "flops"] == 2 * 6 * 2 * 36
    # W_UK on q_nope and W_UV on the output: 2 * 1 token * 16 * 2 heads * (8 + 8)
    assert t.loc["kv_b_proj", "flops"] == 1_024
    assert t.loc["q_a_proj", "flops"] == 2 * 64 * 32
    assert t.loc["q_b_proj", "flops"] == 2 * 32 * 2 * 12
    assert t.loc["kv_a_proj", "flops"] == 2 * 64 * 20


def test_mla_prefill_expands_latents_per_head(a100, tiny_dense):
    t = ops(mla_model(tiny_dense), [(4, 0)], a100)
    # kv_b_proj expands 4 latents to 2 heads of (nope 8 + v 8)
    assert t.loc["kv_b_proj", "flops"] == 2 * 4 * 16 * 2 * 16
    # MHA with qk dim 12 and v dim 8: 2 * pairs(10) * 2 heads * (12 + 8)
    assert t.loc["attn", "flops"] == 800


def test_tensor_parallel_halves_gemm_flops_and_adds_two_all_reduces_per_layer(a100, tiny_dense):
    m = ModelSpec.from_hf_config(tiny_dense(num_hidden_layers=4), name="tp")
    one = ops(m, [(16, 0)], a100)
    two = ops(m, [(16, 0)], a100, parallelism=Parallelism(tp=2))
    assert two.loc["qkv_proj", "flops"] == one.loc["qkv_proj", "flops"] / 2
    assert two.loc["down_proj", "flops"] == one.loc["down_proj", "flops"] / 2
    assert two.loc["all_reduce", "count"] == 2 * 4 + 1  # per layer + vocab-parallel embed
    assert "all_reduce" not in one.index
