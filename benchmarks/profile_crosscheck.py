"""Predict one profile's measured kernels with another's calibration (same device).

    python benchmarks/profile_crosscheck.py --profile h200-sxm-aic-vllm --against h200-sxm
    python benchmarks/profile_crosscheck.py --profile a100-sxm4-80gb-aic-vllm \
        --against docs/data/external/llmcompass-a100-matmul --as-dtype bf16
    python benchmarks/profile_crosscheck.py --profile b200-aic-vllm --against b200-aic-vllm \
        --classes attn_prefill --by head_dim [--pooled-prefill]

Every row of ``--against`` (measured kernels: GEMM, attention, collectives) is predicted from
``--profile`` alone: roofline of the device's catalog entry / the efficiency ``--profile``
interpolates at that row's flops, bytes and shape. Per op class and dtype: rows, median
|predicted / measured − 1|, and the median signed error (+ = the profile predicts slower). With
an imported profile and the project's own measurement this is the check that issue asks of
published tables: agreement with kernel times from another source, on shapes either measured.
``--by COLUMN`` splits the table further (e.g. head_dim); ``--pooled-prefill`` predicts prefill
attention without its head dimension (the curve over all the profile's prefill rows, as before
prefill was keyed on it). A profile against itself is the in-sample error.
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
    parser.add_argument("--by", default=None, help="a further column to group by")
    parser.add_argument("--pooled-prefill", action="store_true",
                        help="predict prefill attention without its head dimension")  # fmt: skip
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile, truth = load_profile(args.profile), load_profile(args.against)
    rows = truth.table[truth.table.op_class.isin(args.classes.split(","))]
    if args.as_dtype:
        rows = rows.assign(dtype=args.as_dtype)
    keyed = rows
    if args.pooled_prefill:
        keyed = rows.assign(head_dim=rows.head_dim.where(rows.op_class != "attn_prefill", 0))
    predicted = predicted_times(profile, Roofline.of(profile.reference), keyed)
    rows = rows.assign(predicted=predicted)
    rows = rows.assign(err=rows.predicted / rows.time_s - 1)
    print(f"{args.profile} predicting {args.against} ({truth.provenance.device})\n")
    keys = ["op_class", "dtype", *([args.by] if args.by else [])]
    print(f"| {' | '.join(k.replace('_', ' ') for k in keys)} | rows | median abs err % | "
          "median signed err % | p90 abs err % |")  # fmt: skip
    print("|---" * (len(keys) + 4) + "|")
    for key, group in rows.groupby(keys):
        e = 100 * group.err.to_numpy()
        p90 = np.percentile(np.abs(e), 90)
        print(f"| {' | '.join(map(str, key))} | {len(e)} | {np.median(np.abs(e)):.1f} | "
              f"{np.median(e):+.1f} | {p90:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
