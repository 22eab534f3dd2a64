"""Spread of the continuous-batching decode batch: the analytic Fano factor (Var N / E[N])
against the simulator's time-average one, over several seeds.

Run:  python benchmarks/decode_batch_spread.py [--model qwen2.5-7b] [--gpu L40S] [--load 0.6]
      [--workload chat | --fixed 270 280] [--requests 60000] [--seeds 3 4 5 6]
"""

from __future__ import annotations

import argparse

import numpy as np

import perfmodel as pm
from planner.serving import analytic, engine_for, prepare
from planner.serving.simulate import run_requests
from planner.workload import Workload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-7b")
    ap.add_argument("--gpu", default="L40S")
    ap.add_argument("--load", type=float, default=0.6)
    ap.add_argument("--workload", default="chat")
    ap.add_argument("--fixed", type=int, nargs=2, metavar=("INPUT", "OUTPUT"))
    ap.add_argument("--requests", type=int, default=60000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5, 6])
    args = ap.parse_args()
    wl = Workload.fixed(*args.fixed) if args.fixed else Workload.bundled(args.workload)
    engine = engine_for(args.model, args.gpu, pm.Parallelism(tp=1), "continuous")
    prep = prepare(engine, wl)
    cap = analytic.continuous(engine, prep, 1e-9, np.random.default_rng(0), 16).capacity
    rate = args.load * cap
    model = analytic.continuous(engine, prep, rate, np.random.default_rng(0), 256)
    print(f"{args.model} on {args.gpu}, {wl.name}, {args.load:.0%} load ({rate:.3g} req/s)")
    print(f"analytic: decode batch {model.decode_batch:.1f}, Fano {model.decode_fano:.2f}")
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        ins, outs = wl.sample(args.requests, rng)
        res = run_requests(engine, np.cumsum(rng.exponential(1 / rate, ins.size)), ins, outs)
        t0, t1 = res.arrival[ins.size // 10], res.arrival[-1]
        mean = res.mean_decode_batch(t0, t1)
        fano = res.decode_batch_variance(t0, t1) / mean
        print(f"simulated, seed {seed}: decode batch {mean:.1f}, Fano {fano:.2f}")


if __name__ == "__main__":
    main()
