"""A plan-search sweep on dask: models x workloads x SLOs x one space x two price scenarios.

Run:  python benchmarks/search_sweep.py [--workers N] [--threads] [--address tcp://host:8786]
          [--objective usd_per_mtok] [--top 10] [--json out.json]
Needs the 'dask' extra (pip install 'capplan[dask]'). Prints one row per combination, the
sweep's wall time (cluster start included) and the summed seconds of its searches.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import pandas as pd
from machine import cpu_name

from planner.search import sweep

MODELS = ["qwen2.5-7b", "llama-3.1-8b", "llama-3.1-70b"]
WORKLOADS = ["chat", "code", "summarization"]
SLOS = {
    "interactive": {"ttft_s": 0.5, "tpot_s": 0.03},
    "relaxed": {"ttft_s": 2.0, "tpot_s": 0.1},
}
SPACE = {
    "gpus": ["A100-SXM4-80GB", "H100-SXM"],
    "tp": [1, 2, 4],
    "pp": [1],
    "quant": ["bf16", "fp8"],
    "max_num_seqs": [64, 256],
    "token_budget": [2048, 8192],
    "modes": ["aggregated"],
}
PRICES = {"catalog": {}, "a100-spot": {"A100-SXM4-80GB": 0.5}}
SHOWN = ["model", "workload", "slo", "prices", "n_plans", "gpu", "quant", "tp", "gpus"]
SHOWN += ["rate_rps", "tokens_per_s_per_gpu", "usd_per_mtok", "top_plans", "search_s", "error"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (CPUs)")
    ap.add_argument("--threads", action="store_true", help="LocalCluster of threads")
    ap.add_argument("--address", default=None, help="a running dask scheduler")
    ap.add_argument("--objective", default="usd_per_mtok")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--json", default=None, help="write SweepResult.to_dict() here")
    args = ap.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    res = sweep(
        MODELS,
        WORKLOADS,
        SLOS,
        {"a100+h100": SPACE},
        prices=PRICES,
        objective=args.objective,
        top=args.top,
        address=args.address,
        workers=args.workers,
        processes=not args.threads,
    )
    wall = time.perf_counter() - t0
    frame = res.to_frame()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame[SHOWN].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    by = frame.groupby(["model", "workload", "slo", "space"], sort=False)["search_s"]
    search_s = by.min().sum()  # a scenario's row adds its re-evaluation to the search's time
    extra_s = (by.sum() - by.min() * by.size()).sum()
    print(
        f"{by.ngroups} searches x {len(PRICES)} price scenarios = {len(frame)} rows on "
        f"{res.workers} dask workers: wall {wall:.1f} s (cluster start included); worker "
        f"time: searches {search_s:.1f} s + price re-evaluations {extra_s:.1f} s; "
        f"{(frame['top_plans'] == 're-evaluated').sum()} rows re-evaluated, "
        f"{len(res.errors)} errors"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res.to_dict(), fh, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
