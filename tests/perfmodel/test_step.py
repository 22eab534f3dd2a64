"""Whole-step behaviour: the acceptance figures, KV accounting, MoE, windows, quantization,
parallelism and the equivalence of the vectorized and per-step paths."""

import numpy as np
import pytest

import perfmodel as pm
from perfmodel import Parallelism, Quant, estimate_grid, estimate_step

A100_BW = 2039e9  # bytes/s, A100-SXM4-80GB datasheet


def test_llama2_7b_decode_on_a100_is_memory_bound_near_bytes_over_bandwidth():
    est = estimate_step("llama-2-7b", "a100-80gb", [(1, 1024)], quant="bf16")
    assert 5.5e-3 <= est.time_s <= 8e-3
    assert est.bound == "memory"
    # weights: 6.738e9 params * 2 bytes, minus the embedding table (only 1 row is read)
    weights = (6_738_415_616 - 32000 * 4096) * 2
    kv = 1025 * 32 * 2 * 4096 * 2  # 1024 cached + 1 new token, K and V, 32 layers
    assert est.time_s == pytest.approx((weights + kv) / A100_BW, rel=0.10)


def test_llama2_7b_prefill_1024_on_a100_takes_40_to_60_ms():
    est = estimate_step("llama-2-7b", "a100-80gb", [(1024, 0)], quant="bf16")
    assert 40e-3 <= est.time_s <= 60e-3
    assert est.bound == "compute"


def test_kv_bytes_are_counted_once_per_sequence_and_gqa_aware():
    # Llama-3.1-8B: 8 kv heads * 128 dims * (K, V) * 2 bytes * 32 layers = 131,072 B/token
    est = estimate_step("llama-3.1-8b", "h100", [(1, 2000)] * 16, quant="bf16")
    assert est.bytes_kv == 16 * 2001 * 131_072


def test_mla_kv_cache_is_the_latent_plus_rope_key():
    # DeepSeek-V3: (512 + 64) values * 2 bytes * 61 layers per token
    mem = estimate_step("deepseek-v3", "h200", [(1, 100)], Parallelism(tp=8)).memory
    assert mem.kv_bytes_per_token == 576 * 2 * 61


def test_moe_decode_weight_bytes_follow_distinct_experts():
    one = estimate_step("mixtral-8x7b", "h100", [(1, 100)], Parallelism(tp=2))
    many = estimate_step("mixtral-8x7b", "h100", [(1, 100)] * 64, Parallelism(tp=2))
    e1 = one.ops.set_index("op").loc["experts", "bytes_weight"]
    e64 = many.ops.set_index("op").loc["experts", "bytes_weight"]
    # batch 1 touches k = 2 experts; batch 64 touches 8(1 - 0.75^64) ~ 8 of 8
    assert e64 / e1 == pytest.approx(8 * (1 - 0.75**64) / 2)


def test_sliding_window_caps_the_kv_read_at_the_window():
    short = estimate_step("mistral-7b", "h100", [(1, 4096)])
    long = estimate_step("mistral-7b", "h100", [(1, 16000)])
    per_token = 32 * 2 * 8 * 128 * 2
    assert long.bytes_kv == pytest.approx((4096 + 1) * per_token)
    assert short.bytes_kv == pytest.approx((4096 + 1) * per_token)


def test_prefill_sends_only_the_last_token_through_lm_head():
    a = estimate_step("llama-2-7b", "a100", [(128, 0)]).ops.set_index("op")
    b = estimate_step("llama-2-7b", "a100", [(2048, 0)]).ops.set_index("op")
    assert a.loc["lm_head", "flops"] == b.loc["lm_head", "flops"] == 2 * 4096 * 32000


def test_a_non_final_chunk_skips_lm_head():
    t = estimate_step("llama-2-7b", "a100", [(512, 1024, False)]).ops
    assert "lm_head" not in set(t.op)


def test_mixed_step_adds_flops_but_reads_weights_once():
    decode = estimate_step("llama-3.1-8b", "h100", [(1, 1000)] * 32)
    chunk = estimate_step("llama-3.1-8b", "h100", [(512, 0)])
    mixed = estimate_step("llama-3.1-8b", "h100", [(1, 1000)] * 32 + [(512, 0)])
    assert mixed.flops == pytest.approx(decode.flops + chunk.flops)
    assert mixed.bytes_weight < decode.bytes_weight + chunk.bytes_weight
    assert mixed.time_s < decode.time_s + chunk.time_s


