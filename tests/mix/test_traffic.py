"""Traffic forms become buckets with shares summing to 1: histogram, grid, trace, laws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from planner.mix import PlanSpecError, validate_plan
from planner.mix.spec_traffic import LawSpec
from planner.mix.traffic import cell_means, discretize, laws_buckets, model_buckets


def spec_with(traffic: dict, tmp_path=None, rate=10.0) -> tuple:
    data = {
        "models": [{"name": "m", "rate_rps": rate, "traffic": traffic}],
        "gpus": [{"name": "A10G"}],
        "capacity": {"table": "x.csv"},
        "base_dir": str(tmp_path or "."),
    }
    plan = validate_plan(data)
    return model_buckets(plan, plan.models[0])


def test_histogram_duplicates_are_merged():
    buckets, rate = spec_with(
        {
            "histogram": [
                {"input_tokens": 100, "output_tokens": 10, "prob": 0.25},
                {"input_tokens": 100, "output_tokens": 10, "prob": 0.25},
                {"input_tokens": 900, "output_tokens": 90, "prob": 0.5},
            ]
        }
    )
    assert rate == 10.0
    assert buckets.labels == ("in100/out10", "in900/out90")
    assert buckets.prob == pytest.approx([0.5, 0.5])


def test_grid_cells_are_row_major_with_sizes():
    buckets, _ = spec_with(
        {
            "grid": {
                "probs": [[0.1, 0.2], [0.3, 0.4]],
                "input_tokens": [100, 1000],
                "output_tokens": [10, 500],
            }
        }
    )
    assert buckets.grid_index == ((0, 0), (0, 1), (1, 0), (1, 1))
    assert list(buckets.input_tokens) == [100, 100, 1000, 1000]
    assert list(buckets.output_tokens) == [10, 500, 10, 500]
    assert buckets.prob == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_grid_with_wrong_size_list_is_rejected():
    with pytest.raises(PlanSpecError, match="input_tokens has 1 entries, probs 2 rows"):
        spec_with({"grid": {"probs": [[0.5], [0.5]], "input_tokens": [1], "output_tokens": [1]}})


def test_trace_is_bucketed_by_cell_means_and_gives_the_rate(tmp_path):
    trace = pd.DataFrame(
        {
            "input_tokens": [10, 12, 14, 300, 310, 5000],
            "output_tokens": [5, 5, 5, 40, 60, 100],
            "arrival_s": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
        }
    )
    trace.to_csv(tmp_path / "t.csv", index=False)
    data = {"trace": {"path": "t.csv", "input_edges": [16, 512, 8192], "output_edges": [8, 128]}}
    plan = validate_plan(
        {
            "models": [{"name": "m", "traffic": data}],
            "gpus": [{"name": "A10G"}],
            "capacity": {"table": "x.csv"},
            "base_dir": str(tmp_path),
        }
    )
    buckets, rate = model_buckets(plan, plan.models[0])
    assert rate == pytest.approx(5 / 2.5)  # 6 requests over 2.5 s
    assert dict(zip(buckets.labels, buckets.prob)) == pytest.approx(
        {"in12/out5": 0.5, "in305/out50": 2 / 6, "in5000/out100": 1 / 6}
    )


def test_trace_without_rate_or_arrivals_asks_for_rate_rps(tmp_path):
    pd.DataFrame({"input_tokens": [1, 2], "output_tokens": [1, 2]}).to_csv(tmp_path / "t.csv")
    plan = validate_plan(
        {
            "models": [{"name": "m", "traffic": {"trace": {"path": "t.csv"}}}],
            "gpus": [{"name": "A10G"}],
            "capacity": {"table": "x.csv"},
            "base_dir": str(tmp_path),
        }
    )
    with pytest.raises(PlanSpecError, match="rate_rps"):
        model_buckets(plan, plan.models[0])


def test_cell_means_default_edges_are_powers_of_two():
    b = cell_means(np.array([20.0, 30.0, 100.0]), np.array([20.0, 20.0, 20.0]), None, None)
    # 20 and 30 share the (16, 32] cell; 100 is in (64, 128].
    assert dict(zip(b.labels, b.prob)) == pytest.approx({"in25/out20": 2 / 3, "in100/out20": 1 / 3})


def test_lognormal_law_discretization_keeps_mass_and_mean():
    law = LawSpec(law="lognormal", median=500, sigma=0.8, max_tokens=20000)
    means, probs = discretize(law, None)
    assert probs.sum() == pytest.approx(1.0)
    exact = stats.lognorm(s=0.8, scale=500)
    # mean of the clipped law: E[min(X, 20000)]
    clipped = exact.expect(lambda x: x, ub=20000) + 20000 * exact.sf(20000)
    assert float(means @ probs) == pytest.approx(clipped, rel=1e-6)


def test_laws_product_gives_independent_buckets():
    b = laws_buckets(
        LawSpec(law="fixed", value=256), LawSpec(law="uniform", low=10, high=200), None, [64, 256]
    )
    assert set(b.input_tokens) == {256.0}
    assert b.prob == pytest.approx([54 / 190, 136 / 190])  # (10, 64] and (64, 200]


def test_law_missing_parameter_is_named():
    with pytest.raises(ValueError, match="law 'lognormal' needs median, sigma"):
        LawSpec(law="lognormal", median=10)
