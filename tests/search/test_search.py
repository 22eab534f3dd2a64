"""The plan search follows from physics and from its own definitions: memory rules out plans,
a tighter SLO or a smaller space never helps, frontiers are non-dominated, and bad input gets
one line naming what to change."""

from __future__ import annotations

import itertools
import math
from functools import partial

import numpy as np
import pytest

from planner.search import SearchError, SearchSpace, pareto_mask
from planner.search import search as full_search
from planner.search.screen import rho_max
from planner.serving import SLO

SLO_CHAT = SLO(ttft_s=1.0, tpot_s=0.05)
search = partial(full_search, samples=1024)  # fewer sampled requests per evaluation
#: a space small enough to re-evaluate every plan with the full model (12 plans)
SMALL = {
    "gpus": ["A100-SXM4-80GB"],
    "tp": [1, 2],
    "pp": [1],
    "quant": ["bf16"],
    "max_num_seqs": [64, 256],
    "token_budget": [2048],
    "max_instances": 1,
}


@pytest.fixture(scope="module")
def small_8b():
    return search("llama-3.1-8b", "chat", SLO_CHAT, SMALL, top=100)


def test_a_70b_bf16_model_is_never_placed_on_one_80gb_gpu():
    # 70.6e9 parameters x 2 bytes = 141 GB of weights > 80 GiB (independent arithmetic)
    res = search(
        "llama-3.1-70b",
        "chat",
        SLO_CHAT,
        {"gpus": ["A100-SXM4-80GB", "H100-SXM"], "quant": ["bf16"], "pp": [1],
         "max_num_seqs": [128], "token_budget": [2048], "modes": ["aggregated"]},
        top=3
    )  # fmt: skip
    assert (res.plans["tp"] >= 2).all()
    assert res.pruned["memory"] >= 2  # tp=1 on each GPU
    assert set(res.plans["gpu"]) == {"A100-SXM4-80GB", "H100-SXM"}


def test_every_plan_of_a_small_space_is_screened_and_counted(small_8b):
    # aggregated: 2 tp x 2 seqs x 1 budget = 4; disaggregated: prefill tp 2 x decode tp 2 x
    # 2 seqs x the ratio 1:1 = 8 -> 12 plans
    assert small_8b.n_plans == 12
    assert len(small_8b.top) == 12


def test_a_tighter_tpot_target_never_raises_the_best_tokens_per_gpu():
    best = []
    for tpot in (0.1, 0.05, 0.03, 0.02):
        res = search("llama-3.1-8b", "chat", SLO(ttft_s=1.0, tpot_s=tpot), SMALL, top=100)
        best.append(res.top["tokens_per_s_per_gpu"].iloc[0] if res.feasible else 0.0)
    assert all(a >= b for a, b in itertools.pairwise(best)), best
    assert best[0] > best[-1]  # the TPOT target binds somewhere in this range


def test_allowing_more_gpus_per_unit_never_gives_a_worse_optimum():
    wide = dict(SMALL, tp=[1, 2, 4])
    small = search("llama-3.1-8b", "chat", SLO_CHAT, dict(wide, max_gpus_per_unit=2), top=200)
    large = search("llama-3.1-8b", "chat", SLO_CHAT, dict(wide, max_gpus_per_unit=8), top=200)
    assert large.n_plans > small.n_plans
    for col in ("tokens_per_s_per_gpu", "rate_per_usd_hour"):
        assert large.top[col].max() >= small.top[col].max() * (1 - 1e-12)


