"""Calibration keyed on what sets a kernel's speed: the memory op's own kernel, the decode
attention's batch and KV length, and a latency floor below the smallest measured size.

Synthetic profiles with hand-chosen times against the reference roofline (conftest PEAK, BW):
every expected value below is computed by hand from those times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.profiling.ops import fill_counts
from perfmodel.profiling.profile import Profile

BW = 1e10  # the reference roofline's bandwidth (conftest `reference`), bytes/s
PEAK = 1e11  # its fp32 peak FLOP/s

DECODE_MS = {  # (batch, kv_len) -> ms for head shape (8, 2, 64): flat in batch up to 4
    (1, 1024): 20.0,
    (4, 1024): 20.0,
    (16, 1024): 50.0,
    (1, 4096): 60.0,
    (4, 4096): 60.0,
    (16, 4096): 180.0,
}


@pytest.fixture()
def build(reference, make_provenance):
    """Profile of rows with the given times, against the reference roofline (PEAK, BW)."""
    assert reference.mem_bandwidth == BW

    def profile(rows: list[dict], times: list[float]) -> Profile:
        table = fill_counts(pd.DataFrame(rows).assign(device="Test CPU", repeats=3))
        table["time_s"] = times
        return Profile(table, make_provenance(), reference=reference)

    return profile


def _memory_profile(build) -> Profile:
    """add_rmsnorm at 50% of bandwidth, rope at 5%, at 2^16 … 2^20 elements (fp32)."""
    rows, times = [], []
    for numel in (2**16, 2**18, 2**20):
        for op, eff in (("add_rmsnorm", 0.5), ("rope", 0.05)):
            row = {"op": op, "dtype": "fp32", "numel": numel}
            row |= {"n": 1024} if op == "add_rmsnorm" else {}
            nbytes = fill_counts(pd.DataFrame([row]))["bytes"].iloc[0]
            rows.append(row)
            times.append(nbytes / BW / eff)
    return build(rows, times)


def _decode_profile(build) -> Profile:
    rows = [
        {"op": "attn_decode", "dtype": "fp32", "batch": b, "heads": 8, "kv_heads": 2,
         "head_dim": 64, "q_len": 1, "kv_len": kv}
        for b, kv in DECODE_MS
    ]  # fmt: skip
    rows.append({"op": "copy", "dtype": "fp32", "numel": 2**20})
    rows.append({"op": "gemm", "dtype": "fp32", "m": 64, "n": 64, "k": 64})
    return build(rows, [t * 1e-3 for t in DECODE_MS.values()] + [1e-3, 1e-3])


def _decode_time(profile: Profile, batch: float, kv_len: float, heads=(8, 2, 64)) -> float:
    """Time (s) the profile gives one decode kernel of this shape (fp32, GQA bytes)."""
    h, h_kv, d = heads
    nbytes = batch * ((2 * h + 2 * h_kv) * d + 2 * kv_len * h_kv * d) * 4.0
    flops = 4.0 * batch * h * d * kv_len
    shape = {"batch": np.array([batch]), "kv_len": np.array([kv_len]), "heads": h,
             "kv_heads": h_kv, "head_dim": d}  # fmt: skip
    eff = profile.efficiency("attn_decode", "fp32", np.array([flops]), np.array([nbytes]),
                             op="attn", shape=shape)[0]  # fmt: skip
    roof = max(flops / profile.reference.peak_flops("fp32"), nbytes / BW)
    return roof / eff


def test_each_memory_op_uses_its_own_kernels_efficiency_and_unnamed_ops_the_pool(build):
    """add_rmsnorm (2^18 elements, rows of 1024) and rope (524 800 elements) both move
    16·2^18 + 4·1024 = 8·524 800 bytes; measured at 50% and 5% of bandwidth. An op without a
    kernel of its own gets the pool's time-weighted mean, 2r / (r/0.5 + r/0.05) = 1/11."""
    nbytes = 16 * 2**18 + 4 * 1024
    rows = [{"op": "add_rmsnorm", "dtype": "fp32", "numel": 2**18, "n": 1024},
            {"op": "rope", "dtype": "fp32", "numel": 524_800}]  # fmt: skip
    profile = build(rows, [nbytes / BW / 0.5, nbytes / BW / 0.05])
    eff = {op: profile.efficiency("memory", "fp32", np.zeros(1), np.array([nbytes]), op=op)[0]
           for op in ("norm", "rope", "embed")}  # fmt: skip
    assert eff["norm"] == pytest.approx(0.5, rel=1e-9)
    assert eff["rope"] == pytest.approx(0.05, rel=1e-9)
    assert eff["embed"] == pytest.approx(1 / 11, rel=1e-9)


