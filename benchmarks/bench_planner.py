"""Speed of the GPU-mix planner: a Mélange-size instance and a large one.

Run:  python benchmarks/bench_planner.py [--repeats 3] [--seed 0]

Instances are synthetic but shaped like real ones: each pool (GPU type x replica config) has a
prefill and a decode throughput (tokens/s, scaling with tp at 90% per doubling) and a context
limit; a bucket's per-replica capacity is 1 / (input / prefill + output / decode) req/s, zero
above the pool's context limit. Prices grow with the GPU's speed. Times are wall-clock seconds
of ``solve_problem`` (MILP at the default 0.1% gap, balanced routing, and one single-type
baseline MILP per GPU type), best and median over the repeats; "mix s" is the best time
without the baselines.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from machine import cpu_name

from planner.mix import Pool, problem_from_arrays, solve_problem

CASES = [  # (label, buckets, GPU types, configs per type, target seconds)
    ("Mélange-size", 60, 4, 1, 1.0),
    ("large", 1000, 10, 5, 10.0),
]
CONFIGS = ((1, 1), (2, 1), (4, 1), (8, 1), (4, 2))


def instance(buckets: int, types: int, configs: int, seed: int = 0):
    """A synthetic problem (see the module docstring); 200 req/s in total."""
    rng = np.random.default_rng(seed)
    prefill = rng.uniform(1e3, 2e4, types)  # tokens/s of one GPU
    decode = rng.uniform(400, 4000, types)
    memory = rng.choice([24, 48, 80, 141, 192], types)
    price = 0.3 + prefill / 1e4 + decode / 1e3 + rng.uniform(0, 0.5, types)
    pools, pre, dec, ctx = [], [], [], []
    for g in range(types):
        for tp, pp in CONFIGS[:configs]:
            n = tp * pp
            eff = 0.9 ** np.log2(n)
            pools.append(Pool(f"gpu{g}", float(price[g]), tp, pp))
            pre.append(prefill[g] * n * eff)
            dec.append(decode[g] * n * eff)
            ctx.append(memory[g] * n * 400)
    pre, dec, ctx = np.array(pre), np.array(dec), np.array(ctx)
    inp = np.exp(rng.uniform(np.log(16), np.log(32000), buckets)).round()
    out = np.exp(rng.uniform(np.log(16), np.log(4000), buckets)).round()
    cap = 1.0 / (inp[:, None] / pre + out[:, None] / dec)
    cap[(inp + out)[:, None] > ctx[None, :]] = 0.0
    cap[:, np.argmax(ctx)] = np.maximum(cap[:, np.argmax(ctx)], 1e-3)  # every bucket servable
    prob = rng.dirichlet(np.ones(buckets))
    return problem_from_arrays(cap, prob, 200.0, pools, sizes=list(zip(inp, out)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"{'case':14} {'buckets':>7} {'pools':>5} {'mix s':>6} {'best s':>7} {'median s':>8} "
        f"{'target s':>8} {'$/h':>9} {'status':>8}"
    )
    for label, b, t, c, target in CASES:
        problem = instance(b, t, c, args.seed)
        times, mix, alloc = [], [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            solve_problem(problem, compare_single_type=False)
            mix.append(time.perf_counter() - start)
            start = time.perf_counter()
            alloc = solve_problem(problem)
            times.append(time.perf_counter() - start)
        assert alloc is not None and alloc.feasible
        print(
            f"{label:14} {b:>7} {t * c:>5} {min(mix):>6.2f} {min(times):>7.2f} "
            f"{statistics.median(times):>8.2f} {target:>8.1f} {alloc.usd_per_hour:>9.2f} "
            f"{alloc.status:>8}"
        )


if __name__ == "__main__":
    main()
