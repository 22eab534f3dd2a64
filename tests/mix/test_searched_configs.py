"""Searched replica configurations (a GPU entry's ``search`` block): the plan search's best
distinct configurations become pools and the MILP chooses among them; ReplicaConfig's new
fields keep today's plans unchanged when unset; bad input gets one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.mix import PlanSpecError, Pool, as_spec, load_plan, plan, validate_plan
from planner.mix.capacity_serving import ServingCapacity
from planner.mix.spec import ReplicaConfig, ServingCapacitySpec, SLOSpec
from planner.mix.traffic import Buckets

EXAMPLES = Path(__file__).parents[2] / "examples"
MODEL = "llama-3.1-8b"
SIZES = [(256, 128, 0.7), (2048, 256, 0.3)]
SLO = {"ttft_s": 1.0, "tpot_s": 0.05, "percentile": 0.9}
SPACE = {"tp": [1, 2], "quant": ["bf16"], "max_num_seqs": [32, 256], "token_budget": [2048]}
TOP = 3


def plan_dict(gpu: dict, model: str = MODEL) -> dict:
    """One model, two buckets, one GPU entry, serving capacity, no single-type baselines."""
    hist = [{"input_tokens": a, "output_tokens": b, "prob": p} for a, b, p in SIZES]
    return {
        "name": "searched",
        "models": [{"name": model, "rate_rps": 20, "traffic": {"histogram": hist}}],
        "slo": SLO,
        "gpus": [gpu],
        "capacity": {"serving": {}},
        "compare_single_type": False,
    }


SEARCHED = plan_dict({"name": "L40S", "search": {"top": TOP, **SPACE}})


@pytest.fixture(scope="module")
def provider() -> ServingCapacity:
    """The plans' serving provider (engine vllm-v1), shared so pools are computed once."""
    return ServingCapacity.from_spec(ServingCapacitySpec())


@pytest.fixture(scope="module")
def searched(provider):
    """The resolved plan (search run once) and its allocation."""
    spec = as_spec(SEARCHED)
    return spec, plan(spec, provider=provider)


def test_searched_plan_solves_among_the_searched_configurations(searched):
    from planner.search import search
    from planner.workload import Workload

    spec, alloc = searched
    configs = spec.gpus[0].configs
    assert spec.gpus[0].search is None and 1 <= len(configs) <= TOP
    assert len(set(configs)) == len(configs)
    # independently: the first TOP distinct rows of planner.search on the same traffic
    a, b, p = (np.array(c) for c in zip(*SIZES))
    space = {**SPACE, "gpus": ["L40S"], "pp": [1], "ep": [1], "modes": ["aggregated"]}
    rows = search(MODEL, Workload("t", a, b, p), SLO, space, top=2 * TOP, jobs=1).to_frame()
    keys = list(dict.fromkeys(zip(rows.tp, rows.quant, rows.max_num_seqs, rows.token_budget)))
    assert [(c.tp, c.quant, c.max_num_seqs, c.token_budget) for c in configs] == keys[:TOP]
    names = {Pool("L40S", 1.0, c.tp, c.pp, c.quant, c.max_num_seqs, c.token_budget).name
             for c in configs}  # fmt: skip
    assert alloc.feasible and alloc.pools
    assert {p.pool for p in alloc.pools} <= names
    assert all(r.pool in names for r in alloc.routes)


def test_more_searched_pools_never_cost_more_than_one_of_them(searched, provider):
    # the searched pools are a superset of each one-config plan's pool: the MILP optimum over
    # a superset of columns cannot be higher (up to the solver's relative gap)
    spec, alloc = searched
    compared = 0
    for c in spec.gpus[0].configs:
        fixed = plan(plan_dict({"name": "L40S", "configs": [c.model_dump()]}), provider=provider)
        if fixed.feasible:
            compared += 1
            assert alloc.usd_per_hour <= fixed.usd_per_hour * (1 + spec.mip_gap) + 1e-9
    assert compared >= 1


