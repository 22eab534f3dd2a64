"""Memory footprint, KV capacity, max batch and the does-not-fit error."""

import pytest

from perfmodel import (
    ModelDoesNotFitError,
    Parallelism,
    Quant,
    estimate_step,
    get_model,
    max_batch,
    memory_footprint,
)

GIB = 2**30


def test_weights_per_gpu_are_params_times_bytes(a100):
    fp = memory_footprint(get_model("llama-2-7b"), a100, Parallelism(), Quant("bf16"))
    assert fp.weights_bytes == 6_738_415_616 * 2


def test_tensor_parallel_splits_weights_and_kv(h100):
    m = get_model("llama-3.1-70b")
    fp = memory_footprint(m, h100, Parallelism(tp=4), Quant("bf16"))
    assert fp.weights_bytes == pytest.approx(70_553_706_496 * 2 / 4, rel=0.001)
    # 8 kv heads / 4 ranks = 2 per GPU; 2 * 128 * 2 (K, V) * 2 bytes * 80 layers
    assert fp.kv_bytes_per_token == 2 * 128 * 2 * 2 * 80


def test_kv_heads_are_replicated_when_fewer_than_tp(h100):
    # Qwen2.5-7B: 4 kv heads; at tp=8 each GPU keeps one head
    fp = memory_footprint(get_model("qwen2.5-7b"), h100, Parallelism(tp=4), Quant("bf16"))
    assert fp.kv_bytes_per_token == 1 * 128 * 2 * 2 * 28


def test_kv_capacity_is_what_the_budget_leaves(a100):
    fp = memory_footprint(get_model("llama-2-7b"), a100, Parallelism(), Quant("bf16"), 0.9)
    left = 0.9 * 80 * GIB - fp.weights_bytes - fp.activation_bytes - fp.reserve_bytes
    assert fp.kv_capacity_tokens == int(left // (32 * 2 * 4096 * 2))


def test_max_batch_counts_whole_paged_blocks(a100):
    fp = memory_footprint(get_model("llama-2-7b"), a100, Parallelism(), Quant("bf16"), 0.9)
    per_seq = 2000 // 16 * 16 + 16  # 2000 tokens occupy 125 blocks of 16 = 2000; 2001 -> 126
    n = max_batch("llama-2-7b", a100, 2001, quant="bf16")
    assert n == int(fp.kv_capacity_bytes // (per_seq * 524_288))


def test_sliding_window_bounds_max_batch_at_long_context(h100):
    short = max_batch("mistral-7b", h100, 4096)
    long = max_batch("mistral-7b", h100, 32000)
    assert long == short  # every layer keeps at most the 4096-token window


def test_model_that_does_not_fit_names_bytes_and_smallest_plan(h100):
    with pytest.raises(ModelDoesNotFitError) as err:
        estimate_step("llama-3.1-405b", h100, [(1, 100)])
    msg = str(err.value)
    assert "GiB" in msg and "smallest plan that fits: tp=8 pp=2" in msg
    assert "\n" not in msg


def test_step_reports_when_its_kv_cache_does_not_fit(a100):
    est = estimate_step("llama-2-7b", a100, [(1, 4000)] * 64)
    assert est.memory.kv_needed_bytes == 64 * 4001 * 524_288
    assert not est.memory.fits
