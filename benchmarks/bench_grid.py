"""Speed of the vectorized step estimate: (batch, context) points evaluated per second.

Run:  python benchmarks/bench_grid.py [--points 100000] [--repeats 5]
Prints one row per (model, phase): best and median wall time over the repeats.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from machine import cpu_name

import perfmodel as pm

CASES = [
    ("llama-2-7b", "A100-SXM4-80GB", pm.Parallelism(), 1),
    ("llama-3.1-70b", "H100-SXM", pm.Parallelism(tp=4), 1),
    ("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2, ep=2), 1),
    ("deepseek-v3", "H200-SXM", pm.Parallelism(tp=8), 1),
    ("llama-3.1-8b", "L40S", pm.Parallelism(), 512),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    batch = rng.integers(1, 257, args.points)
    context = rng.integers(0, 32_768, args.points)
    import os

    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    print(
        f"{'model':16s} {'hardware':16s} {'new':>5s} {'points':>8s} {'best s':>8s} "
        f"{'median s':>9s} {'points/s':>12s}"
    )
    for model, hw, par, new in CASES:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pm.estimate_grid(model, hw, batch, context, new, parallelism=par, calibration="default")
            times.append(time.perf_counter() - t0)
        best, med = min(times), float(np.median(times))
        print(
            f"{model:16s} {hw:16s} {new:5d} {args.points:8d} {best:8.3f} {med:9.3f} "
            f"{args.points / best:12,.0f}"
        )


if __name__ == "__main__":
    main()
