"""Analytic loads (planner.serving.loads) against the iteration-level simulator, same engine
profile: closed loops of C clients, offline throughput.

    python benchmarks/loads_vs_sim.py [--requests 4000]

Prints analytic / simulated ratios of throughput, mean TTFT, TPOT and E2E per (engine,
workload, clients), and of the offline throughput against the simulator's saturated probe.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from machine import describe

from planner.serving import engine_for, prepare, simulate_closed
from planner.serving.loads import closed_loop, offline
from planner.serving.simulate import probe_run
from planner.workload import Workload

CASES = [("llama-3.1-8b", "H100-SXM"), ("qwen2.5-7b", "A100-SXM4-80GB")]
ENGINES = ("vllm-0.6", "vllm-v1")
WORKLOADS = ("chat", "fixed-512x256")
CLIENTS = (1, 16, 128, 256, 512)  # 256: vllm-0.6's slots; 512: more than the A100's under V1


def workload(name: str) -> Workload:
    if name.startswith("fixed-"):
        i, o = name[6:].split("x")
        return Workload.fixed(int(i), int(o))
    return Workload.bundled(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=4000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows, start = [], time.perf_counter()
    for model, hw in CASES:
        for eng in ENGINES:
            rep = engine_for(model, hw, engine=eng)
            for wl_name in WORKLOADS:
                wl = workload(wl_name)
                p = prepare(rep, wl)
                for c in CLIENTS:
                    a = closed_loop(rep, p, c)
                    s = simulate_closed(rep, wl, c, n_requests=max(args.requests, 8 * c))
                    rows.append({"model": model, "gpu": hw, "engine": eng, "workload": wl_name,
                                 "load": f"{c} clients", "throughput": a.request_s / s.rate,
                                 "ttft": a.ttft_mean_s / s.ttft.mean,
                                 "tpot": a.tpot_mean_s / s.tpot.mean,
                                 "e2e": a.e2e_mean_s / s.e2e.mean})  # fmt: skip
                    print(rows[-1], flush=True)
                ins, outs = wl.sample(args.requests, np.random.default_rng(0))
                sim_cap = probe_run(rep, ins, outs)
                ratio = offline(rep, p).request_s / sim_cap
                rows.append({"model": model, "gpu": hw, "engine": eng, "workload": wl_name,
                             "load": "offline", "throughput": ratio})  # fmt: skip
    t = pd.DataFrame(rows)
    print(t.to_markdown(index=False, floatfmt=".3f"))
    dev = (t[["throughput", "ttft", "tpot", "e2e"]] - 1).abs()
    print("\nshare within 10%: " + ", ".join(f"{c} {(dev[c].dropna() <= 0.1).mean():.0%}"
                                             for c in dev))  # fmt: skip
    print("median |ratio - 1|: " + ", ".join(f"{c} {dev[c].median():.3f}" for c in dev))
    print(f"\n{len(t)} rows in {time.perf_counter() - start:.0f} s on {describe()}")


if __name__ == "__main__":
    main()
