"""Shared fixtures: a tiny measured profile (runs the real suite on CPU in a few seconds),
a tiny validation config, and a synthetic profile with known efficiencies (no torch)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from perfmodel.profiling.ops import SHAPE_COLUMNS, fill_counts
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.provenance import Provenance

TINY_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 256,
    "torch_dtype": "float32",
}


@pytest.fixture(scope="session")
def tiny_plan():
    pytest.importorskip("torch")
    from perfmodel.profiling.suite import SuitePlan
    from perfmodel.profiling.timing import TimingPolicy

    return SuitePlan(
        quick=True,
        dtypes=["fp32"],
        attn_dtypes=["fp32"],
        models=[],
        tps=(1,),
        attn_tps=(1,),
        gemm_tokens=[1, 8, 32],
        gemm_square=[64, 128],
        max_gemm_flops=1e9,
        max_gemm_bytes=1e8,
        prefill_seq=[8, 16],
        prefill_batch=[1, 2],
        max_attn_flops=1e9,
        decode_kv=[8, 32],
        decode_batch=[1, 2],
        max_kv_bytes=1e8,
        memory_sizes=[1024, 16384, 2**18],
        comm_sizes=[],
        policy=TimingPolicy(warmup=1, min_repeats=3, max_repeats=3, target_s=0.0),
        include_validation=False,
        generic_heads=((4, 2, 16),),
    )


@pytest.fixture(scope="session")
def tiny_profile(tiny_plan):
    """The real suite on CPU, one thread, over a tiny grid (a few seconds)."""
    from perfmodel.profiling.suite import run_suite

    return run_suite(device="cpu", threads=1, plan=tiny_plan, progress=False)


@pytest.fixture()
def tiny_config(tmp_path):
    path = tmp_path / "validate-tiny.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return path


@pytest.fixture(autouse=True)
def _forget_registered():
    """Accelerators registered by a test do not leak into other tests."""
    from hardware_specs import loader

    before = dict(loader._registered)
    yield
    loader._registered.clear()
    loader._registered.update(before)


def synthetic_provenance(device: str = "Test CPU") -> Provenance:
    return Provenance(
        device=device,
        accelerator="cpu-test-1t",
        device_type="cpu",
        threads=1,
        date="2026-01-01T00:00:00+00:00",
        timing_method="synthetic",
        last_level_cache_bytes=2**20,
        memory_bytes=2**34,
    )


PEAK, BW = 1e11, 1e10  # reference roofline of the synthetic profile (FLOP/s, bytes/s)
GEMM_EFF = {1: 0.2, 16: 0.4, 256: 0.6, 4096: 0.8}  # efficiency by token count m


def synthetic_table(device: str = "Test CPU") -> pd.DataFrame:
    """GEMMs (n = k ∈ {1024, 2048}) with efficiency GEMM_EFF[m] against (PEAK, BW), and
    copies at exactly BW (for the derived bandwidth)."""
    rows = [
        {"op": "gemm", "dtype": "fp32", "m": m, "n": n, "k": n}
        for m in GEMM_EFF
        for n in (1024, 2048)
    ]
    rows += [{"op": "copy", "dtype": "fp32", "numel": numel} for numel in (2**20, 2**22, 2**24)]
    table = fill_counts(pd.DataFrame(rows).assign(device=device, repeats=3))
    roof = np.maximum(table["flops"] / PEAK, table["bytes"] / BW)
    eff = table["m"].map(GEMM_EFF).fillna(1.0)
    table["time_s"] = roof / eff
    assert set(SHAPE_COLUMNS) <= set(table.columns)
    return table


@pytest.fixture()
def synthetic_profile() -> Profile:
    return Profile(synthetic_table(), synthetic_provenance())


@pytest.fixture()
def gemm_eff() -> dict[int, float]:
    return dict(GEMM_EFF)


@pytest.fixture()
def make_table():
    return synthetic_table


@pytest.fixture()
def make_provenance():
    return synthetic_provenance


@pytest.fixture()
def reference():
    """An accelerator with exactly the synthetic profile's reference roofline."""
    return reference_accelerator()


def reference_accelerator(name: str = "ref-1"):
    from hardware_specs import Accelerator, Interconnect, Price

    return Accelerator(
        name=name,
        vendor="test",
        aliases=[],
        memory_gib=16,
        hbm_gb_s=BW / 1e9,
        peak_tflops={"fp32": PEAK / 1e12},
        interconnect=Interconnect(kind="none", bandwidth_gb_s=1, latency_us=1),
        nic_gbit_s=10,
        gpus_per_node=1,
        tdp_w=10,
        price=Price(usd_per_hour=1, source="test", date="2026-01-01"),
        sources=["test"],
        kind="cpu",
    )