def test_fp8_prefill_uses_the_fp8_tensor_core_peak_on_h100():
    bf16 = estimate_step("llama-3.1-8b", "h100", [(4096, 0)], quant="bf16")
    fp8 = estimate_step("llama-3.1-8b", "h100", [(4096, 0)], quant="fp8")
    gemm = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    t_bf16 = bf16.ops.set_index("op").loc[gemm, "time_s"].sum()
    t_fp8 = fp8.ops.set_index("op").loc[gemm, "time_s"].sum()
    assert t_fp8 == pytest.approx(t_bf16 / 2, rel=0.02)  # 1978.9 vs 989.4 TFLOP/s


def test_fp8_on_a100_falls_back_to_the_bf16_peak():
    bf16 = estimate_step("llama-3.1-8b", "a100", [(4096, 0)], quant="bf16")
    fp8 = estimate_step("llama-3.1-8b", "a100", [(4096, 0)], quant="fp8")
    gemm = bf16.ops.set_index("op").loc["gate_up_proj", "time_s"]
    assert fp8.ops.set_index("op").loc["gate_up_proj", "time_s"] == pytest.approx(gemm)


def test_int4_weights_include_group_scales():
    q = Quant.parse("w4a16")
    est = estimate_step("llama-2-7b", "a100", [(1, 10)], quant=q)
    per_param = est.ops.set_index("op").loc["down_proj", "bytes_weight"] / (32 * 4096 * 11008)
    assert per_param == pytest.approx(0.5 + 2 / 128)  # 4 bits + one fp16 scale per 128


def test_pipeline_bubble_and_microbatches():
    par = Parallelism(pp=4, microbatches=4)
    assert par.pipeline_bubble() == pytest.approx(3 / 7)
    one = estimate_step("llama-2-13b", "a100", [(512, 0)] * 8, Parallelism(pp=4))
    mb = estimate_step("llama-2-13b", "a100", [(512, 0)] * 8, par)
    # compute-bound: (m + pp - 1)/pp * (1/m of the work) = 7/16 of the m=1 latency
    assert mb.time_s == pytest.approx(one.time_s * 7 / 16, rel=0.05)


def test_grid_matches_per_step_estimates():
    batch = np.array([1, 8, 64, 1])
    ctx = np.array([100, 2000, 500, 0])
    new = np.array([1, 1, 1, 700])
    grid = estimate_grid("qwen2.5-7b", "l40s", batch, ctx, new, calibration="default")
    for i in range(4):
        one = estimate_step(
            "qwen2.5-7b", "l40s", [(new[i], ctx[i])] * batch[i], calibration="default"
        )
        assert grid.time_s[i] == pytest.approx(one.time_s, rel=1e-9)
        assert grid.flops[i] == pytest.approx(one.flops, rel=1e-9)
        assert grid.bound[i] == one.bound


def test_prefill_and_decode_time_helpers_broadcast():
    t = pm.decode_time("llama-3.1-8b", "h100", np.array([512, 4096]), batch=32)
    assert t.shape == (2,) and t[1] > t[0] > 0
    assert pm.prefill_time("llama-3.1-8b", "h100", 2048) > pm.prefill_time(
        "llama-3.1-8b", "h100", 1024
    )


def test_default_calibration_is_slower_than_ideal():
    ideal = estimate_step("llama-2-7b", "a100", [(1, 1024)], calibration="ideal")
    default = estimate_step("llama-2-7b", "a100", [(1, 1024)], calibration="default")
    assert default.time_s > ideal.time_s


def test_weight_quant_runs_fp8_as_w8a8_and_keeps_16_bit_formats_whole():
    from perfmodel import Quant, get_model
    from perfmodel.step import weight_quant

    llama = get_model("llama-3.1-8b")  # a bf16 checkpoint
    assert weight_quant(llama, "fp8") == Quant("fp8", "fp8", "bf16")
    assert weight_quant(llama, "int4") == Quant("int4", "bf16", "bf16")
    assert weight_quant(llama, "fp16") == Quant("fp16", "fp16", "fp16")
    assert weight_quant(llama, None) == Quant("bf16", "bf16", "bf16")
