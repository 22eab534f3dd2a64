"""capplan's GEMM and attention times against published kernel measurements from other sources.

    python benchmarks/external_kernels_check.py            # every bundled gemm_/attention_ CSV
    python benchmarks/external_kernels_check.py --points   # also one line per measured point

Inputs (docs/data/external/, held out: nothing is fitted on them):

- ``gemm_*.csv``: gpu, dtype, m, n, k, time_us, tflops, implementation, source, notes
  (``time_us`` as printed, or converted from the printed TFLOP/s by the source's own formula
  2·m·n·k / time); plus ``llmcompass_a100_matmul.csv`` (the A100 check, op/device/time_s
  layout of ``capplan import-profile``).
- ``attention_*.csv``: gpu, dtype, kind (prefill / decode), causal, batch, heads, kv_heads,
  head_dim, q_len, kv_len, time_us, tflops, implementation, source, notes.

Every point is predicted as ``estimate_step`` times the matching operator (`perfmodel.
profiling.calibrate.predicted_times`, the roofline of the GPU's catalog entry / the
calibration's efficiency at the op's flops and bytes, and for decode attention its batch, KV
length and head shape):

- ``profile``: the shipped imported profile of that GPU (``<gpu>-aic-vllm``, AIConfigurator's
  vLLM tables), like with like: GEMM → its gemm curve of that dtype (fp16 falls to bf16, one
  tensor-core rate), prefill → attn_prefill, decode → attn_decode.
- ``default``: the documented constants (gemm 0.75, prefill attention 0.60, decode 0.70) plus
  their 2 µs per launch, at the catalog's datasheet peaks.

FLOPs and bytes are capplan's (`perfmodel.profiling.ops`): a GEMM 2·m·n·k and
(m·k + k·n + m·n)·e bytes; attention 4·b·h·d·P with P the (query, key) pairs the mask keeps,
P = q(q+1)/2 for a causal prefill of q = kv tokens (FlashAttention counts q²/2: 0.01% apart at
8 k tokens) and kv for a decode step. capplan's attn_prefill is causal; a **non-causal**
measurement is the same kernel doing twice the pairs, so it is predicted at its own FLOPs,
4·b·h·d·q·kv, and the causal op's bytes (the efficiency is looked up at that point).

Per GPU, op class and dtype: points, median |pred/meas − 1|, worst signed error and the
median signed error (+ = capplan slower than measured), for both calibrations.
"""

from __future__ import annotations

import argparse
import glob
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import hardware_specs
from perfmodel.calibration import DEFAULT, resolve
from perfmodel.profiling.calibrate import Roofline, predicted_times
from perfmodel.profiling.learned import IMPORTED_PROFILES
from perfmodel.profiling.ops import fill_counts

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "data" / "external"
GEMM_COLUMNS = ["gpu", "dtype", "m", "n", "k", "time_us", "source"]
ATTN_COLUMNS = ["gpu", "dtype", "kind", "causal", "batch", "heads", "kv_heads", "head_dim",
                "q_len", "kv_len", "time_us", "source"]  # fmt: skip
#: Catalog name → the shipped imported profile of that GPU.
PROFILES = IMPORTED_PROFILES
#: The LLMCompass A100 file (capplan import-profile layout) and the catalog entry it maps to.
LLMCOMPASS = ("llmcompass_a100_matmul.csv", "A100-SXM4-80GB",
              "https://github.com/PrincetonUniversity/LLMCompass")  # fmt: skip


def _checked(frame: pd.DataFrame, path: str, columns: list[str], numeric: list[str]):
    missing = set(columns) - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {sorted(missing)}")
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        if not (np.isfinite(values).all() and (values > 0).all()):
            raise SystemExit(f"{path}: {col}: every value must be a positive number")
    if frame["source"].astype("string").fillna("").str.strip().eq("").any():
        raise SystemExit(f"{path}: every row needs a source")
    unknown = sorted(set(frame["gpu"]) - set(PROFILES))
    if unknown:
        raise SystemExit(f"{path}: gpu {unknown} has no imported profile; known: {list(PROFILES)}")
    return frame.assign(file=Path(path).name)


def load_gemm(pattern: str = str(DATA / "gemm_*.csv"), llmcompass: bool = True) -> pd.DataFrame:
    """Every bundled GEMM measurement (checked), as rows of perfmodel's gemm op."""
    frames = [_checked(pd.read_csv(p), p, GEMM_COLUMNS, ["m", "n", "k", "time_us"])
              for p in sorted(glob.glob(pattern))]  # fmt: skip
    name, gpu, url = LLMCOMPASS
    if llmcompass and (DATA / name).is_file():
        raw = pd.read_csv(DATA / name)
        frames.append(_checked(
            raw.assign(gpu=gpu, time_us=raw["time_s"] * 1e6, source=url,
                       implementation="LLMCompass real_hardware matmul"),
            name, GEMM_COLUMNS, ["m", "n", "k", "time_us"]))  # fmt: skip
    if not frames:
        raise SystemExit(f"no files match {pattern}")
    points = pd.concat(frames, ignore_index=True).assign(op="gemm", kind="gemm", causal=True)
    return points


