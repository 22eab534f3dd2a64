"""benchmarks/external_kernels_check.py and its bundled kernel measurements
(docs/data/external/gemm_*.csv, attention_*.csv): well-formed rows, one point per file
checked by hand against the number the source printed, and the predictions' plumbing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "data" / "external"
GEMM_FILES = sorted(DATA.glob("gemm_*.csv"))
ATTN_FILES = sorted(DATA.glob("attention_*.csv"))


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location(
        "external_kernels_check", ROOT / "benchmarks" / "external_kernels_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_files_exist_with_a_note_each():
    assert len(GEMM_FILES) >= 3 and len(ATTN_FILES) >= 3
    for path in GEMM_FILES + ATTN_FILES:
        assert path.with_suffix(".md").is_file(), f"{path.name} needs its provenance note"


@pytest.mark.parametrize("path", GEMM_FILES + ATTN_FILES, ids=lambda p: p.name)
def test_rows_well_formed(path):
    frame = pd.read_csv(path)
    shape = ["m", "n", "k"] if path.name.startswith("gemm_") else [
        "batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len"]  # fmt: skip
    for col in [*shape, "time_us"]:
        values = frame[col].to_numpy(float)
        assert np.isfinite(values).all() and (values > 0).all(), f"{path.name}: {col}"
    assert frame["source"].str.startswith("https://github.com/").all()
    assert frame["gpu"].isin(["H100-SXM", "H200-SXM", "A100-SXM4-80GB", "L40S", "B200"]).all()
    assert frame["dtype"].isin(["bf16", "fp16", "fp8"]).all()
    printed = pd.to_numeric(frame["tflops"], errors="coerce")
    if path.name.startswith("gemm_"):
        # every GEMM row carries the printed TFLOP/s; time_us is its stated conversion
        assert printed.notna().all()
        flops = 2.0 * frame["m"] * frame["n"] * frame["k"]
        np.testing.assert_allclose(flops / (frame["time_us"] * 1e-6) / 1e12, printed, rtol=1e-4)
    else:
        assert frame["kind"].isin(["prefill", "decode"]).all()
        assert (frame.loc[frame["kind"] == "decode", "q_len"] == 1).all()


# One point per file, copied by hand from the source (see each file's .md).
HAND = [
    # file, selector, expected time_us
    ("gemm_vllm_pr23280.csv", {"m": 1024}, 2 * 1024 * 2112 * 7168 / 619.771938e12 * 1e6),
    ("gemm_vllm_pr49363.csv", {"m": 128, "dtype": "bf16"},
     2 * 128 * 12288 * 5376 / 352.560566e12 * 1e6),
    ("gemm_vllm_pr18778.csv", {"m": 256}, 2 * 256 * 6144 * 4096 / 1111.895929e12 * 1e6),
    ("gemm_vllm_pr19566.csv", {"m": 2048}, 2 * 2048 * 4096 * 4096 / 1444.418219e12 * 1e6),
    ("gemm_vllm_pr20071.csv", {"m": 128}, 2 * 128 * 28672 * 4096 / 628.627237e12 * 1e6),
    ("attention_fa_issue1572.csv", {"kv_len": 2000}, 292.0),
    ("attention_fa_issue2729.csv", {"implementation": None}, 3001.8),
    ("attention_fa_pr2280.csv", {"causal": False}, 1433.0),
    ("attention_flashinfer_pr1415.csv", {"batch": 4, "kv_len": 8192}, 15.436799824237823),
]  # fmt: skip


@pytest.mark.parametrize("name,select,expected", HAND, ids=[h[0] for h in HAND])
def test_one_point_by_hand(name, select, expected):
    frame = pd.read_csv(DATA / name)
    for col, value in select.items():
        if col == "implementation":  # FA issue 2729: the no-LSE row
            frame = frame[frame[col].str.endswith("return_lse=False")]
        else:
            frame = frame[frame[col] == value]
    assert len(frame) == 1
    assert frame["time_us"].iloc[0] == pytest.approx(expected, rel=1e-4)


def test_fa_tflops_as_the_source_counts_them():
    # FlashAttention counts 4·b·s²·h·d FLOPs (halved when causal): PR 2280 printed 1534.8 and
    # 1418.1 TFLOP/s at 1.433 and 0.775 ms.
    frame = pd.read_csv(DATA / "attention_fa_pr2280.csv")
    for row in frame.itertuples():
        flops = 4 * row.batch * row.q_len**2 * row.heads * row.head_dim / (2 if row.causal else 1)
        assert flops / (row.time_us * 1e-6) / 1e12 == pytest.approx(row.tflops, rel=1e-3)


def test_non_causal_prefill_counts_every_pair(check):
    points = check.load_attention(str(DATA / "attention_fa_pr2280.csv"))
    rows = check.op_rows(points).set_index("causal")
    b, h, d, s = 4, 16, 128, 8192
    assert rows.loc[False, "flops"] == pytest.approx(4 * b * h * d * s * s)
    assert rows.loc[True, "flops"] == pytest.approx(4 * b * h * d * s * (s + 1) / 2)
    assert rows.loc[False, "bytes"] == rows.loc[True, "bytes"]


def test_predictions_cover_every_point(check):
    points = pd.concat([check.load_gemm(), check.load_attention()], ignore_index=True)
    pred = check.predict(points)
    assert len(pred) == len(points)
    for col in ("profile_us", "default_us"):
        values = pred[col].to_numpy(float)
        assert np.isfinite(values).all() and (values > 0).all()
    # the defaults by hand on one B200 GEMM: max(flops / peak, bytes / bw) / 0.75 + 2 µs
    row = pred[(pred["file"] == "gemm_vllm_pr18778.csv") & (pred["m"] == 1024)].iloc[0]
    m, n, k = 1024, 6144, 4096
    roof = max(2 * m * n * k / 2.25e15, (m * k + k * n + m * n) * 2 / 8.0e12)
    assert row["default_us"] == pytest.approx(roof / 0.75 * 1e6 + 2.0, rel=1e-6)
    summary = check.summary(pred, ["gpu", "op_class", "dtype"])
    assert summary["points"].sum() == len(points)


def test_bad_rows_are_refused(check, tmp_path):
    frame = pd.read_csv(DATA / "gemm_vllm_pr18778.csv")
    frame.loc[0, "time_us"] = -1.0
    path = tmp_path / "gemm_bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SystemExit, match="time_us"):
        check.load_gemm(str(path), llmcompass=False)
    frame = pd.read_csv(DATA / "gemm_vllm_pr18778.csv").assign(source="")
    frame.to_csv(path, index=False)
    with pytest.raises(SystemExit, match="source"):
        check.load_gemm(str(path), llmcompass=False)
