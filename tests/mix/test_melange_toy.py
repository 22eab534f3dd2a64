"""Mélange's published toy example: reproduced, and beaten by the continuous split.

Source: github.com/tyler-griggs/melange-release — melange/config/example.json (A10G $1.01/h,
tputs [[2, 1], [5, 2]]; A100-80GB $3.67/h, tputs [[20, 20], [40, 20]]; workload
[[0.2, 0.1], [0.5, 0.2]]; 30 req/s; slice factor 1) and the README's answer for it:
{"A10G": 3, "A100-80GB": 1, "cost": 6.7}.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from mix_fixtures import MELANGE_TOY
from scipy.optimize import linprog

from planner.mix import (
    MelangeCapacity,
    SliceModel,
    build_problem,
    plan,
    plan_from_melange,
    read_melange,
    solve_slices,
)

A10G, A100 = "A10G", "A100-SXM4-80GB"


def routable(rates: np.ndarray, caps: np.ndarray, replicas: tuple[int, ...]) -> bool:
    """Independent check (scipy HiGHS LP, not PuLP/CBC): can ``replicas`` carry ``rates``
    with every bucket split freely over the GPU types?"""
    B, G = caps.shape
    a_eq = np.zeros((B, B * G))
    a_ub = np.zeros((G, B * G))
    for b in range(B):
        for g in range(G):
            a_eq[b, b * G + g] = 1.0
            a_ub[g, b * G + g] = 1.0 / caps[b, g]
    res = linprog(
        np.zeros(B * G),
        A_ub=a_ub,
        b_ub=np.array(replicas, float),
        A_eq=a_eq,
        b_eq=rates,
        bounds=(0, None),
        method="highs",
    )
    return res.status == 0


def brute_force() -> tuple[float, tuple[int, int]]:
    """Cheapest (A10G, A100) counts over 0..15 x 0..3 by enumeration."""
    rates = 30.0 * np.array([0.2, 0.1, 0.5, 0.2])
    caps = np.array([[2, 20], [1, 20], [5, 40], [2, 20]], dtype=float)
    price = np.array([1.01, 3.67])
    best = (np.inf, (0, 0))
    for n in itertools.product(range(16), range(4)):
        cost = float(price @ n)
        if cost < best[0] and routable(rates, caps, n):
            best = (cost, n)
    return best


def test_slice_formulation_reproduces_melange_readme_answer(melange_toy):
    problem = build_problem(plan_from_melange(melange_toy))
    sol = solve_slices(problem, slice_factor=1)
    assert sol.gpus_by_type(problem) == {A10G: 3, A100: 1}
    assert sol.cost == pytest.approx(6.70)


def test_plan_finds_the_brute_force_optimum(melange_toy):
    cost, (n_a10g, n_a100) = brute_force()
    alloc = plan(melange_toy)
    assert alloc.feasible
    assert alloc.usd_per_hour == pytest.approx(cost)
    assert alloc.gpus_by_type == {A10G: n_a10g, A100: n_a100}
    assert (n_a10g, n_a100) == (1, 1) and cost == pytest.approx(4.68)


def test_slice_answer_depends_on_slice_factor_and_is_never_cheaper(melange_toy):
    problem = build_problem(plan_from_melange(melange_toy))
    ours = plan(melange_toy).usd_per_hour
    costs = {s: solve_slices(problem, s).cost for s in range(1, 9)}
    assert costs[1] == pytest.approx(6.70)  # slice factor 1: 3 x A10G + 1 x A100
    assert costs[2] == pytest.approx(5.69)  # slice factor 2: 2 x A10G + 1 x A100
    assert costs[4] == pytest.approx(5.69)  # Mélange's recommended factor is still costlier
    assert costs[3] == pytest.approx(ours)  # 15 req/s / 3 = 5 req/s slices fit exactly
    assert all(c >= ours - 1e-9 for c in costs.values())


def test_mix_beats_each_single_type_baseline(melange_toy):
    alloc = plan(melange_toy)
    singles = {b.gpu: b.usd_per_hour for b in alloc.baselines}
    # A10G alone: loads 6/2 + 3/1 + 15/5 + 6/2 = 12 GPUs; A100 alone: 1.125 -> 2 GPUs.
    assert singles == {A10G: pytest.approx(12 * 1.01), A100: pytest.approx(2 * 3.67)}
    assert alloc.savings_pct == pytest.approx(100 * (7.34 - 4.68) / 7.34)


def test_routing_of_the_toy_plan_fills_the_a100_and_offloads_the_rest(melange_toy):
    alloc = plan(melange_toy)
    routing = alloc.routing
    assert routing.groupby("bucket").weight.sum().to_numpy() == pytest.approx(1.0)
    util = alloc.to_frame().set_index("gpu").utilization
    assert (util <= 1.0 + 1e-9).all()
    # Total load: A100 carries 1.0 replica of work, A10G carries the rest of bucket (1, 0).
    a10g = routing[routing.pool == A10G]
    assert set(a10g.bucket) <= {"r1c0", "r0c0", "r1c1"}


def test_melange_list_form_and_overall_rate_are_read(tmp_path):
    data = {
        "gpu_info": [{"name": n, **v} for n, v in MELANGE_TOY["gpu_info"].items()],
        "workload_distribution": MELANGE_TOY["workload_distribution"],
        "overall_rate": 30,
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    cfg = read_melange(path)
    assert cfg.rate_rps == 30 and [g.name for g in cfg.gpus] == ["A10G", "A100-80GB"]
    assert plan(path).usd_per_hour == pytest.approx(4.68)


def test_a_melange_file_changed_on_disk_is_read_again(tmp_path):
    """A plan reads its file three times and parses it once; an edit (new size) is seen."""
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(MELANGE_TOY))
    assert read_melange(path).rate_rps == 30 and read_melange(path) is read_melange(path)
    path.write_text(json.dumps(MELANGE_TOY | {"total_request_rate": 120.0}))
    assert read_melange(path).rate_rps == 120


def test_melange_profile_with_zero_throughput_marks_cell_ineligible(tmp_path):
    data = json.loads(json.dumps(MELANGE_TOY))
    data["gpu_info"]["A10G"]["tputs"] = [[2, 0], [5, 2]]
    path = tmp_path / "zero.json"
    path.write_text(json.dumps(data))
    alloc = plan(path)
    assert alloc.feasible
    excluded = alloc.exclusions_frame()
    assert excluded.to_dict("records") == [
        {
            "model": "model",
            "bucket": "r0c1",
            "pool": A10G,
            "reason": "Mélange profile gives 0 req/s (ineligible)",
        }
    ]
    assert MelangeCapacity.from_json(path).by_gpu[A10G].tputs[0, 1] == 0


def test_slice_model_refuses_rate_scaling(melange_toy):
    problem = build_problem(plan_from_melange(melange_toy))
    with pytest.raises(ValueError, match="one rate"):
        SliceModel(problem, 2).solve(rate_scale=2.0)
