"""capplan's GPU-mix planner against Mélange's own solver, side by side, on Mélange-format
instances (benchmarks/melange_instances.py: Mélange's toy, paper-shaped 60 x 4 at 1-64 req/s,
1,000 x 10).

Run:  python benchmarks/bench_melange.py [--repeats 5] [--melange PATH] [--melange-large]

capplan is timed on its default call, ``plan(plan_from_melange(path))``: the proven-optimal
continuous split, the single-type baselines and Mélange's slice formulation at the file's
slice factor (skipped, and said, above 2,000 integer counts). Mélange's solver
(github.com/tyler-griggs/melange-release, ``melange/solver.py``: PuLP + CBC) runs when it is
importable (``--melange`` adds a checkout to the path); without it capplan runs alone. Mélange
needs minutes on the large instance, so it runs there only with ``--melange-large``.
Times are wall-clock seconds, best and median of the repeats (Mélange: one run).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import melange_instances
from machine import cpu_name

from planner.mix import plan, plan_from_melange


def melange_solver(path: str | None):
    """Mélange's solver class, or None when it is not importable."""
    if path:
        sys.path.insert(0, path)
    try:
        from melange.solver import MelangeSolver
    except ImportError:
        return None
    return MelangeSolver


def run_capplan(path: Path, repeats: int) -> tuple[list[float], object]:
    """Times of the default call and its last answer."""
    times, alloc = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        alloc = plan(plan_from_melange(path))
        times.append(time.perf_counter() - start)
    return times, alloc


def run_melange(solver_cls, cfg: dict) -> tuple[float, float | None]:
    """(seconds, $/h) of Mélange's solver on a config (None when it finds no plan)."""
    cfg = json.loads(json.dumps(cfg))
    start = time.perf_counter()
    out = solver_cls(
        cfg["workload_distribution"], cfg["total_request_rate"], cfg["gpu_info"],
        cfg["slice_factor"],
    ).run()  # fmt: skip
    return time.perf_counter() - start, None if out is None else float(out["cost"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--melange", help="path of a melange-release checkout")
    parser.add_argument("--melange-large", action="store_true", help="run Mélange on 'large'")
    parser.add_argument("--only", nargs="*", help="instance labels (default: all)")
    args = parser.parse_args()
    solver_cls = melange_solver(args.melange)
    print(f"# machine: {cpu_name()}, Python {platform.python_version()}")
    print(f"# Mélange solver: {'importable' if solver_cls else 'not importable (capplan only)'}")
    print(
        "| instance | buckets x GPUs | capplan $/h | proof | capplan s (best / median) "
        "| slices (S) | Mélange $/h | Mélange s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg in melange_instances.instances().items():
            if args.only and label not in args.only:
                continue
            path = Path(tmp) / f"{label}.json"
            path.write_text(json.dumps(cfg))
            plan(plan_from_melange(path))  # warm up imports and the solver
            times, alloc = run_capplan(path, args.repeats)
            best, med = min(times), statistics.median(times)
            s = alloc.slices[0] if alloc.slices else None
            sl = "-" if s is None else (
                f"{s.usd_per_hour:.2f} ({s.proof})" if s.feasible else s.proof
            )  # fmt: skip
            mel_cost = mel_time = speed = "-"
            if solver_cls is not None and (label != "large" or args.melange_large):
                t, c = run_melange(solver_cls, cfg)
                mel_cost, mel_time = ("none" if c is None else f"{c:.2f}"), f"{t:.3f}"
                speed = f"{t / med:.1f}x"
            grid = cfg["workload_distribution"]
            shape = f"{len(grid) * len(grid[0])} x {len(cfg['gpu_info'])}"
            print(
                f"| {label} | {shape} | {alloc.usd_per_hour:.2f} | {alloc.proof} "
                f"| {best:.3f} / {med:.3f} | {sl} | {mel_cost} | {mel_time} | {speed} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
