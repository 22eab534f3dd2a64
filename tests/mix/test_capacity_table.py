"""The measured-table provider: exact rows, larger measured shapes, SLO columns, models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.mix import Pool, SLOSpec, TableCapacity
from planner.mix.traffic import Buckets

A10G = Pool("A10G", 1.0)


def table(rows: list[dict]) -> TableCapacity:
    return TableCapacity(pd.DataFrame(rows))


def test_exact_row_then_larger_shape_then_ineligible():
    t = table(
        [
            {"gpu": "a10g", "input_tokens": 512, "output_tokens": 128, "max_rate_rps": 3.0},
            {"gpu": "A10G", "input_tokens": 2048, "output_tokens": 256, "max_rate_rps": 1.0},
        ]
    )
    b = Buckets.from_pairs([(512, 128), (1000, 200), (4096, 64)], [1, 1, 1])
    cap = t.capacity("m", A10G, b, None)
    assert list(cap.rate) == [3.0, 1.0, 0.0]  # (1000, 200) bounded by the (2048, 256) row
    assert cap.reasons[:2] == (None, None)
    assert "no measured shape >= (4096, 64)" in cap.reasons[2]


def test_slo_columns_pick_rows_at_least_as_tight_as_the_plan():
    t = table(
        [
            {
                "gpu": "A10G",
                "input_tokens": 1,
                "output_tokens": 1,
                "tpot_s": 0.05,
                "max_rate_rps": 2,
            },
            {
                "gpu": "A10G",
                "input_tokens": 1,
                "output_tokens": 1,
                "tpot_s": 0.10,
                "max_rate_rps": 5,
            },
        ]
    )
    b = Buckets.from_pairs([(1, 1)], [1])
    rate = {
        tpot: t.capacity("m", A10G, b, SLOSpec(tpot_s=tpot)).rate[0]
        for tpot in (0.04, 0.05, 0.07, 0.10, 0.5)
    }
    assert rate == {0.04: 0.0, 0.05: 2.0, 0.07: 2.0, 0.10: 5.0, 0.5: 5.0}
    assert "meets the SLO" in t.capacity("m", A10G, b, SLOSpec(tpot_s=0.04)).reasons[0]


def test_model_column_and_parallelism_select_rows():
    t = table(
        [
            {
                "model": "a",
                "gpu": "H100",
                "tp": 2,
                "input_tokens": 1,
                "output_tokens": 1,
                "max_rate_rps": 7,
            },
            {
                "model": "",
                "gpu": "H100",
                "tp": 1,
                "input_tokens": 1,
                "output_tokens": 1,
                "max_rate_rps": 3,
            },
        ]
    )
    b = Buckets.from_pairs([(1, 1)], [1])
    tp2 = Pool("H100-SXM", 3.0, tp=2)
    assert t.capacity("a", tp2, b, None).rate[0] == 7
    assert t.capacity("b", tp2, b, None).rate[0] == 0  # not measured for model b
    assert t.capacity("b", Pool("H100-SXM", 3.0), b, None).rate[0] == 3  # blank model: all
    reason = t.capacity("a", Pool("L4", 1.0), b, None).reasons[0]
    assert reason.startswith("L4 is not in the capacity table")


def test_bucket_without_sizes_is_ineligible_with_reason():
    t = table([{"gpu": "A10G", "input_tokens": 1, "output_tokens": 1, "max_rate_rps": 1}])
    b = Buckets(("r0c0",), np.array([np.nan]), np.array([np.nan]), np.array([1.0]))
    cap = t.capacity("m", A10G, b, None)
    assert cap.rate[0] == 0 and "no token sizes" in cap.reasons[0]
