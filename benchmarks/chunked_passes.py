"""Convergence of the chunked-prefill path model in its number of fixed-point passes.

Run:  python benchmarks/chunked_passes.py [--model qwen2.5-7b] [--gpu A100-SXM4-80GB]
          [--load 0.9] [--passes 8,16,32] [--seeds 3] [--requests 100000]

Prints the simulator's TTFT / TPOT / decode batch at ``load`` times the analytic capacity
(chat workload, seed 1) and, for each pass count, the analytic model's values averaged over
``seeds`` seeds. The pass count is a module constant (planner.serving.chunked.PASSES); this
script sets it for the measurement only.
"""

from __future__ import annotations

import argparse

import numpy as np

import planner.serving.chunked as chunked
from planner.serving import analyze, engine_for, prepare, simulate
from planner.workload import Workload


def row(name: str, reports) -> str:
    def mean(f):
        return float(np.mean([f(r) for r in reports]))

    return (
        f"| {name} | {mean(lambda r: r.ttft.mean) * 1e3:.1f} "
        f"| {mean(lambda r: r.ttft.p90) * 1e3:.1f} | {mean(lambda r: r.tpot.mean) * 1e3:.2f} "
        f"| {mean(lambda r: r.decode_batch):.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-7b")
    ap.add_argument("--gpu", default="A100-SXM4-80GB")
    ap.add_argument("--load", type=float, default=0.9)
    ap.add_argument("--passes", default="8,16,32")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    args = ap.parse_args()
    engine = engine_for(args.model, args.gpu, None, "chunked")
    workload = Workload.bundled("chat")
    prep = prepare(engine, workload)
    rate = args.load * analyze(engine, prep, 1e-9).capacity
    print(f"{args.model} on {args.gpu}, chunked, chat, {args.load:.0%} load ({rate:.3g} req/s)")
    print(
        "| model | TTFT mean ms | TTFT p90 ms | TPOT mean ms | decode batch |\n"
        "|---|---|---|---|---|"
    )
    print(row("simulator", [simulate(engine, workload, rate, n_requests=args.requests, seed=1)]))
    default = chunked.PASSES
    try:
        for passes in (int(p) for p in args.passes.split(",")):
            chunked.PASSES = passes
            reports = [analyze(engine, prep, rate, seed=s) for s in range(args.seeds)]
            print(row(f"analytic, {passes} passes", reports), flush=True)
    finally:
        chunked.PASSES = default


if __name__ == "__main__":
    main()
