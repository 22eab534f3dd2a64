"""benchmarks/allreduce_check.py and its bundled all-reduce measurements
(docs/data/external/allreduce_*.csv): well-formed rows, and predictions checked by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hardware_specs

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "docs" / "data" / "external").glob("allreduce_*.csv"))


def _check_module():
    spec = importlib.util.spec_from_file_location(
        "allreduce_check", ROOT / "benchmarks" / "allreduce_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check():
    return _check_module()


def test_bundled_rows_are_well_formed():
    assert FILES, "no docs/data/external/allreduce_*.csv"
    for path in FILES:
        frame = pd.read_csv(path)
        assert list(frame.columns) == [
            "gpu", "n_gpus", "bytes", "time_us", "implementation", "source", "notes",
        ], path.name  # fmt: skip
        assert len(frame), path.name
        for col in ("n_gpus", "bytes", "time_us"):
            values = frame[col].to_numpy(float)
            assert np.isfinite(values).all() and (values > 0).all(), (path.name, col)
        assert (frame["n_gpus"] >= 2).all() and (frame["n_gpus"] % 1 == 0).all()
        assert frame["source"].str.startswith("https://").all(), path.name
        assert frame["implementation"].str.strip().str.len().gt(0).all(), path.name
        for gpu in frame["gpu"].unique():
            hardware_specs.get(gpu)  # a catalog name
        # each source has its note file
        assert path.with_suffix(".md").is_file(), path.name


def test_points_copied_as_printed(check):
    points = check.load_points()
    # vLLM PR #42324, SM 10.0 / B200, World Size = 2, 512 KiB, pynccl: 0.013 ms
    b200 = points[(points.gpu == "B200") & (points.n_gpus == 2) & (points.bytes == 512 * 1024)]
    assert b200["time_us"].tolist() == [13.0]
    # vLLM PR #24111, H100 TP=4, tensor (32, 8192) bf16 = 524 288 bytes, ca_1stage: 0.010 ms
    h100 = points[(points.n_gpus == 4) & (points.bytes == 32 * 8192 * 2)]
    one_shot = h100[h100.implementation.str.contains("ca_1stage")]
    assert one_shot["time_us"].tolist() == [10.0]


def test_default_is_the_ring_alpha_beta_by_hand(check):
    # H100-SXM catalog link: 450 GB/s per direction, 2 us latency; comm efficiency 0.80.
    # 1 MiB among 4 ranks: (2·3/4 · 1 048 576 / 450e9 + 2·3 · 2e-6) / 0.8 = 19.369 us
    by_hand = (1.5 * 1048576 / 450e9 + 6 * 2e-6) / 0.8
    assert by_hand == pytest.approx(19.369e-6, rel=1e-4)
    assert check.predict_s("default", "H100-SXM", 4, 1048576) == pytest.approx(by_hand, rel=1e-9)


def test_profile_returns_its_own_nccl_row(check):
    # b200-aic-vllm, all_reduce fp16 (AIConfigurator's NCCL table, half), 2 ranks,
    # 262 144 elements = 512 KiB: the table row reads 1.235e-05 s.
    table = pd.read_csv(ROOT / "hardware_specs/profiles/b200-aic-vllm/profile.csv")
    row = table[(table.op == "all_reduce") & (table.dtype == "fp16")
                & (table.world_size == 2) & (table.numel == 262144)]  # fmt: skip
    assert row["time_s"].tolist() == [1.235e-05]
    predicted = check.predict_s("b200-aic-vllm", "B200", 2, 524288, "fp16")
    assert predicted == pytest.approx(1.235e-05, rel=0.01)


def test_family_and_fastest_of_row(check):
    assert check.family("nccl (vLLM pynccl)") == "nccl"
    assert check.family("vllm custom one-shot (ca_1stage)") == "custom"
    points = pd.DataFrame({
        "file": ["a", "a", "a"], "gpu": ["H100-SXM"] * 3, "n_gpus": [4, 4, 8],
        "bytes": [10, 10, 10], "time_us": [5.0, 3.0, 7.0],
        "implementation": ["nccl (x)", "vllm custom one-shot (y)", "nccl (x)"],
        "source": ["s"] * 3, "notes": [""] * 3,
    })  # fmt: skip
    out = check.with_fastest(points)
    fastest = out[out.implementation.str.startswith("fastest")]
    assert fastest["time_us"].tolist() == [3.0]  # only the 4-rank size has two rows
    assert check.family(fastest["implementation"].iloc[0]) == "fastest"
