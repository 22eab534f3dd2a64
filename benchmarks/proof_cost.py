"""What proving a GPU-mix plan to the cent costs (docs/planner.md, "Speed").

Run:  python benchmarks/proof_cost.py [--seeds 4]

For the 1,000 x 10 Mélange-shaped instance of benchmarks/melange_instances.py at each seed:
the LP relaxation's bound and time, the cost of rounding its replica counts up, the full MILP
proven to the cent, the same MILP handed its optimum as the incumbent (the proof alone), and
the planner's solve (`MixSolver`: the MILP on the core of pools a cheaper plan could use,
planner/mix/core.py), with the pools of each core it solved. Then HiGHS's fixed cost on a tiny
MIP with and without its feasibility-jump heuristic.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import melange_instances
import numpy as np
import pulp
from machine import cpu_name

from planner.mix import plan_from_melange
from planner.mix.formulation import ABS_GAP, HIGHS_OPTIONS, MixModel
from planner.mix.problem import build_problem
from planner.mix.relaxation import lp_relaxation
from planner.mix.solve import MixSolver


def highs(warm: bool = False, **options) -> pulp.HiGHS:
    """HiGHS proving to the cent (the planner's settings unless ``options`` override)."""
    opts = HIGHS_OPTIONS | options
    return pulp.HiGHS(msg=False, gapRel=0.0, gapAbs=ABS_GAP, warmStart=warm, **opts)


def timed_solve(problem, solver, start_from=None) -> tuple[float, float]:
    """(seconds, $/h) of one MILP solve, optionally warm-started from a solution."""
    model = MixModel(problem)
    if start_from is not None:
        model.warm_start(start_from.replicas, start_from.flows)
    model.solver = solver
    t = time.perf_counter()
    sol = model.solve(warm=False)
    return time.perf_counter() - t, sol.cost


def loads(problem, relax) -> list[np.ndarray]:
    """Replicas' worth of load per pool of each model in the LP relaxation's routing."""
    out = []
    for d, flow in zip(problem.demands, relax.flows, strict=True):
        cap = d.capacity.rate
        out.append(np.where(cap > 0, flow / np.where(cap > 0, cap, 1.0), 0.0).sum(axis=0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}")
    print("seed  LP bound  LP s  rounded up  MILP s  optimum  proof-only s  "
          "core s  core cost  cores")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            path = Path(tmp) / f"large-{seed}.json"
            path.write_text(json.dumps(melange_instances.large(seed)))
            problem = build_problem(plan_from_melange(path))
            t = time.perf_counter()
            relax = lp_relaxation(problem)
            lp_s = time.perf_counter() - t
            prices = np.array([pool.usd_per_hour for pool in problem.pools])
            rounded = sum(float(np.ceil(load - 1e-9) @ prices) for load in loads(problem, relax))
            milp_s, cost = timed_solve(problem, highs())
            best = MixModel(problem).solve()
            proof_s, _ = timed_solve(problem, highs(warm=True), start_from=best)
            solver = MixSolver(problem)
            t = time.perf_counter()
            core = solver.solve()
            core_s = time.perf_counter() - t
            sizes = "+".join(str(int(np.frombuffer(k, bool).sum())) for k in solver._cores) or "-"
            print(f"{seed:>4}  {relax.bound:8.3f}  {lp_s:4.2f}  {rounded:10.3f}  {milp_s:6.2f}  "
                  f"{cost:7.2f}  {proof_s:12.2f}  {core_s:6.2f}  {core.cost:9.2f}  "
                  f"{sizes}")  # fmt: skip
    tiny = build_problem(plan_from_melange(Path(__file__).parents[1] / "examples/melange_toy.json"))
    for label, opts in (("feasibility jump on", {"mip_heuristic_run_feasibility_jump": True}),
                        ("feasibility jump off", {})):  # fmt: skip
        times = [timed_solve(tiny, highs(**opts))[0] for _ in range(9)]
        print(f"toy MIP, {label}: median {1e3 * float(np.median(times)):.1f} ms")


if __name__ == "__main__":
    main()
