"""AIConfigurator's published tables → a profile: layout, units, selection and bad input on a
tiny synthetic tree in its layout; the shipped imports against the project's own H200
measurements (another source, same device)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from perfmodel.profiling import ProfileError, load_profile
from perfmodel.profiling.aiconfigurator import import_aiconfigurator
from perfmodel.profiling.store import PROFILES_DIR

DEVICE = "NVIDIA H200"


def _write(folder, name: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).assign(device=DEVICE).to_parquet(folder / f"{name}.parquet")
    (folder / "collection_meta.yaml").write_text("schema_version: 1\nprovenance: legacy\n")


def _attn(batch, isl, step, latency_ms, kv="bfloat16", kernel="fa3", head_dim=128, window=0):
    return {"batch_size": batch, "isl": isl, "num_heads": 32, "num_key_value_heads": 8,
            "head_dim": head_dim, "beam_width": 1, "attn_dtype": "bfloat16",
            "kv_cache_dtype": kv, "step": step, "window_size": window, "latency": latency_ms,
            "kernel_source": kernel}  # fmt: skip


@pytest.fixture()
def systems(tmp_path):
    """A systems/ folder with one system, h200_sxm, vllm 0.9.0 and 0.10.0, NCCL 2.2."""
    data = tmp_path / "systems" / "data" / "h200_sxm"
    gemm = [
        {"m": 16, "n": 4096, "k": 4096, "gemm_dtype": "bfloat16", "latency": 0.020,
         "kernel_source": "torch"},
        {"m": 17, "n": 4096, "k": 4096, "gemm_dtype": "bfloat16", "latency": 0.021,
         "kernel_source": "torch"},  # a padding probe: thinned
        {"m": 16, "n": 4096, "k": 4096, "gemm_dtype": "fp8", "latency": 0.014,
         "kernel_source": "cutlass"},
        {"m": 16, "n": 4096, "k": 4096, "gemm_dtype": "fp8", "latency": 0.012,
         "kernel_source": "deepgemm"},  # faster kernel of the same shape: kept
        {"m": 16, "n": 4096, "k": 4096, "gemm_dtype": "fp8_block", "latency": 0.011,
         "kernel_source": "block"},  # a format capplan does not model: skipped
        {"m": 32, "n": 4096, "k": 4096, "gemm_dtype": "bfloat16", "latency": -1.0,
         "kernel_source": "torch"},  # refused
    ]  # fmt: skip
    _write(data / "gemm" / "vllm" / "0.10.0", "gemm_perf", gemm)
    _write(data / "gemm" / "vllm" / "0.9.0", "gemm_perf", gemm[:1])
    ctx = [_attn(2, 1024, 0, 0.30), _attn(2, 1024, 0, 0.25, kernel="fa4"),
           _attn(2, 1024, 0, 0.20, kv="fp8"), _attn(2, 1024, 0, 0.1, window=128)]  # fmt: skip
    gen = [_attn(4, 1, 4095, 0.060), _attn(4, 1, 4095, 0.050, head_dim=256)]
    _write(data / "attention" / "vllm" / "0.10.0", "context_attention_perf", ctx)
    _write(data / "attention" / "vllm" / "0.10.0", "generation_attention_perf", gen)
    ar = [{"num_gpus": 8, "message_size": 4096, "allreduce_dtype": "bfloat16", "latency": 0.006,
           "kernel_source": "custom_graph", "backend": "graph"},
          {"num_gpus": 8, "message_size": 4096, "allreduce_dtype": "bfloat16", "latency": 0.020,
           "kernel_source": "custom_eager", "backend": "eager"}]  # fmt: skip
    _write(data / "comm" / "vllm" / "0.10.0", "custom_allreduce_perf", ar)
    nccl = [{"num_gpus": 8, "message_size": 4096, "nccl_dtype": "half", "op_name": op,
             "latency": lat, "kernel_source": "NCCL"}
            for op, lat in (("all_reduce", 0.025), ("all_gather", 0.012),
                            ("reduce_scatter", 0.01))]  # fmt: skip
    _write(data / "comm" / "nccl" / "2.2", "nccl_perf", nccl)
    return tmp_path / "systems"


def test_milliseconds_become_seconds_and_the_fastest_kernel_of_a_shape_is_kept(systems):
    table = import_aiconfigurator("h200_sxm", path=systems).table.set_index("op")
    gemm = table.loc["gemm"].set_index("dtype")
    assert gemm.loc["bf16", "time_s"] == pytest.approx(20e-6)
    assert gemm.loc["fp8", "time_s"] == pytest.approx(12e-6)  # deepgemm beat cutlass
    assert set(gemm["m"]) == {16}  # the m = 17 probe thinned, the negative time refused
    assert table.loc["attn_prefill", "time_s"] == pytest.approx(250e-6)  # fa4, bf16 KV, full


def test_generation_rows_decode_one_token_after_isl_plus_step_tokens(systems):
    row = import_aiconfigurator("h200_sxm", path=systems).table.query("op == 'attn_decode'")
    assert len(row) == 1  # head_dim 256 thinned
    row = row.iloc[0]
    assert (row.batch, row.q_len, row.kv_len, row.heads, row.kv_heads) == (4, 1, 4096, 32, 8)
    assert row.time_s == pytest.approx(60e-6)


def test_all_reduce_is_the_faster_of_the_engines_graph_kernel_and_nccl(systems):
    table = import_aiconfigurator("h200_sxm", path=systems).table
    ar = table.query("op == 'all_reduce'")
    assert len(ar) == 2  # bf16 custom (graph, 6 µs) and fp16 NCCL (25 µs) rows
    assert ar.set_index("dtype").loc["bf16", "time_s"] == pytest.approx(6e-6)
    assert set(table.op) >= {"all_gather"} and "reduce_scatter" not in set(table.op)


def test_provenance_names_source_versions_and_everything_skipped(systems):
    prov = import_aiconfigurator("h200_sxm", path=systems).provenance
    assert prov.device == DEVICE and prov.accelerator == "H200-SXM"
    assert "gemm vllm 0.10.0" in prov.source and "nccl 2.2" in prov.source  # newest version
    assert "Apache-2.0" in prov.source
    notes = " ".join(prov.notes)
    assert "fp8_block" in notes and "refused" in notes and "fp8 KV cache" in notes


def test_an_older_version_is_used_where_measured_and_the_newest_elsewhere_with_a_note(systems):
    prof = import_aiconfigurator("h200_sxm", path=systems, version="0.9.0")
    assert "gemm vllm 0.9.0" in prof.provenance.source
    assert "attention vllm 0.10.0" in prof.provenance.source
    assert "attention/vllm has no version 0.9.0: its newest, 0.10.0, used" in prof.provenance.notes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"system": "h200_sx"}, "unknown AIConfigurator system 'h200_sx'; closest: h200_sxm"),
        ({"system": "h200_sxm", "version": "0.11"}, "vllm version '0.11'; closest"),
        ({"system": "h200_sxm", "framework": "vlm"}, "framework for h200_sxm 'vlm'; closest: vllm"),
    ],
)
def test_unknown_system_or_version_names_the_closest(systems, kwargs, message):
    with pytest.raises(ProfileError, match=message):
        import_aiconfigurator(path=systems, **kwargs)


def test_a_table_of_another_layout_names_the_missing_columns(systems):
    path = systems / "data" / "h200_sxm" / "gemm" / "vllm" / "0.10.0" / "gemm_perf.parquet"
    pd.DataFrame({"device": [DEVICE], "latency": [1.0], "M": [1]}).to_parquet(path)
    with pytest.raises(ProfileError, match=r"gemm_perf: unknown layout, missing column"):
        import_aiconfigurator("h200_sxm", path=systems)


def test_a_device_outside_the_catalog_is_refused_with_the_fix(systems, tmp_path):
    for path in (systems / "data" / "h200_sxm").rglob("*.parquet"):
        pd.read_parquet(path).assign(device="Acme X1").to_parquet(path)
    with pytest.raises(ProfileError, match="maps to no hardware_specs entry"):
        import_aiconfigurator("h200_sxm", path=systems)


def test_a_folder_that_is_not_aiconfigurators_says_what_was_expected(tmp_path):
    with pytest.raises(ProfileError, match="not an AIConfigurator systems folder"):
        import_aiconfigurator("h200_sxm", path=tmp_path)


SHIPPED = ["h200-sxm-aic-vllm", "h100-sxm-aic-vllm", "a100-sxm4-80gb-aic-vllm",
           "l40s-aic-vllm", "b200-aic-vllm"]  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_imports_are_under_5_mb_and_name_their_source(name):
    assert (PROFILES_DIR / name / "profile.csv").stat().st_size <= 5_000_000
    prov = load_profile(name).provenance
    assert prov.source.startswith("AIConfigurator") and "vllm" in prov.source


def test_published_h200_gemms_predict_the_projects_own_h200_gemms_within_10_percent():
    """Two sources, one kernel (torch.nn.functional.linear, bf16) on an H200: the imported
    table's calibration, interpolated to every GEMM the suite measured, against the suite."""
    from perfmodel.profiling.calibrate import Roofline

    aic, own = load_profile("h200-sxm-aic-vllm"), load_profile("h200-sxm")
    rows = own.table.query("op == 'gemm' and dtype == 'bf16'")
    roof = Roofline.of(aic.reference).time(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eff = aic.efficiency("gemm", "bf16", rows.flops.to_numpy(), rows.bytes.to_numpy())
    err = roof / eff / rows.time_s.to_numpy() - 1
    assert len(rows) > 2000
    assert np.median(np.abs(err)) < 0.10
    assert abs(np.median(err)) < 0.05  # no bias between the sources


def test_an_imported_profile_says_it_is_imported_and_from_where():
    description = load_profile("h100-sxm-aic-vllm").description
    assert description.startswith("imported profile of NVIDIA H100 80GB HBM3 (AIConfigurator")


def test_published_a100_gemms_predict_llmcompass_measured_a100_gemms_within_10_percent():
    """LLMCompass's 20 measured A100 fp16 GEMMs (held out, docs/data/external) against the
    imported A100 tables' calibration (bf16 tables: a GPU profile's fp16 uses its bf16 curve,
    one tensor-core rate)."""
    from pathlib import Path

    from perfmodel.profiling.calibrate import Roofline

    root = Path(__file__).resolve().parents[2]
    truth = load_profile(root / "docs/data/external/llmcompass-a100-matmul").table
    aic = load_profile("a100-sxm4-80gb-aic-vllm")
    roof = Roofline.of(aic.reference).time(truth)
    eff = aic.efficiency("gemm", "fp16", truth.flops.to_numpy(), truth.bytes.to_numpy())
    err = roof / eff / truth.time_s.to_numpy() - 1
    assert len(err) == 20
    assert np.median(np.abs(err)) < 0.10


def test_a_version_folder_that_only_points_elsewhere_is_passed_over(systems):
    """AIConfigurator marks reused tables with a reuse.yaml and no data: the newest folder
    that holds the table is read."""
    reuse = systems / "data" / "h200_sxm" / "gemm" / "vllm" / "0.11.0"
    reuse.mkdir(parents=True)
    (reuse / "reuse.yaml").write_text("gemm_perf: {from_version: 0.10.0}\n")
    prof = import_aiconfigurator("h200_sxm", path=systems)
    assert "gemm vllm 0.10.0" in prof.provenance.source


def test_a_gpu_profile_serves_fp16_from_bf16_and_a_cpu_profile_does_not():
    """fp16 and bf16 share a GPU's tensor-core rate: the bf16-only imported tables answer fp16
    with their bf16 efficiency; a CPU profile keeps the fp16 → fp32 chain (no fp16 units)."""
    aic = load_profile("h200-sxm-aic-vllm")
    flops, nbytes = np.array([2.0 * 256 * 4096 * 4096]), np.array([2.0 * 4096 * 4096])
    fp16 = aic.efficiency("gemm", "fp16", flops, nbytes)[0]
    assert fp16 == aic.efficiency("gemm", "bf16", flops, nbytes)[0]
    cpu = load_profile("cpu-amd-epyc-1t")
    assert cpu._curve("gemm", "fp16") is cpu._curve("gemm", "fp32")


def test_tables_with_no_usable_row_are_one_error_listing_what_was_skipped(systems):
    for path in (systems / "data" / "h200_sxm").rglob("*.parquet"):
        frame = pd.read_parquet(path)
        frame.assign(latency=0.0).to_parquet(path)
    with pytest.raises(ProfileError, match=r"no importable rows .*refused"):
        import_aiconfigurator("h200_sxm", path=systems)
