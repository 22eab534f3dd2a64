"""FLOP and byte counts of the measured ops, against hand formulas and perfmodel's catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel import ModelSpec, estimate_step
from perfmodel.profiling.ops import fill_counts
from perfmodel.profiling.provenance import slugify


def _per_instance(estimate, op: str) -> pd.Series:
    """One kernel instance (one layer) of perfmodel's ``op``: totals / count."""
    row = estimate.ops.set_index("op").loc[
        op, ["count", "flops", "bytes_weight", "bytes_act", "bytes_kv"]
    ]
    return row.astype(float) / float(row["count"])


def _one(**row) -> pd.Series:
    return fill_counts(pd.DataFrame([row])).iloc[0]


def test_gemm_flops_are_2mnk_and_bytes_count_each_operand_once():
    row = _one(op="gemm", dtype="bf16", m=3, n=5, k=7)
    assert row.flops == 2 * 3 * 5 * 7
    assert row.bytes == (3 * 7 + 7 * 5 + 3 * 5) * 2
    assert row.op_class == "gemm"


def test_causal_prefill_pairs_equal_a_brute_force_count_of_the_mask():
    q, ctx = 5, 3  # 5 new tokens after 3 cached ones
    mask = np.tril(np.ones((q, ctx + q)), k=ctx)  # token i sees ctx + i + 1 keys
    row = _one(op="attn_prefill", dtype="fp32", batch=2, heads=4, kv_heads=2, head_dim=8,
               q_len=q, kv_len=ctx + q)  # fmt: skip
    assert row.flops == 4 * 2 * 4 * 8 * mask.sum()


def test_decode_attention_reads_the_kv_cache_once_per_kv_head():
    row = _one(op="attn_decode", dtype="fp32", batch=3, heads=8, kv_heads=2, head_dim=16,
               q_len=1, kv_len=100)  # fmt: skip
    kv_read = 3 * 2 * 100 * 2 * 16 * 4  # batch * (k and v) * kv_len * kv_heads * d * 4 bytes
    assert row.bytes == pytest.approx(kv_read + 3 * (2 * 8 + 2 * 2) * 16 * 4)
    assert row.op_class == "attn_decode"


@pytest.mark.parametrize(("phase", "batch", "ctx"), [("decode", 4, 300), ("prefill", 2, 64)])
def test_attention_counts_match_perfmodel_operator_catalog(tiny_config, phase, batch, ctx):
    """A profile row and perfmodel's op for the same attention have the same FLOPs/bytes, so
    a measured efficiency applies to perfmodel's op unchanged."""
    spec = ModelSpec.from_hf_config(tiny_config)
    seqs = [(1, ctx)] * batch if phase == "decode" else [(ctx, 0)] * batch
    attn = _per_instance(estimate_step(spec, "H100-SXM", seqs, quant="fp32"), "attn")
    q_len, kv_len = (1, ctx + 1) if phase == "decode" else (ctx, ctx)
    heads = {"heads": spec.num_heads, "kv_heads": spec.num_kv_heads, "head_dim": spec.head_dim}
    row = _one(op=f"attn_{phase}", dtype="fp32", batch=batch, q_len=q_len, kv_len=kv_len, **heads)
    assert row.flops == pytest.approx(attn.flops)
    assert row.bytes == pytest.approx(attn.bytes_act + attn.bytes_kv)


def test_gemm_counts_match_perfmodel_projection(tiny_config):
    spec = ModelSpec.from_hf_config(tiny_config)
    down = _per_instance(estimate_step(spec, "H100-SXM", [(1, 10)] * 3, quant="fp32"), "down_proj")
    row = _one(op="gemm", dtype="fp32", m=3, n=spec.hidden_size, k=spec.intermediate_size)
    assert row.flops == pytest.approx(down.flops)
    assert row.bytes == pytest.approx(down.bytes_weight + down.bytes_act)


def test_slugify_keeps_only_lowercase_alphanumerics_and_dashes():
    assert slugify("AMD EPYC 9654 (96-Core)") == "amd-epyc-9654-96-core"
