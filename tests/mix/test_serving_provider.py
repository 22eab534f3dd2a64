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
    assert alloc.feasible and alloc.capacity_source == "serving"
    for pool in alloc.pools:
        assert pool.utilization <= 1 + 1e-9
        # capacity = highest rate meeting the SLO, so at <= 100% load the SLO holds
        assert pool.ttft_s <= SLO.ttft_s * 1.01 and pool.tpot_s <= SLO.tpot_s * 1.01
