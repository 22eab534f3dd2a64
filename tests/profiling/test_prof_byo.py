"""Bring-your-own measurements: CSV → Profile with the suite's own FLOP/byte formulas."""

from __future__ import annotations

import numpy as np
import pytest

from perfmodel.profiling import ProfileError, import_csv, load_profile

BYO_COLUMNS = ["op", "dtype", "device", "m", "n", "k", "batch", "heads", "kv_heads", "head_dim",
               "q_len", "kv_len", "numel", "world_size", "time_s"]  # fmt: skip


def test_byo_csv_round_trip_reproduces_counts_times_and_efficiencies(tmp_path):
    shipped = load_profile("cpu-amd-epyc-1t")
    path = tmp_path / "mine.csv"
    shipped.table[BYO_COLUMNS].to_csv(path, index=False)
    imported = import_csv(path)
    assert np.allclose(imported.table.flops, shipped.table.flops)
    assert np.allclose(imported.table.bytes, shipped.table.bytes)
    assert np.allclose(imported.table.time_s, shipped.table.time_s)
    assert imported.provenance.device == shipped.provenance.device
    f, b = np.array([1e9, 1e11]), np.array([1e7, 1e8])
    assert np.allclose(
        imported.efficiency("gemm", "fp32", f, b), shipped.efficiency("gemm", "fp32", f, b)
    )


def test_byo_needs_only_the_shape_columns_of_the_ops_present(tmp_path):
    path = tmp_path / "gemm.csv"
    path.write_text("op,dtype,device,m,n,k,time_s\ngemm,bfloat16,My GPU,128,4096,4096,1e-4\n"
                    "copy,bf16,My GPU,,,,1e-3\n".replace(",,,,1e-3", ",,,,1e-3"))  # fmt: skip
    with pytest.raises(ProfileError, match="op 'copy' needs column 'numel'"):
        import_csv(path)
    # a catalog GPU: its datasheet entry is the roofline reference, so GEMM rows alone do
    path.write_text(
        "op,dtype,device,m,n,k,time_s\ngemm,bfloat16,NVIDIA H100 80GB HBM3,128,4096,4096,1e-4\n"
    )
    profile = import_csv(path)
    row = profile.table.iloc[0]
    assert row["dtype"] == "bf16" and row["flops"] == 2 * 128 * 4096 * 4096


def test_byo_profile_that_could_not_calibrate_is_refused_at_import(tmp_path):
    """A machine outside the catalog has its memory bandwidth measured by copy/triad rows;
    without them the profile would import, then fail at its first use."""
    path = tmp_path / "gemm.csv"
    path.write_text("op,dtype,device,m,n,k,time_s\ngemm,bfloat16,My GPU,128,4096,4096,1e-4\n")
    with pytest.raises(ProfileError, match=r"gemm\.csv: the profile cannot be used: .*copy/triad"):
        import_csv(path)


def test_byo_rejects_missing_required_column_unknown_op_and_mixed_devices(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("op,dtype,device,m,n,k\ngemm,fp32,X,1,2,3\n")
    with pytest.raises(ProfileError, match=r"missing column\(s\) \['time_s'\]"):
        import_csv(path)
    path.write_text("op,dtype,device,m,n,k,time_s\ngemmm,fp32,X,1,2,3,1\n")
    with pytest.raises(ProfileError, match="unknown op 'gemmm'; closest: \\['gemm'"):
        import_csv(path)
    path.write_text("op,dtype,device,m,n,k,time_s\ngemm,fp32,X,1,2,3,1\ngemm,fp32,Y,1,2,3,1\n")
    with pytest.raises(ProfileError, match="field 'device' must be the same"):
        import_csv(path)
