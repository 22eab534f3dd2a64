"""Capacity from the serving model (planner.serving): eligibility reasons, and predicted
latency of a planned pool within the SLO it was sized for."""

from __future__ import annotations

import pytest

from planner.mix import PlanSpecError, Pool, SLOSpec, plan, validate_plan
from planner.mix.capacity_serving import ServingCapacity
from planner.mix.traffic import Buckets

SLO = SLOSpec(ttft_s=1.0, tpot_s=0.06, percentile=0.9)


def test_short_requests_have_capacity_long_ones_a_reason():
    provider = ServingCapacity()
    b = Buckets.from_pairs([(256, 128), (200_000, 100)], [0.5, 0.5])
    cap = provider.capacity("llama-3.1-8b", Pool("H100-SXM", 2.99), b, SLO)
    assert cap.rate[0] > 1 and cap.reasons[0] is None
    assert cap.rate[1] == 0 and "exceed the model context (131072)" in cap.reasons[1]


def test_model_that_does_not_fit_is_ineligible_with_the_smallest_plan_that_fits():
    b = Buckets.from_pairs([(256, 128)], [1.0])
    cap = ServingCapacity().capacity("llama-3.1-70b", Pool("L4", 0.8), b, SLO)
    assert cap.rate[0] == 0 and "does not fit on L4" in cap.reasons[0]


def test_unsupported_percentile_is_a_clear_error():
    b = Buckets.from_pairs([(256, 128)], [1.0])
    slo = SLOSpec(ttft_s=1.0, percentile=0.95)
    with pytest.raises(PlanSpecError, match=r"0\.5, 0\.9, 0\.99"):
        ServingCapacity().capacity("llama-3.1-8b", Pool("H100-SXM", 2.99), b, slo)


def test_single_bucket_plan_meets_its_slo_at_the_planned_load():
    spec = validate_plan(
        {
            "models": [
                {
                    "name": "llama-3.1-8b",
                    "rate_rps": 25,
                    "traffic": {
                        "histogram": [{"input_tokens": 1024, "output_tokens": 256, "prob": 1.0}]
                    },
                }
            ],
            "slo": SLO.model_dump(),
            "gpus": [{"name": "H100-SXM"}, {"name": "A100-SXM4-80GB"}],
            "capacity": {"serving": {}},
            "compare_single_type": False,
        }
    )
    alloc = plan(spec)
    assert alloc.feasible and alloc.capacity_source.startswith("serving model, engine vllm-v1")
    for pool in alloc.pools:
        assert pool.utilization <= 1 + 1e-9
        # capacity = highest rate meeting the SLO, so at <= 100% load the SLO holds
        assert pool.ttft_s <= SLO.ttft_s * 1.01 and pool.tpot_s <= SLO.tpot_s * 1.01


def test_the_engine_of_each_gpu_type_comes_from_the_plan_and_aliases_resolve():
    provider = ServingCapacity(engine="vllm-v1", engines={"h100": "sglang", "a10g": "none"})
    assert provider.engine_of("H100-SXM") == "sglang"
    assert provider.engine_of("A10G") is None
    assert provider.engine_of("L40S") == "vllm-v1"
    assert "sglang" in provider.name and "vllm-v1" in provider.name


def test_an_unknown_engine_in_a_plan_is_one_error_naming_it():
    from planner.mix.spec import ServingCapacitySpec

    with pytest.raises(ValueError, match="unknown engine 'vllm-9'"):
        ServingCapacitySpec(engine="vllm-9")


def test_pessimistic_plans_derate_every_rate_to_the_bands_low_end():
    import yaml

    from planner.fit.bands import BANDS

    r90 = yaml.safe_load(BANDS.read_text())["bands"]["throughput"][1]
    b = Buckets.from_pairs([(256, 128)], [1.0])
    pool = Pool("H100-SXM", 2.99)
    plain = ServingCapacity().capacity("llama-3.1-8b", pool, b, SLO).rate[0]
    low = ServingCapacity(pessimistic=True).capacity("llama-3.1-8b", pool, b, SLO).rate[0]
    assert low == pytest.approx(plain / r90)


def test_a_sweep_over_slos_prepares_each_bucket_once_and_answers_as_fresh():
    """Two SLOs on one bucket: the second search reuses the prepared workload (its tables,
    capacity and random numbers) and finds the rate a fresh search finds."""
    from planner.serving import max_rate_under_slo
    from planner.workload import Workload

    provider = ServingCapacity()
    pool = Pool("H100-SXM", 2.99)
    b = Buckets.from_pairs([(1024, 256)], [1.0])
    loose = SLOSpec(ttft_s=2.0, tpot_s=0.1, percentile=0.9)
    provider.capacity("llama-3.1-8b", pool, b, SLO)
    reused = provider.capacity("llama-3.1-8b", pool, b, loose).rate[0]
    assert provider._prepared.cache_info().hits == 1
    engine = provider.replica_engine("llama-3.1-8b", pool)
    fresh = max_rate_under_slo(engine, None, Workload.fixed(1024, 256), provider.serving_slo(loose))
    assert reused == fresh.rate