def test_explicit_configs_are_kept_next_to_the_searched_ones(searched):
    spec, _ = searched
    # a resolved plan has no search left: resolving again is a no-op
    assert as_spec(spec) is spec
    extra = {"name": "L40S", "configs": [{"tp": 1}], "search": {"top": TOP, **SPACE}}
    both = as_spec(plan_dict(extra)).gpus[0].configs
    assert both[0] == ReplicaConfig() and both[1:] == spec.gpus[0].configs


def test_unset_options_leave_existing_examples_unchanged():
    # costs from the code before ReplicaConfig gained quant / max_num_seqs / token_budget
    assert plan(EXAMPLES / "chat_table.yaml").usd_per_hour == pytest.approx(13.424)
    chat = load_plan(EXAMPLES / "chat_multi_gpu.yaml")
    l40s = [g for g in chat.gpus if g.name == "L40S"]  # the spot L40S entry, serving model
    alloc = plan(chat.model_copy(update={"gpus": l40s, "compare_single_type": False}))
    # vllm-v1's defaults on a 48 GB L40S: bf16, 256 sequences, a 2,048-token budget; setting
    # them by hand must give the same plan (its cost moves with the fitted engine profile)
    cfg = {"tp": 1, "quant": "bf16", "max_num_seqs": 256, "token_budget": 2048}
    explicit = [l40s[0].model_copy(update={"configs": [ReplicaConfig(**cfg)]})]
    same = plan(chat.model_copy(update={"gpus": explicit, "compare_single_type": False}))
    assert same.usd_per_hour == pytest.approx(alloc.usd_per_hour, rel=1e-9)
    assert [p.replicas for p in same.pools] == [p.replicas for p in alloc.pools]
    assert alloc.usd_per_hour == pytest.approx(1.10 * sum(p.replicas for p in alloc.pools))


def test_engine_limits_and_quant_reach_the_serving_model(provider):
    buckets = Buckets.from_pairs([(256.0, 128.0)], np.array([1.0]))
    slo = SLOSpec(**SLO)
    base = Pool("L40S", 1.0)
    # vllm-v1's defaults below 70 GiB: chunked prefill, 256 sequences, 2048-token budget
    same = Pool("L40S", 1.0, quant="bf16", max_num_seqs=256, token_budget=2048)
    tight = Pool("L40S", 1.0, max_num_seqs=4, token_budget=2048)
    sched = provider.replica_engine(MODEL, tight).scheduler
    assert (sched.kind, sched.max_num_seqs, sched.token_budget) == ("chunked", 4, 2048)
    r_base, r_same, r_tight = (
        provider.capacity(MODEL, p, buckets, slo).rate[0] for p in (base, same, tight)
    )
    assert r_same == pytest.approx(r_base, rel=1e-9)
    assert 0 < r_tight < r_base  # 4 running sequences cap the decode batch


def test_a_model_that_fits_no_searched_configuration_is_one_clear_line():
    gpu = {"name": "L4", "search": {"tp": [1], "quant": ["bf16"], "max_num_seqs": [64]}}
    with pytest.raises(PlanSpecError) as err:
        as_spec(plan_dict(gpu, model="llama-3.1-70b"))
    msg = str(err.value)
    assert "\n" not in msg
    assert "GPU 'L4'" in msg and "model 'llama-3.1-70b'" in msg and "search" in msg


def test_unknown_search_field_and_search_without_serving_are_refused():
    with pytest.raises(PlanSpecError, match=r"gpus\[0\]\.search\.tpp': unknown field; accepted"):
        validate_plan(plan_dict({"name": "L40S", "search": {"tpp": [1]}}))
    with pytest.raises(PlanSpecError, match=r"need capacity: \{serving"):
        validate_plan(SEARCHED | {"capacity": {"table": "caps.csv"}})
    with pytest.raises(PlanSpecError, match="quant"):
        validate_plan(plan_dict({"name": "L40S", "configs": [{"quant": "int3"}]}))