def test_below_the_smallest_measured_size_a_kernel_keeps_the_smallest_time(build):
    """Held time, not held efficiency: 1/16 of the bytes takes as long as the smallest."""
    profile = _memory_profile(build)
    smallest = 4.0 * 2**16 * 4 + 1024 * 4  # add_rmsnorm bytes at 2^16 elements
    eff = profile.efficiency("memory", "fp32", np.zeros(2), np.array([smallest, smallest / 16]),
                             op="norm")  # fmt: skip
    assert eff[1] == pytest.approx(eff[0] / 16, rel=1e-6)


def test_decode_attention_reproduces_measured_times_at_its_grid_points(build):
    profile = _decode_profile(build)
    for (batch, kv), t_ms in DECODE_MS.items():
        assert _decode_time(profile, batch, kv) == pytest.approx(t_ms * 1e-3, rel=1e-6)


def test_decode_attention_time_stays_flat_between_batches_that_measured_flat(build):
    """Batch 2 between measured batches 1 and 4 (both 20 ms): 20 ms. A linear blend of the
    efficiencies (1x and 4x) would give 2·r/(2.5·e1) = 16 ms."""
    profile = _decode_profile(build)
    assert _decode_time(profile, 2, 1024) == pytest.approx(20e-3, rel=1e-6)
    assert _decode_time(profile, 2, 2048) == pytest.approx(np.sqrt(20e-3 * 60e-3), rel=0.02)


def test_decode_attention_is_told_apart_by_batch_and_kv_length_at_equal_bytes(build):
    """16 sequences of 1024 tokens and 4 of 4096 move the same KV bytes; their measured times
    (50 and 60 ms) differ, and so do the predictions."""
    profile = _decode_profile(build)
    assert _decode_time(profile, 16, 1024) == pytest.approx(50e-3, rel=1e-6)
    assert _decode_time(profile, 4, 4096) == pytest.approx(60e-3, rel=1e-6)


def test_an_unmeasured_head_shape_uses_the_curve_over_thread_blocks(build):
    """(16, 4, 32) at batch 2 has units 2·4 = 8 and the bytes per unit of (8, 2, 64) at
    batch 4, kv 1024 (units 8): the same efficiency, so the same time per byte."""
    profile = _decode_profile(build)
    measured = _decode_time(profile, 4, 1024)
    other = _decode_time(profile, 2, 2048, heads=(16, 4, 32))
    h, h_kv, d = 16, 4, 32
    ratio = (2 * ((2 * h + 2 * h_kv) * d + 2 * 2048 * h_kv * d)) / (
        4 * ((2 * 8 + 2 * 2) * 64 + 2 * 1024 * 2 * 64)
    )
    assert other == pytest.approx(measured * ratio, rel=0.01)


PREFILL_EFF = {64: 0.3, 128: 0.6}  # measured efficiency of each head dimension, every shape


def _prefill_profile(build) -> Profile:
    """Prefill attention at d = 64 (30% of the roofline) and d = 128 (60%), 8 heads, batch
    1-4, 256-4096 tokens: within one head dimension the efficiency is flat."""
    rows, times = [], []
    for d, eff in PREFILL_EFF.items():
        for batch in (1, 4):
            for seq in (256, 1024, 4096):
                row = {"op": "attn_prefill", "dtype": "fp32", "batch": batch, "heads": 8,
                       "kv_heads": 8, "head_dim": d, "q_len": seq, "kv_len": seq}  # fmt: skip
                counts = fill_counts(pd.DataFrame([row]))
                flops, nbytes = counts["flops"].iloc[0], counts["bytes"].iloc[0]
                roof = max(flops / PEAK, nbytes / BW)
                rows.append(row)
                times.append(roof / eff)
    return build(rows, times)


