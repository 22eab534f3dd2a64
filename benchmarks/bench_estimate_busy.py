"""Wall time of `capplan estimate` with an imported profile while other jobs hold the CPUs.

Run:  python benchmarks/bench_estimate_busy.py [--busy 2] [--repeats 3]
      [--profile h100-sxm-aic-vllm] [--blas-threads N]

``--busy`` processes make small BLAS calls (as a fit would) while the command runs
``--repeats`` times in a fresh process each (the profile is loaded and its curves built on
first use, so every run pays that). ``--blas-threads`` sets OPENBLAS_NUM_THREADS for the
command, to compare with BLAS pinned from outside. Times are wall seconds per run.
Then, in this process, the step the command used to stall on: scipy's barycentric transforms
of the profile's bf16 GEMM triangulation (`Delaunay.transform`), with BLAS's thread pool and
on one thread (as `perfmodel.profiling.interpolate` now computes them).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

from machine import describe


def spin(stop) -> None:
    """Small BLAS calls until ``stop`` is set, as a fit's least squares makes (OpenBLAS
    threads of its own, which busy-wait between calls)."""
    import numpy as np

    a = np.random.default_rng(0).random((400, 400))
    while not stop.is_set():
        for _ in range(10):
            a = a @ a
            a /= np.abs(a).max()


def run_once(profile: str, env: dict) -> float:
    cmd = ["capplan", "estimate", "--model", "llama-3.1-8b", "--hardware", "h100",
           "--calibration", profile]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def transform_times(profile: str, repeats: int) -> dict[str, list[float]]:
    """Seconds of ``Delaunay.transform`` on the profile's bf16 GEMM plane, pooled BLAS
    threads and one thread, alternating."""
    import numpy as np
    from scipy.spatial import Delaunay
    from threadpoolctl import threadpool_limits

    from perfmodel.profiling import load_profile
    from perfmodel.profiling.interpolate import plane_coords

    rows = load_profile(profile).table.query("op_class == 'gemm' and dtype == 'bf16'")
    pts = np.unique(plane_coords(rows.flops.to_numpy(float), rows.bytes.to_numpy(float)).round(9),
                    axis=0)  # fmt: skip
    out: dict[str, list[float]] = {"pooled": [], "one thread": []}
    for _ in range(repeats):
        for mode, limit in (("pooled", None), ("one thread", 1)):
            tri = Delaunay(pts)
            start = time.perf_counter()
            with threadpool_limits(limit):
                _ = tri.transform
            out[mode].append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2, help="spinning processes beside the command")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", default="h100-sxm-aic-vllm")
    ap.add_argument("--blas-threads", type=int, default=None)
    args = ap.parse_args()
    env = dict(os.environ)
    if args.blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    stop = mp.Event()
    burners = [mp.Process(target=spin, args=(stop,)) for _ in range(args.busy)]
    for p in burners:
        p.start()
    try:
        times = [run_once(args.profile, env) for _ in range(args.repeats)]
        transforms = transform_times(args.profile, args.repeats)
    finally:
        stop.set()
        for p in burners:
            p.join()
    print(f"machine: {describe()}; {args.busy} busy processes; profile {args.profile}; "
          f"OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', 'unset')}")  # fmt: skip
    print("estimate wall s: " + ", ".join(f"{t:.2f}" for t in times))
    for mode, ts in transforms.items():
        print(f"Delaunay.transform, {mode}: " + ", ".join(f"{t:.3f}" for t in ts) + " s")


if __name__ == "__main__":
    sys.exit(main())