def test_the_frontier_is_non_dominated_and_dominates_every_other_plan(small_8b):
    front = small_8b.frontier("throughput_vs_interactivity")
    x, y = front["tokens_per_s_per_user"].to_numpy(), front["tokens_per_s_per_gpu"].to_numpy()
    for i in range(x.size):
        dominated = (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        assert not dominated.any()
    ok = small_8b.plans[small_8b.plans["feasible"]]
    for _, p in ok.iterrows():
        assert ((x >= p["tokens_per_s_per_user"]) & (y >= p["tokens_per_s_per_gpu"])).any()


def test_pareto_mask_of_a_hand_example():
    # (1,5) (2,4) (3,3) are the frontier; (2,2) and (1,4) are dominated by (2,4)
    x = [1, 2, 3, 2, 1]
    y = [5, 4, 3, 2, 4]
    assert pareto_mask(x, y).tolist() == [True, True, True, False, False]
    # minimizing both: (1,4) and (2,2) only ((1,5) is beaten by (1,4))
    assert pareto_mask(x, y, False, False).tolist() == [False, False, False, True, True]


def test_md1_utilization_cap_is_the_textbook_inverse():
    # M/D/1 mean time in system D(1 + rho/(2(1-rho))): rho = 0.5 gives 1.5 D, rho = 0.8 gives 3 D
    assert rho_max(1.5, 1.0) == pytest.approx(0.5)
    assert rho_max(3.0, 1.0) == pytest.approx(0.8)
    assert rho_max(0.9, 1.0) == 0.0
    assert rho_max(math.inf, 1.0) == 1.0


def test_the_full_model_figures_replace_the_screen_and_keep_its_estimate(small_8b):
    top = small_8b.top[small_8b.top["feasible"]]
    # tokens/s per GPU = rate x mean output tokens / GPUs (definition, per row)
    mean_out = float(np.dot(*_chat_out()))
    np.testing.assert_allclose(
        top["tokens_per_s_per_gpu"], top["rate_rps"] * mean_out / top["gpus"], rtol=1e-12
    )
    assert (top["screen_rate_rps"] > 0).all()
    assert top["tokens_per_s_per_gpu"].is_monotonic_decreasing


def test_min_gpus_sizes_the_fleet_for_the_target_rate():
    res = search(
        "llama-3.1-8b", "chat", SLO_CHAT, SMALL, objective="min_gpus", target_rate=40.0, top=100
    )
    top = res.top[res.top["feasible"]]
    units = np.ceil(40.0 / top["rate_rps"])
    np.testing.assert_array_equal(top["gpus_for_target"], units * top["gpus"])
    assert top["gpus_for_target"].is_monotonic_increasing


def test_the_best_plans_vllm_command_carries_its_limits(small_8b):
    row = small_8b.to_frame().iloc[0]
    lines = small_8b.vllm_commands()
    cmd = " ".join(lines)
    assert "meta-llama/Llama-3.1-8B" in cmd
    assert f"--max-num-seqs {row['max_num_seqs']}" in cmd
    assert f"--tensor-parallel-size {row['tp']}" in cmd
    if row["mode"] == "disaggregated":
        assert "--kv-transfer-config" in cmd
        assert f"--tensor-parallel-size {row['prefill_tp']}" in cmd


def test_to_dict_is_json_safe(small_8b):
    import json

    text = json.dumps(small_8b.to_dict(), allow_nan=False)
    assert "Infinity" not in text and "NaN" not in text


# ---- bad input ---------------------------------------------------------------------------
def test_a_model_that_fits_no_plan_names_the_reason_and_the_smallest_plan():
    with pytest.raises(SearchError, match=r"memory.*smallest plan that fits: tp=4"):
        search("llama-3.1-70b", "chat", SLO_CHAT, {"gpus": ["L40S"], "tp": [1, 2], "pp": [1],
               "quant": ["bf16"]})  # fmt: skip


def test_max_gpus_below_what_the_model_needs_is_reported_as_size():
    with pytest.raises(SearchError, match=r"by size"):
        search("llama-3.1-70b", "chat", SLO_CHAT, {"gpus": ["A100-SXM4-80GB"], "tp": [2, 4],
               "pp": [1], "quant": ["bf16"], "max_gpus_per_unit": 1})  # fmt: skip


def test_an_slo_no_plan_meets_shows_the_best_figures_per_gpu_type():
    res = search("llama-3.1-8b", "chat", SLO(ttft_s=1.0, tpot_s=0.001), SMALL, top=5)
    assert not res.feasible
    reason = res.infeasible_reason()
    assert "no plan meets the SLO" in reason and "A100-SXM4-80GB: TTFT" in reason
    with pytest.raises(ValueError, match="no plan meets"):
        _ = res.best


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "fastest"}, "objective"),
        ({"objective": "min_gpus"}, "target_rate"),
        ({"top": 0}, "top"),
    ],
)
def test_bad_search_arguments_get_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match):
        search("llama-3.1-8b", "chat", SLO_CHAT, SMALL, **kwargs)


def test_a_space_with_an_unknown_gpu_or_field_is_refused():
    with pytest.raises(ValueError, match=r"H100-SMX"):
        SearchSpace(gpus=["H100-SMX"])
    with pytest.raises(ValueError, match="extra"):
        SearchSpace(tensor_parallel=[1])


def _chat_out():
    from planner.workload import Workload

    w = Workload.bundled("chat")
    return w.weights, w.output_tokens


def test_pipeline_stages_each_keep_a_batch_in_flight():
    # a 2-stage replica with 256 slots keeps two batches of 128 in flight, each step taking
    # about one GPU's step at 128 (the same layers in two halves): about twice the rate of
    # one GPU with 128 slots (vLLM's pipeline batch queue; DistServe's and Vidur's
    # micro-batches), not the same rate on twice the GPUs
    space = dict(SMALL, tp=[1], pp=[1, 2], modes=["aggregated"], max_num_seqs=[128, 256])
    res = search("llama-3.1-8b", "chat", SLO(ttft_s=2.0, tpot_s=0.2), space, top=10)
    top = res.top.set_index(["pp", "max_num_seqs"])
    one, two = top.loc[(1, 128)], top.loc[(2, 256)]
    assert one["binding"] in ("capacity", "max_num_seqs", "ttft")
    assert two["rate_rps"] > 1.5 * one["rate_rps"]
    assert two["screen_rate_rps"] > 1.5 * one["screen_rate_rps"]


def test_an_slo_without_a_ttft_or_e2e_bound_gets_a_5_s_ttft_bound_and_says_so():
    # without one, the highest rate sits at the capacity, where waits grow without bound
    res = search("llama-3.1-8b", "chat", SLO(tpot_s=0.05), SMALL, top=20)
    assert res.notes and "TTFT p90 <= 5 s assumed" in res.notes[0]
    top = res.top[res.top["feasible"]]
    assert (top["ttft_s"] <= 5.0).all()
    assert res.slo.ttft_s == 5.0 and res.to_dict()["notes"] == res.notes