def _prefill_eff(profile: Profile, head_dim: float | None) -> float:
    """Efficiency the profile gives a prefill of 8 heads × 2048 tokens at ``head_dim``."""
    d = head_dim or 128
    flops = 4.0 * 8 * d * 2048 * 2049 / 2
    nbytes = 4.0 * 4 * 8 * d * 2048
    shape = None if head_dim is None else {"heads": 8, "kv_heads": 8, "head_dim": head_dim}
    return profile.efficiency("attn_prefill", "fp32", np.array([flops]), np.array([nbytes]),
                              op="attn", shape=shape)[0]  # fmt: skip


def test_prefill_attention_uses_the_curve_of_its_head_dimension(build):
    """Each measured head dimension keeps its own efficiency (0.3 at d = 64, 0.6 at 128); an
    unmeasured one between them is log-linear in log2(d): d = 96 is log2(1.5) of the way,
    0.3 · 2^log2(1.5) = 0.45; beyond the largest the edge (d = 256 → 0.6)."""
    profile = _prefill_profile(build)
    assert _prefill_eff(profile, 64) == pytest.approx(0.3, rel=1e-6)
    assert _prefill_eff(profile, 128) == pytest.approx(0.6, rel=1e-6)
    assert _prefill_eff(profile, 96) == pytest.approx(0.45, rel=1e-6)
    assert _prefill_eff(profile, 256) == pytest.approx(0.6, rel=1e-6)
    assert _prefill_eff(profile, 32) == pytest.approx(0.3, rel=1e-6)


def test_estimate_step_passes_the_prefill_head_dimension():
    """A prefill's attention op carries (heads, kv_heads, head_dim) per GPU (TP 2 halves the
    heads, not the head dimension), so a profile can key on it."""
    from perfmodel import get_model
    from perfmodel.ops import build_ops
    from perfmodel.parallel import Parallelism
    from perfmodel.quant import Quant
    from perfmodel.shape import StepShape

    model = get_model("llama-3.1-8b")  # 32 heads, 8 KV heads, head_dim 128
    shape = StepShape.from_sequences([512], [0], model)
    ops = build_ops(model, shape, Parallelism(tp=2), Quant.parse("bf16"))
    prefill = next(op for op in ops if op.kind == "attn_prefill")
    assert prefill.shape() == {"heads": 16, "kv_heads": 4, "head_dim": 128}


