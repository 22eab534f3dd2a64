"""Speed of the analytic serving model: one evaluation and one max-rate-under-SLO search.

Run:  python benchmarks/bench_serving.py [--repeats 7] [--engine vllm-v1|none|...]
The engine (step-time model, KV capacity) is built once per configuration, as the planner does;
times are the best and median of the repeats. ``max_rate`` repeats the call on that engine,
which keeps the workloads it prepared (planner.serving.prepared: tables, capacity, random
numbers); ``first call`` times the call on a freshly built engine (the build not timed).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import perfmodel as pm
from planner.serving import SLO, analyze, engine_for, max_rate_under_slo, prepare
from planner.workload import Workload

CONFIGS = [
    ("llama-2-7b", "A100-SXM4-80GB", pm.Parallelism(), "continuous", "chat"),
    ("llama-2-7b", "A10G", pm.Parallelism(), "chunked", "chat"),
    ("llama-3.1-70b", "H100-SXM", pm.Parallelism(tp=4), "continuous", "summarization"),
    ("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2), "chunked", "code"),
]
SLO_ = SLO(ttft_s=1.0, tpot_s=0.1, percentile=0.9)


def best_median(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def first_calls(model, hw, par, sched, engine_name, workload, repeats: int):
    """Best and median time of max_rate_under_slo on a freshly built engine."""
    times = []
    for _ in range(repeats):
        engine = engine_for(model, hw, par, sched, engine=engine_name)
        t0 = time.perf_counter()
        max_rate_under_slo(engine, None, workload, SLO_)
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--engine", default="none", help="serving-engine profile ('none': GPU only)")
    args = ap.parse_args()
    engine_name = None if args.engine == "none" else args.engine
    print(
        f"machine: {os.cpu_count()} CPUs; engine {args.engine}; times in ms "
        f"(best / median of {args.repeats})"
    )
    print(
        f"{'model':14s} {'hardware':15s} {'scheduler':11s} {'workload':13s} "
        f"{'evaluate':>15s} {'max_rate':>15s} {'first call':>15s} {'rate req/s':>10s}"
    )
    for model, hw, par, sched, wl in CONFIGS:
        engine = engine_for(model, hw, par, sched, engine=engine_name)
        prep = prepare(engine, Workload.bundled(wl))
        rate = 0.7 * analyze(engine, prep, 1e-9).capacity
        ev = best_median(lambda e=engine, p=prep, r=rate: analyze(e, p, r), args.repeats)
        mr = best_median(
            lambda e=engine, w=prep.workload: max_rate_under_slo(e, None, w, SLO_), args.repeats
        )
        cold = first_calls(model, hw, par, sched, engine_name, prep.workload, args.repeats)
        best = max_rate_under_slo(engine, None, prep.workload, SLO_).rate
        print(
            f"{model:14s} {hw:15s} {sched:11s} {wl:13s} {ev[0] * 1e3:7.1f}/{ev[1] * 1e3:6.1f} "
            f"{mr[0] * 1e3:7.1f}/{mr[1] * 1e3:6.1f} {cold[0] * 1e3:7.1f}/{cold[1] * 1e3:6.1f} "
            f"{best:10.3g}"
        )


if __name__ == "__main__":
    main()
