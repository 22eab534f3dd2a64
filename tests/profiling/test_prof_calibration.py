"""Calibration from a profile: efficiency = roofline / measured time, interpolated over
operator size, held at the edge value outside the measured range (synthetic data)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from perfmodel import CalibrationDeviceWarning, ModelSpec, estimate_step


def _gemm_counts(m: float, n: float = 1024, k: float = 1024) -> tuple[np.ndarray, np.ndarray]:
    return np.array([2.0 * m * n * k]), np.array([(m * k + k * n + m * n) * 4.0])


def test_efficiency_at_measured_points_is_roofline_over_measured_time(
    synthetic_profile, reference, gemm_eff
):
    cal = synthetic_profile.calibration_for(reference)
    for m, eff in gemm_eff.items():
        assert cal.efficiency("gemm", "fp32", *_gemm_counts(m))[0] == pytest.approx(eff)


def test_efficiency_is_held_at_the_edge_values_outside_the_measured_range(
    synthetic_profile, reference, gemm_eff
):
    cal = synthetic_profile.calibration_for(reference)
    assert cal.efficiency("gemm", "fp32", *_gemm_counts(1e7))[0] == pytest.approx(gemm_eff[4096])
    tiny = cal.efficiency("gemm", "fp32", np.array([10.0]), np.array([100.0]))[0]
    assert tiny == pytest.approx(gemm_eff[1])


def test_efficiency_between_measured_sizes_lies_between_their_values(
    synthetic_profile, reference, gemm_eff
):
    mid = synthetic_profile.calibration_for(reference).efficiency(
        "gemm", "fp32", *_gemm_counts(64)
    )[0]
    assert gemm_eff[16] < mid < gemm_eff[256]


def test_efficiency_is_vectorized_finite_and_bounded_for_any_sizes(synthetic_profile):
    rng = np.random.default_rng(0)
    flops, nbytes = 10 ** rng.uniform(0, 16, 100_000), 10 ** rng.uniform(0, 12, 100_000)
    for op_class in ("gemm", "attn_prefill", "attn_decode", "memory", "comm"):
        eff = synthetic_profile.efficiency(op_class, "bf16", flops, nbytes)
        assert eff.shape == flops.shape
        assert np.isfinite(eff).all() and (eff > 0).all() and (eff <= 1.5).all()


def test_missing_class_falls_back_to_perfmodel_default_efficiency(synthetic_profile):
    from perfmodel import DEFAULT

    eff = synthetic_profile.efficiency("attn_decode", "fp32", np.ones(3), np.ones(3))
    assert np.allclose(eff, DEFAULT.by_class["attn_decode"])


def test_derived_accelerator_drives_estimate_step_end_to_end(
    synthetic_profile, tiny_config, gemm_eff
):
    acc = synthetic_profile.register()
    assert acc.peak_flops("fp32") == pytest.approx(max(gemm_eff.values()) * 1e11, rel=1e-6)
    assert acc.mem_bandwidth == pytest.approx(1e10)
    spec = ModelSpec.from_hf_config(tiny_config)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationDeviceWarning)
        ideal = estimate_step(spec, acc.name, [(1, 64)] * 4, quant="fp32", calibration="ideal")
        calibrated = estimate_step(
            spec, acc.name, [(1, 64)] * 4, quant="fp32", calibration=synthetic_profile
        )
    assert calibrated.time_s > ideal.time_s > 0


def test_profile_applied_to_another_device_warns(synthetic_profile, tiny_config):
    spec = ModelSpec.from_hf_config(tiny_config)
    with pytest.warns(CalibrationDeviceWarning, match="cpu-test-1t"):
        estimate_step(spec, "H100-SXM", [(1, 64)], quant="bf16", calibration=synthetic_profile)
