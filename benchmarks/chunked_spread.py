"""Monte Carlo spread of the chunked-prefill path model against the simulator.

Run:  python benchmarks/chunked_spread.py [--model qwen2.5-7b] [--gpu L40S] [--load 0.9]
          [--rate R] [--seeds 6] [--sim-seeds 1] [--samples 4096] [--requests 100000]
          [--one-path] [--paired 0]

A path has 8 x samples iterations (64 x samples on a replica that preempts near capacity), and
an evaluation pools as many paths (at most 16) as its first path's sampling error asks for
(--one-path: one), so near capacity its TTFT carries sampling error (slow backlog cycles, KV
jams); so does one simulator run. This prints the simulator's TTFT (mean, p90, p99) / TPOT /
decode batch / relative standard error of the mean TTFT (batch means) at ``load`` times the
analytic capacity (chat workload) for seeds 1..sim-seeds and the analytic values for seeds
0..seeds-1, each set with its mean, median and standard deviation. The spread of the mean TTFT
over seeds (sd / mean) against the median standard error tells whether the error estimate is
honest. ``--paired K`` then removes the arrivals' sampling error from the comparison: for seeds
0..K-1 it runs the simulator on the model path's own arrival stream (epochs and sizes; the path
started empty) and prints the model's TTFT against the simulator's on the requests arriving in
the path's measured window, and both averaged over the K streams.
"""

from __future__ import annotations

import argparse

import numpy as np

from planner.serving import analyze, engine_for, prepare, simulate
from planner.serving.analytic import n_cap, slots
from planner.serving.chunked import (
    TTFT_RSE,
    _epochs,
    path_draws,
    path_size,
    preempts,
    solve_path,
    virtual_requests,
)
from planner.serving.chunked_tables import fluid_batch, fluid_capacity, fluid_time, tables
from planner.serving.simulate import run_requests
from planner.workload import Workload

COLS = ("TTFT mean ms", "TTFT p90 ms", "TTFT p99 ms", "TPOT mean ms", "decode batch", "rse %")


def values(r) -> list[float]:
    ttft = [r.ttft.mean, r.ttft.p90, r.ttft.p99]
    rse = np.nan if r.ttft_mean_rse is None else r.ttft_mean_rse * 100
    return [x * 1e3 for x in ttft] + [r.tpot.mean * 1e3, r.decode_batch, rse]


def line(name: str, v) -> str:
    return f"| {name} | " + " | ".join(f"{x:.1f}" for x in v) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-7b")
    ap.add_argument("--gpu", default="L40S")
    ap.add_argument("--load", type=float, default=0.9)
    ap.add_argument("--rate", type=float, help="requests/s (instead of --load)")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--sim-seeds", type=int, default=1)
    ap.add_argument("--paired", type=int, default=0)
    ap.add_argument("--one-path", action="store_true", help="one path per evaluation")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--requests", type=int, default=100_000)
    args = ap.parse_args()
    engine = engine_for(args.model, args.gpu, None, "chunked")
    workload = Workload.bundled("chat")
    prep = prepare(engine, workload)
    capacity = analyze(engine, prep, 1e-9).capacity
    rate = args.rate or args.load * capacity
    print(
        f"{args.model} on {args.gpu}, chunked, chat, {rate / capacity:.0%} load ({rate:.4g} req/s)"
    )
    print("| run | " + " | ".join(COLS) + " |")
    print("|---" * (len(COLS) + 1) + "|")
    sims = []
    for s in range(1, args.sim_seeds + 1):
        sims.append(values(simulate(engine, workload, rate, n_requests=args.requests, seed=s)))
        print(line(f"simulator, {args.requests} requests, seed {s}", sims[-1]), flush=True)
    stats("simulator", np.array(sims))
    rse = None if args.one_path else TTFT_RSE
    reports = [
        analyze(engine, prep, rate, samples=args.samples, seed=s, rse=rse)
        for s in range(args.seeds)
    ]
    runs = np.array([values(r) for r in reports])
    for s, v in enumerate(runs):
        print(line(f"analytic, seed {s}", v))
    stats("analytic", runs)
    pairs = np.array([paired(engine, prep, rate, args.samples, s) for s in range(args.paired)])
    if len(pairs) > 1:
        m, s = pairs.mean(axis=0) * 1e3
        print(f"paired, mean over {len(pairs)} streams: model {m:.1f}, simulator {s:.1f} ms")


def paired(engine, p, rate: float, n: int, seed: int) -> tuple[float, float]:
    """Model and simulator on one arrival stream: the path's (see the module docstring);
    returns both mean TTFTs."""
    top = slots(engine)
    tab = tables(engine, p, top)
    cap_n = min(n_cap(engine, p), float(top))
    capacity = fluid_capacity(tab, p, cap_n)
    g0 = float(fluid_time(tab, rate, p.mean(p.I), fluid_batch(tab, p, rate, cap_n)))
    L, block = path_size(n, preempts(engine, tab, p, capacity, cap_n, n, seed))
    d = path_draws(tab, p, capacity, cap_n, L, seed, block)
    path = solve_path(engine, tab, rate, d, 0.0, g0)
    ttft, *_ = virtual_requests(np.random.default_rng(seed), path, tab, p, n, L // 8)
    arrival = _epochs(d.a, rate * L * g0) / rate
    m = int(np.searchsorted(arrival, path.end[-1]))
    sim = run_requests(engine, arrival[:m], d.I[:m].astype(int), d.D[:m].astype(int) + 1)
    window = (arrival[:m] > path.end[L // 8]) & (arrival[:m] < path.end[L - L // 4])
    ts = sim.ttft[window]
    print(
        f"paired seed {seed} ({window.sum()} requests): TTFT mean / p90 ms "
        f"model {ttft.mean() * 1e3:.1f} / {np.percentile(ttft, 90) * 1e3:.1f}, "
        f"simulator {ts.mean() * 1e3:.1f} / {np.percentile(ts, 90) * 1e3:.1f}; "
        f"preemptions model {path.preemptions}, simulator {sim.preempted}"
    )
    return float(ttft.mean()), float(ts.mean())


def stats(name: str, runs: np.ndarray) -> None:
    if len(runs) < 2:
        return
    print(line(f"{name}, mean", runs.mean(axis=0)))
    print(line(f"{name}, median", np.median(runs, axis=0)))
    print(line(f"{name}, sd", runs.std(axis=0, ddof=1)))


if __name__ == "__main__":
    main()
