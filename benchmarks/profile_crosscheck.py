"""Predict one profile's measured kernels with another's calibration (same device).

    python benchmarks/profile_crosscheck.py --profile h200-sxm-aic-vllm --against h200-sxm
    python benchmarks/profile_crosscheck.py --profile a100-sxm4-80gb-aic-vllm \
        --against docs/data/external/llmcompass-a100-matmul --as-dtype bf16

Every row of ``--against`` (measured kernels: GEMM, attention, collectives) is predicted from
``--profile`` alone: roofline of the device's catalog entry / the efficiency ``--profile``
interpolates at that row's flops, bytes and shape. Per op class and dtype: rows, median
|predicted / measured − 1|, and the median signed error (+ = the profile predicts slower). With
an imported profile and the project's own measurement this is the check that issue asks of
published tables: agreement with kernel times from another source, on shapes either measured.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from perfmodel.profiling import load_profile
from perfmodel.profiling.calibrate import Roofline, predicted_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="profile whose calibration predicts")
    parser.add_argument("--against", required=True, help="profile whose measurements are truth")
    parser.add_argument("--classes", default="gemm,attn_prefill,attn_decode,comm")
    parser.add_argument(
        "--as-dtype", default=None,
        help="read the measured rows as this dtype (e.g. fp16 rows against a bf16-only "
        "profile on a GPU that runs both at one tensor-core rate)",
    )  # fmt: skip
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile, truth = load_profile(args.profile), load_profile(args.against)
    rows = truth.table[truth.table.op_class.isin(args.classes.split(","))]
    if args.as_dtype:
        rows = rows.assign(dtype=args.as_dtype)
    rows = rows.assign(predicted=predicted_times(profile, Roofline.of(profile.reference), rows))
    rows = rows.assign(err=rows.predicted / rows.time_s - 1)
    print(f"{args.profile} predicting {args.against} ({truth.provenance.device})\n")
    print("| op class | dtype | rows | median abs err % | median signed err % | p90 abs err % |")
    print("|---|---|---|---|---|---|")
    for (op_class, dtype), group in rows.groupby(["op_class", "dtype"]):
        e = 100 * group.err.to_numpy()
        p90 = np.percentile(np.abs(e), 90)
        print(f"| {op_class} | {dtype} | {len(e)} | {np.median(np.abs(e)):.1f} | "
              f"{np.median(e):+.1f} | {p90:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
