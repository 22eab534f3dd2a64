"""The suite on CPU over a tiny grid: structure, provenance and independent sanity facts."""

from __future__ import annotations

import numpy as np
import pytest

from perfmodel.profiling.profile import TABLE_COLUMNS, Profile

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_profile_table_has_every_column_and_one_row_per_case(tiny_profile, tiny_plan):
    from perfmodel.profiling.suite import plan_cases

    table = tiny_profile.table
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == len(plan_cases(tiny_plan)[0])
    assert set(table.op_class) == {"gemm", "attn_prefill", "attn_decode", "memory"}
    assert (table.time_s > 0).all() and (table.repeats == 3).all()


def test_measured_gemm_flop_count_is_2mnk(tiny_profile):
    gemm = tiny_profile.table.query("op == 'gemm'")
    assert np.array_equal(gemm.flops, 2.0 * gemm.m * gemm.n * gemm.k)
    assert set(gemm.m) == {1, 8, 32} and set(gemm.n) == {64, 128}


def test_provenance_records_device_threads_versions_and_method(tiny_profile):
    import torch

    prov = tiny_profile.provenance
    assert prov.device_type == "cpu" and prov.threads == 1
    assert prov.torch_version == torch.__version__
    assert "perf_counter" in prov.timing_method
    assert prov.accelerator.startswith("cpu-") and prov.accelerator.endswith("-1t")
    assert any("collectives skipped" in n for n in prov.notes)
    assert (tiny_profile.table.device == prov.device).all()


def test_derived_accelerator_peak_is_the_best_measured_gemm(tiny_profile):
    table = tiny_profile.table
    gemm = table.query("op == 'gemm'")
    acc = tiny_profile.to_accelerator()
    assert acc.peak_flops("fp32") == pytest.approx((gemm.flops / gemm.time_s).max())
    copies = table.query("op in ['copy', 'triad']")
    assert 0 < acc.mem_bandwidth <= (copies.bytes / copies.time_s).max() * (1 + 1e-9)
    assert acc.kind == "cpu" and acc.gpus_per_node == 1


def test_save_and_load_round_trip_preserves_table_and_provenance(tiny_profile, tmp_path):
    tiny_profile.save(tmp_path)
    loaded = Profile.load(tmp_path)
    assert loaded.provenance == tiny_profile.provenance
    assert np.allclose(loaded.table.time_s, tiny_profile.table.time_s, rtol=1e-5)
    assert (loaded.table.op == tiny_profile.table.op).all()


def test_efficiency_at_a_measured_gemm_reproduces_its_measured_time(tiny_profile):
    """Interpolation passes through the data: roofline / efficiency = measured time."""
    acc = tiny_profile.to_accelerator()
    row = tiny_profile.table.query("op == 'gemm'").iloc[3]
    eff = tiny_profile.efficiency("gemm", "fp32", np.array([row.flops]), np.array([row.bytes]))[0]
    roof = max(row.flops / acc.peak_flops("fp32"), row.bytes / acc.mem_bandwidth)
    assert roof / eff == pytest.approx(row.time_s, rel=1e-6)


def test_collectives_run_between_two_ranks_with_gloo():
    from perfmodel.profiling.collectives import COLLECTIVE_OPS, run_collectives

    rows = run_collectives(2, [256], dtype="fp32", backend="gloo", warmup=1, repeats=2)
    assert [r["op"] for r in rows] == list(COLLECTIVE_OPS)
    assert all(r["time_s"] > 0 and r["world_size"] == 2 for r in rows)
