"""Speed of the serving simulator: simulated iterations per wall-clock second.

Run:  python benchmarks/bench_serving_sim.py [--requests 20000] [--repeats 3] [--load 0.7]

For each (model, hardware, workload) and scheduler, the rate is ``load`` times the saturated
throughput that the simulator itself measures (a probe run where every request arrives at
once); the table gives the best of ``repeats`` runs of run_requests at that rate (the machine
may be shared: best-of-N removes most of the noise).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

import numpy as np
from machine import cpu_name

from planner.serving.engine import Engine
from planner.serving.sim_report import probe_capacity
from planner.serving.simulate import admissible, make_arrivals, run_requests
from planner.workload import Workload

CONFIGS = [
    ("llama-2-7b", "A100-SXM4-80GB", "chat"),
    ("llama-3.1-8b", "H100-SXM", "code"),
]
SCHEDULERS = ("continuous", "chunked", "static", "disaggregated")


def requests(engine: Engine, workload: Workload, rate: float, n: int):
    """Poisson arrivals at ``rate`` of servable requests (seed 0)."""
    t, ins, outs = make_arrivals(workload, rate, n, np.random.default_rng(0))
    keep = ~np.logical_or.reduce(list(admissible(engine, ins, outs).values()))
    return t[keep], ins[keep], outs[keep]


def bench(model: str, hw: str, wl: str, sched: str, n: int, repeats: int, load: float) -> dict:
    engine = Engine.build(model, hw, scheduler=sched)
    workload = Workload.bundled(wl)
    _, ins, outs = requests(engine, workload, 1.0, min(n, 4000))
    cap = probe_capacity(run_requests(engine, np.zeros(ins.size), ins, outs))
    args = requests(engine, workload, load * cap, n)
    runs = [run_requests(engine, *args) for _ in range(repeats)]
    best = max(runs, key=lambda r: r.iterations_per_s)
    return {
        "model": model,
        "hardware": hw,
        "workload": wl,
        "scheduler": sched,
        "rate": load * cap,
        "requests": best.arrival.size,
        "iterations": best.iterations,
        "epochs": best.epochs,
        "best_s": best.wall_s,
        "median_s": float(np.median([r.wall_s for r in runs])),
        "it_per_s": best.iterations_per_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load", type=float, default=0.7)
    args = ap.parse_args()
    print(
        f"machine: {cpu_name()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"python {platform.python_version()}, {datetime.date.today().isoformat()}"
    )
    print(
        f"| model | hardware | workload | scheduler | rate req/s | requests | iterations "
        f"| epochs | best s | median s | iterations/s |\n|{'---|' * 11}"
    )
    for model, hw, wl in CONFIGS:
        for sched in SCHEDULERS:
            r = bench(model, hw, wl, sched, args.requests, args.repeats, args.load)
            print(
                f"| {r['model']} | {r['hardware']} | {r['workload']} | {r['scheduler']} "
                f"| {r['rate']:.3g} | {r['requests']} | {r['iterations']} | {r['epochs']} "
                f"| {r['best_s']:.3f} | {r['median_s']:.3f} | {r['it_per_s']:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
