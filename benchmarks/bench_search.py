"""Speed and honesty of `capplan search` (planner.search).

1. Speed: the default space (every catalog accelerator, tp 1-8, pp 1-4, four quant formats,
   six max_num_seqs, five token budgets, aggregated and disaggregated up to 4P4D) screened,
   then the top 50 re-evaluated with the full serving model (all CPUs). Targets (issue 21):
   >= 100,000 plans screened in <= 5 s, the top 50 in another <= 10 s, on a 2-core CPU.
2. Screen vs full model on sampled plans: per model, ``--sample`` plans drawn at random from
   the screened set (screen-feasible and screen-infeasible alike) are all evaluated by the
   full model. Reported: whether the full model's top 10 of the sample all lie within the
   screen's top 50 of it (the screen keeps the top 50), Spearman's rank correlation, the
   screen/full rate ratio, and plans the screen calls infeasible that the full model serves.

    python benchmarks/bench_search.py [--sample 200] [--models llama-3.1-70b,...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from scipy import stats

from planner.search import search
from planner.search.api import describe
from planner.search.full import Context, evaluate_rows
from planner.search.objectives import rank
from planner.serving import SLO
from planner.workload import Workload

SLO_CHAT = SLO(ttft_s=1.0, tpot_s=0.05, percentile=0.9)
MODELS = ("llama-3.1-70b", "llama-3.1-8b", "mixtral-8x7b")


def speed(model: str) -> dict:
    """Screen and full-tier wall times of the default space (after one warm-up run)."""
    search("llama-3.1-8b", "chat", SLO_CHAT, {"gpus": ["L4"], "tp": [1]}, top=2, jobs=1)
    res = search(model, "chat", SLO_CHAT, top=50)
    return {
        "model": model,
        "plans screened": res.n_plans,
        "screen s": round(res.screen_s, 2),
        "plans/s": f"{res.n_plans / res.screen_s:,.0f}",
        "top 50 full s": round(res.full_s, 2),
        "best": res.to_frame().iloc[0][["mode", "gpu", "quant", "tp", "pp"]].to_dict(),
        "pruned": res.pruned,
    }


def agreement(model: str, n: int, near: int | None = None, seed: int = 0) -> dict:
    """The screen against the full model on ``n`` random plans of ``model``'s space (of its
    screen top ``near`` plans when given: the ordering that matters most)."""
    res = search(model, "chat", SLO_CHAT, top=1)
    rng = np.random.default_rng(seed)
    pool = rank(res.plans, "tokens_per_gpu").head(near) if near else res.plans
    pick = pool.loc[rng.choice(pool.index, min(n, len(pool)), replace=False)]
    ctx = Context(res.instances, Workload.bundled("chat"), SLO_CHAT, 0.9)
    full = pick.copy()
    figures = evaluate_rows(ctx, pick, os.cpu_count() or 1)
    for col in figures.columns:
        full[col] = figures[col]
    full = describe(full, res.instances, Workload.bundled("chat").mean_output, None)
    screen_top = set(rank(pick, "tokens_per_gpu").head(50).index)
    full_top = list(rank(full, "tokens_per_gpu").head(10).index)
    both = pick["feasible"] & full["feasible"]
    ratio = (pick["rate_rps"] / full["rate_rps"])[both & (full["rate_rps"] > 0)]
    col = "tokens_per_s_per_gpu"
    rho = stats.spearmanr(pick.loc[both, col], full.loc[both, col])
    hits = sum(i in screen_top for i in full_top)
    return {
        "model": model,
        "drawn from": f"screen top {near:,}" if near else "all plans",
        "sampled": len(pick),
        "screen feasible": int(pick["feasible"].sum()),
        "full feasible": int(full["feasible"].sum()),
        "full top 10 within screen top 50": f"{hits}/{len(full_top)}",
        "spearman": round(float(rho.statistic), 3),
        "screen/full p10": round(float(ratio.quantile(0.1)), 3),
        "median": round(float(ratio.median()), 3),
        "p90": round(float(ratio.quantile(0.9)), 3),
        "infeasible by screen, served by full": int((~pick["feasible"] & full["feasible"]).sum()),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip-agreement", action="store_true")
    args = ap.parse_args()
    models = args.models.split(",")
    print(f"CPUs: {os.cpu_count()}")
    t = time.perf_counter()
    rows = [speed(m) for m in models[:1]]
    print(pd.DataFrame(rows).to_markdown(index=False))
    if not args.skip_agreement:
        rows = [agreement(m, args.sample, near) for m in models for near in (None, 2000)]
        print(pd.DataFrame(rows).to_markdown(index=False))
    print(f"total {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
