"""perfmodel.symbolic: the sympy roofline agrees with the numeric catalog; the decode ridge
solved by sympy is where the numeric compute and memory times meet (brentq on estimate_grid)."""

import math

import numpy as np
import pytest
import sympy as sp
from scipy import optimize

import hardware_specs
from perfmodel import estimate_grid, estimate_step
from perfmodel import symbolic as S
from perfmodel.ops import touched_fraction
from perfmodel.parallel import Parallelism

REL = 1e-9
DECODE = [(1, 1024)] * 8


@pytest.mark.parametrize("calibration", ["ideal", "default"])
@pytest.mark.parametrize("op", ["qkv_proj", "attn", "o_proj", "down_proj", "norm", "lm_head"])
def test_op_expression_matches_estimate_step(op, calibration):
    est = estimate_step("llama-3.1-8b", "H100-SXM", DECODE, calibration=calibration)
    want = est.ops.set_index("op").loc[op]
    got = S.op_roofline("llama-3.1-8b", "H100-SXM", DECODE, op, calibration=calibration)
    assert got.time_s == pytest.approx(want.time_s, rel=REL)
    assert got.bound == want.bound


def test_qkv_proj_by_hand():
    """Llama-3.1-8B decode, 8 tokens: qkv width (32 + 2*8)*128 = 6144, 32 layers, bf16."""
    flops = 32 * 2 * 8 * 4096 * 6144
    nbytes = 32 * (4096 * 6144 * 2 + 8 * (4096 + 6144) * 2)
    want = max(flops / 989.4e12, nbytes / 3.35e12)
    got = S.op_roofline("llama-3.1-8b", "H100-SXM", DECODE, "qkv_proj")
    assert got.values[S.F] == flops and got.values[S.B] == nbytes
    assert got.time_s == pytest.approx(want, rel=REL)


def _numeric_ratio(model, hw, batch, context):
    """Compute time / memory time of the numeric decode step (estimate_grid, ideal)."""
    g = estimate_grid(model, hw, batch, context, calibration="ideal")
    return (g.flops[0] / hw.peak_flops("bf16")) / (g.bytes[0] / hw.mem_bandwidth)


@pytest.mark.parametrize(
    "model,gpu,context",
    [
        ("llama-3.1-8b", "H100-SXM", 0),
        ("llama-3.1-8b", "A100-SXM4-80GB", 128),
        ("mixtral-8x7b", "H100-SXM", 128),  # MoE: Lambert W
        ("qwen1.5-moe-a2.7b", "H200-SXM", 0),
    ],
)
def test_ridge_is_where_numeric_compute_equals_memory(model, gpu, context):
    hw = hardware_specs.get(gpu)
    ridge = S.decode_ridge(model, hw, context)
    assert ridge.exists
    assert _numeric_ratio(model, hw, ridge.batch, context) == pytest.approx(1.0, rel=REL)
    root = optimize.brentq(
        lambda x: _numeric_ratio(model, hw, x, context) - 1.0, 1.0, 1e5, xtol=1e-12, rtol=1e-14
    )
    assert ridge.batch == pytest.approx(root, rel=REL)


def test_dense_ridge_is_the_textbook_ratio():
    (sol,) = S.ridge_solutions()
    want = (S.B0 * S.P - S.F0 * S.W) / (S.F1 * S.W - S.B1 * S.P)
    assert sp.simplify(sol - want) == 0
    co = S.decode_coefficients("llama-3.1-8b", "H100-SXM", 0)
    # decode FLOPs all scale with the batch; the weights are read once
    assert co.F0 == 0 and co.B0 > 15e9
    assert S.decode_ridge("llama-3.1-8b", "H100-SXM", 0).batch == pytest.approx(
        co.B0 * co.P / (co.F1 * co.W - co.B1 * co.P), rel=REL
    )


def test_kv_growth_moves_the_ridge_out_then_removes_it():
    hw = hardware_specs.get("H100-SXM")
    c_star, expr = S.critical_context("llama-3.1-8b", hw)
    assert expr.free_symbols >= {S.P, S.W}
    ridges = [S.decode_ridge("llama-3.1-8b", hw, c).batch for c in (0, 64, 128, 256)]
    assert all(np.diff(ridges) > 0) and c_star > 256
    gone = S.decode_ridge("llama-3.1-8b", hw, math.ceil(c_star) + 1)
    assert math.isinf(gone.batch) and "memory-bound" in gone.reason
    # at c* one more sequence adds exactly P/W FLOP per byte
    co = [S.decode_coefficients("llama-3.1-8b", hw, c) for c in (0, 1000)]
    f1 = co[0].F1 + (co[1].F1 - co[0].F1) * c_star / 1000
    b1 = co[0].B1 + (co[1].B1 - co[0].B1) * c_star / 1000
    assert f1 / b1 == pytest.approx(hw.peak_flops("bf16") / hw.mem_bandwidth, rel=REL)
    # GQA 4 query heads per KV head, bf16 KV: the KV term grows faster than attention FLOPs
    big = S.decode_ridge("llama-3.1-8b", hw, 32768)
    assert math.isinf(big.batch)


def test_distinct_experts_matches_the_catalog():
    from perfmodel import get_model

    model = get_model("mixtral-8x7b")
    expr = S.DISTINCT_EXPERTS.subs({S.E: 8, S.k: 2})
    for batch in (1, 3, 16):
        want = 8 * touched_fraction(model, Parallelism(), batch)
        assert float(expr.subs(S.b, batch)) == pytest.approx(float(want), rel=REL)
    assert float(expr.subs(S.b, 1)) == 2.0  # one token touches exactly k experts


def test_latex_renders():
    out = S.latex()
    assert {"roofline", "ridge", "moe_ridge", "distinct_experts"} <= set(out)
    assert r"\max" in out["roofline"] and "W" in out["moe_ridge"]
    compact = S.ridge_solutions(moe=True, compact=True)[0].subs(S.MOE_TERMS)
    assert sp.simplify(compact - S.ridge_solutions(moe=True)[0]) == 0
