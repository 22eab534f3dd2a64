"""Monte Carlo spread of the chunked-prefill path model against the simulator.

Run:  python benchmarks/chunked_spread.py [--model qwen2.5-7b] [--gpu L40S] [--load 0.9]
          [--seeds 6] [--samples 4096] [--requests 100000]

One evaluation solves one sample path of 8 x samples iterations, so near capacity its TTFT
carries sampling error (slow backlog cycles). This prints the simulator's TTFT (mean, p90,
p99) / TPOT / decode batch at ``load`` times the analytic capacity (chat workload, seed 1) and the
analytic values for each of ``seeds`` seeds, with their mean and standard deviation.
"""

from __future__ import annotations

import argparse

import numpy as np

from planner.serving import analyze, engine_for, prepare, simulate
from planner.workload import Workload

COLS = ("TTFT mean ms", "TTFT p90 ms", "TTFT p99 ms", "TPOT mean ms", "decode batch")


def values(r) -> list[float]:
    ttft = [r.ttft.mean, r.ttft.p90, r.ttft.p99]
    return [x * 1e3 for x in ttft] + [r.tpot.mean * 1e3, r.decode_batch]


def line(name: str, v) -> str:
    return f"| {name} | " + " | ".join(f"{x:.1f}" for x in v) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-7b")
    ap.add_argument("--gpu", default="L40S")
    ap.add_argument("--load", type=float, default=0.9)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--requests", type=int, default=100_000)
    args = ap.parse_args()
    engine = engine_for(args.model, args.gpu, None, "chunked")
    workload = Workload.bundled("chat")
    prep = prepare(engine, workload)
    rate = args.load * analyze(engine, prep, 1e-9).capacity
    print(f"{args.model} on {args.gpu}, chunked, chat, {args.load:.0%} load ({rate:.4g} req/s)")
    print("| run | " + " | ".join(COLS) + " |")
    print("|---" * (len(COLS) + 1) + "|")
    sim = simulate(engine, workload, rate, n_requests=args.requests, seed=1)
    print(line(f"simulator, {args.requests} requests", values(sim)), flush=True)
    reports = [analyze(engine, prep, rate, samples=args.samples, seed=s) for s in range(args.seeds)]
    runs = np.array([values(r) for r in reports])
    for s, v in enumerate(runs):
        print(line(f"analytic, seed {s}", v))
    print(line("analytic, mean", runs.mean(axis=0)))
    print(line("analytic, sd", runs.std(axis=0, ddof=1)))


if __name__ == "__main__":
    main()