def test_compiled_step_model_passes_the_decode_shape_like_estimate_step():
    """StepTimeModel (the serving model's fast path) keys decode attention as estimate_step."""
    import warnings

    from perfmodel import estimate_step, get_model
    from perfmodel.compiled import StepTimeModel
    from perfmodel.profiling import load_profile

    profile = load_profile("h200-sxm")
    model = get_model("llama-3.1-8b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = StepTimeModel(model, "H200-SXM", quant="bf16", calibration=profile)
        for batch, ctx in ((1, 32768), (2, 32768), (64, 2048)):
            step = estimate_step(model, "H200-SXM", [(1, ctx)] * batch, quant="bf16",
                                 calibration=profile)  # fmt: skip
            assert fast.decode(batch, ctx)[0] == pytest.approx(step.time_s, rel=1e-9)


def test_a_collective_uses_its_own_ranks_curve_and_may_beat_the_ring_model(build, reference):
    """All-reduce of 64 kB measured at 2 ranks (50 µs) and 8 ranks (20 µs). Against the
    reference link (1 GB/s, 1 µs) the 8-rank ring model reads 2·7/8·65.5 + 14 = 129 µs, so
    20 µs is an efficiency of 6.5: kept, not clipped to 1.5 as other classes are. Each number
    of ranks reproduces its own time; 16 ranks take the nearest measured, 8; 4 ranks lie
    between 2 and 8."""
    from perfmodel.profiling.calibrate import Roofline

    rows = [{"op": "all_reduce", "dtype": "fp32", "numel": 16384, "world_size": n}
            for n in (2, 8)]  # fmt: skip
    profile = build(rows, [50e-6, 20e-6])
    roofline = Roofline.of(reference)

    def time(ranks: int) -> float:
        row = pd.DataFrame([{**rows[0], "world_size": ranks, "op_class": "comm",
                             "bytes": 65536.0, "flops": 0.0}])  # fmt: skip
        roof = roofline.time(row)[0]
        shape = {"collective": "all_reduce", "ranks": ranks}
        eff = profile.efficiency("comm", "fp32", np.zeros(1), np.array([65536.0]),
                                 op="all_reduce", shape=shape)[0]  # fmt: skip
        return roof / eff

    assert time(8) == pytest.approx(20e-6, rel=1e-6)
    assert time(2) == pytest.approx(50e-6, rel=1e-6)

    def ring(n: int) -> float:  # 2(n−1)/n·M/β + 2(n−1)·α, β = 1 GB/s, α = 1 µs
        return 2 * (n - 1) / n * 65536 / 1e9 + 2 * (n - 1) * 1e-6

    assert time(16) == pytest.approx(20e-6 * ring(16) / ring(8), rel=1e-6)  # 8's efficiency
    assert time(8) < ring(8) / 1.5
    # between measured counts the time is log-linear in log(ranks): 4 ranks lie halfway
    # (log 2 of log 4) from 2 to 8, so √(50 · 20) = 31.6 µs, where the 8-rank efficiency on
    # the 4-rank ring model would read 20 · ring(4) / ring(8) = 16.2 µs
    assert time(4) == pytest.approx(np.sqrt(50e-6 * 20e-6), rel=1e-6)


def test_learned_curves_carry_efficiency_across_gpus_by_position_relative_to_the_ridge(
    build, reference
):
    """GPU A (100 GFLOP/s, 10 GB/s: ridge 10 FLOP/B) runs memory-bound GEMMs at 50% and
    compute-bound ones at 80%. On GPU B with 4x the peak (ridge 40), a GEMM of intensity ~20 —
    compute-bound on A — is memory-bound, so the learned curve gives it B's memory-bound 50%,
    not the 80% that copying A's efficiency at the same intensity would."""
    from perfmodel.profiling.learned import LearnedCalibration

    rows, times = [], []
    for m in (1, 2, 4, 8, 64, 128, 256, 512):
        for n in (1024, 2048, 4096):
            f, b = 2.0 * m * n * n, 4.0 * (m * n + n * n + m * n)
            bound_time = max(f / 1e11, b / BW)
            rows.append({"op": "gemm", "dtype": "fp32", "m": m, "n": n, "k": n})
            times.append(bound_time / (0.8 if f / b > 10 else 0.5))
    learned = LearnedCalibration.fit([build(rows, times)])
    wide = reference.model_copy(update={"name": "ref-4x", "peak_tflops": {"fp32": 0.4}})
    on_b = learned.for_hardware(wide)
    m, n = 48, 4096  # intensity 2·48·n² / (4·(2·48·n + n²)) ≈ 23 FLOP/B
    f, b = 2.0 * m * n * n, 4.0 * (m * n + n * n + m * n)
    assert 10 < f / b < 40
    assert on_b.efficiency("gemm", "fp32", np.array([f]), np.array([b]))[0] == pytest.approx(
        0.5, rel=0.02
    )
    on_a = learned.for_hardware(reference)
    assert on_a.efficiency("gemm", "fp32", np.array([f]), np.array([b]))[0] == pytest.approx(
        0.8, rel=0.02
    )


def test_learned_curves_keep_each_dtype_apart(make_provenance, reference):
    """bf16 GEMMs at 80% of the bf16 peak and fp8 GEMMs at 40% of the (doubled) fp8 peak: the
    learned curve gives bf16 80%, fp8 40% and fp16 (bf16's sibling) 80%; pooled over dtypes
    each would read a blend."""
    from perfmodel.profiling.learned import LearnedCalibration

    peaks = {"fp32": 0.1, "fp16": 0.1, "bf16": 0.1, "fp8": 0.2}  # TFLOP/s
    gpu = reference.model_copy(update={"peak_tflops": peaks})
    rows = [
        {"op": "gemm", "dtype": dtype, "m": m, "n": n, "k": n}
        for dtype in ("bf16", "fp8")
        for m in (256, 1024, 4096)
        for n in (1024, 2048, 4096)
    ]
    table = fill_counts(pd.DataFrame(rows).assign(device="Test CPU", repeats=3))
    peak = table["dtype"].map({t: 1e12 * peaks[t] for t in ("bf16", "fp8")})
    roof = np.maximum(table["flops"] / peak, table["bytes"] / BW)
    table["time_s"] = roof / table["dtype"].map({"bf16": 0.8, "fp8": 0.4})
    learned = LearnedCalibration.fit([Profile(table, make_provenance(), reference=gpu)])
    on = learned.for_hardware(gpu)
    m, n = 2048, 2048
    f, b = 2.0 * m * n * n, 2.0 * (m * n + n * n + m * n)
    for dtype, want in (("bf16", 0.8), ("fp16", 0.8), ("fp8", 0.4)):
        got = on.efficiency(
            "gemm", dtype, np.array([f]), np.array([b / (2 if dtype == "fp8" else 1)])
        )
        assert got[0] == pytest.approx(want, rel=0.02), dtype


def test_learned_calibration_by_name_serves_a_gpu_without_a_table_and_says_so():
    from perfmodel import estimate_step

    step = estimate_step("llama-3.1-8b", "H100-PCIe", [(1, 4096)] * 8, quant="bf16",
                         calibration="learned")  # fmt: skip
    ideal = estimate_step("llama-3.1-8b", "H100-PCIe", [(1, 4096)] * 8, quant="bf16")
    assert step.calibration_source.startswith("learned curve across 5 profiled GPUs")
    assert "wider error" not in step.calibration_source  # an NVIDIA part, like the sources
    assert ideal.time_s < step.time_s < 3 * ideal.time_s


def test_learned_calibration_on_another_vendors_gpu_states_a_wider_error():
    """The curves are learned from NVIDIA GPUs; on an AMD part every answer says so."""
    from perfmodel import estimate_step

    step = estimate_step("llama-3.1-8b", "MI300X", [(1, 4096)] * 8, quant="bf16",
                         calibration="learned")  # fmt: skip
    assert "AMD is not among their vendors (NVIDIA): expect a wider error" in (
        step.calibration_source
    )


def test_unnamed_memory_ops_pool_the_decoders_kernels_not_the_stream_copies(build):
    """A STREAM copy at 90% of bandwidth and add + RMSNorm at 50%, same bytes: an op without a
    kernel of its own (embed) takes the decoder kernels' 50%; copies only set the bandwidth."""
    nbytes = 16 * 2**18 + 4 * 1024
    rows = [{"op": "add_rmsnorm", "dtype": "fp32", "numel": 2**18, "n": 1024},
            {"op": "copy", "dtype": "fp32", "numel": nbytes // 8}]  # fmt: skip
    profile = build(rows, [nbytes / BW / 0.5, nbytes / BW / 0.9])
    eff = profile.efficiency("memory", "fp32", np.zeros(1), np.array([nbytes]), op="embed")[0]
    assert eff == pytest.approx(0.5, rel=1e-9)


def test_a_collective_below_its_smallest_measured_message_keeps_that_time():
    """All-reduce among 8 ranks, ring roofline 2·7·α + (14/8)·bytes/link (α = 2 µs, link
    450 GB/s), measured flat at 20 µs from 512 B to 4 kB: 128 B also takes 20 µs. Holding
    efficiency ∝ bytes instead gave 4 x 20 µs at a quarter of the smallest message (the
    latency term of the roofline does not shrink with the bytes)."""
    from perfmodel.profiling.interpolate import binned_curve

    def roof(nbytes):
        return 14 * 2e-6 + 14 / 8 * np.asarray(nbytes, float) / 450e9

    nbytes = np.array([512.0, 1024.0, 2048.0, 4096.0])
    times = np.full(4, 20e-6)
    curve = binned_curve(np.log10(nbytes), roof(nbytes) / times, times, affine=True)
    eff = curve(np.zeros(1), np.array([128.0]))
    assert roof(128.0) / eff[0] == pytest.approx(20e-6, rel=1e-6)
