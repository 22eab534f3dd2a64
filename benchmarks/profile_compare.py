"""Two profiles of one device, kernel by kernel: how far apart are their times?

    python benchmarks/profile_compare.py A B   # profile dirs or shipped names

Rows of the same op, dtype and shape in both are paired; the table gives, per op class and
dtype, the number of pairs and the median and 10th/90th percentiles of time_B / time_A, plus
the median |time_B / time_A − 1|. Two runs of the suite on one GPU give the measurement's
repeatability; a measured and an imported profile, how far the two sources disagree.
"""

from __future__ import annotations

import argparse

import numpy as np

from perfmodel.profiling import load_profile
from perfmodel.profiling.ops import SHAPE_COLUMNS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    args = parser.parse_args()
    a, b = load_profile(args.a).table, load_profile(args.b).table
    pairs = a.merge(b, on=["op", "op_class", "dtype", *SHAPE_COLUMNS], suffixes=("_a", "_b"))
    pairs["ratio"] = pairs["time_s_b"] / pairs["time_s_a"]
    print(f"{args.a} vs {args.b}: {len(pairs)} kernels in both\n")
    print("| op class | dtype | pairs | median B/A | p10 | p90 | median abs diff % |")
    print("|---|---|---|---|---|---|---|")
    for (name, dtype), rows in [*pairs.groupby(["op_class", "dtype"]), (("all", ""), pairs)]:
        r = rows["ratio"].to_numpy()
        q10, q50, q90 = np.percentile(r, [10, 50, 90])
        diff = 100 * np.median(np.abs(r - 1))
        print(f"| {name} | {dtype} | {len(r)} | {q50:.3f} | {q10:.3f} | {q90:.3f} | {diff:.1f} |")


if __name__ == "__main__":
    main()