def load_attention(pattern: str = str(DATA / "attention_*.csv")) -> pd.DataFrame:
    """Every bundled attention measurement (checked), as rows of attn_prefill / attn_decode."""
    numeric = ["batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len", "time_us"]
    frames = [
        _checked(pd.read_csv(p), p, ATTN_COLUMNS, numeric) for p in sorted(glob.glob(pattern))
    ]
    if not frames:
        raise SystemExit(f"no files match {pattern}")
    points = pd.concat(frames, ignore_index=True)
    kinds = set(points["kind"])
    if not kinds <= {"prefill", "decode"}:
        raise SystemExit(f"attention kind must be prefill or decode, got {sorted(kinds)}")
    bad = points[(points["kind"] == "decode") & (points["q_len"] != 1)]
    if len(bad):
        raise SystemExit(f"{bad['file'].iloc[0]}: a decode row needs q_len = 1")
    points["causal"] = points["causal"].astype(str).str.lower().map({"true": True, "false": False})
    if points["causal"].isna().any():
        raise SystemExit("attention causal must be True or False")
    return points.assign(op="attn_" + points["kind"])


def op_rows(points: pd.DataFrame) -> pd.DataFrame:
    """The points as profile-table rows (op_class, flops, bytes from capplan's formulas);
    non-causal prefill at its own FLOPs (every query sees every key)."""
    rows = fill_counts(points.assign(time_s=points["time_us"] * 1e-6))
    full = (rows["op"] == "attn_prefill") & ~rows["causal"].astype(bool)
    pairs = rows["q_len"].astype(float) * rows["kv_len"].astype(float)
    all_pairs = 4.0 * rows["batch"] * rows["heads"] * rows["head_dim"] * pairs
    rows.loc[full, "flops"] = all_pairs[full]
    return rows


def predict(points: pd.DataFrame) -> pd.DataFrame:
    """The points with predicted µs under the imported profile and the defaults."""
    rows = op_rows(points)
    rows["profile_us"] = np.nan
    rows["default_us"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gpu, idx in rows.groupby("gpu").indices.items():
            group = rows.iloc[idx]
            roofline = Roofline.of(hardware_specs.get(gpu))
            profiled = predicted_times(resolve(PROFILES[gpu]), roofline, group)
            launch = group["op_class"].map(DEFAULT.kernel_overhead_s).to_numpy(float)
            default = predicted_times(DEFAULT, roofline, group) + launch
            rows.iloc[idx, rows.columns.get_loc("profile_us")] = profiled * 1e6
            rows.iloc[idx, rows.columns.get_loc("default_us")] = default * 1e6
    for name in ("profile", "default"):
        rows[f"err_{name}"] = rows[f"{name}_us"] / rows["time_us"] - 1.0
    return rows


def summary(pred: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: points; median |pred/meas − 1|, worst signed and median signed error (%)."""
    out = []
    for key, group in pred.groupby(by):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["points"] = len(group)
        for name in ("profile", "default"):
            err = group[f"err_{name}"].to_numpy(float)
            row[f"{name} median %"] = round(100 * float(np.median(np.abs(err))), 1)
            row[f"{name} worst %"] = round(100 * float(err[np.argmax(np.abs(err))]), 1)
            row[f"{name} signed %"] = round(100 * float(np.median(err)), 1)
        out.append(row)
    return pd.DataFrame(out)


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", action="store_true", help="also print every point")
    parser.add_argument("--no-llmcompass", action="store_true", help="leave out the A100 file")
    args = parser.parse_args()
    points = pd.concat([load_gemm(llmcompass=not args.no_llmcompass), load_attention()],
                       ignore_index=True)  # fmt: skip
    pred = predict(points)
    pred["class"] = np.where(
        (pred["op"] == "attn_prefill") & ~pred["causal"].astype(bool),
        "attn_prefill (non-causal)", pred["op_class"])  # fmt: skip
    print("Per GPU and op class (+ = capplan slower than measured)\n")
    print(markdown(summary(pred, ["gpu", "op_class", "dtype"])))
    print("\nPer source file\n")
    print(markdown(summary(pred, ["gpu", "file", "class", "dtype"])))
    if args.points:
        cols = ["gpu", "file", "class", "dtype", "m", "n", "k", "batch", "heads", "kv_heads",
                "head_dim", "q_len", "kv_len", "time_us", "profile_us", "default_us"]  # fmt: skip
        table = pred[cols].copy()
        for col in ("time_us", "profile_us", "default_us"):
            table[col] = table[col].map(lambda v: f"{v:.1f}")
        print("\nEvery point\n")
        print(markdown(table))


if __name__ == "__main__":
    main()
