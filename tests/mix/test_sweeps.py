"""Cost curves: each point equals a fresh plan at that rate / SLO; curves are monotone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.mix import cost_vs_rate, cost_vs_slo, plan, plan_from_melange

ROOT = Path(__file__).parents[2]


def test_cost_vs_rate_points_equal_fresh_plans(melange_toy):
    spec = plan_from_melange(melange_toy)
    curve = cost_vs_rate(spec, [0.5, 1.0, 2.0])
    for row in curve.itertuples():
        scaled = spec.model_copy(
            update={
                "models": [
                    m.model_copy(update={"rate_rps": 30.0 * row.rate_scale}) for m in spec.models
                ]
            }
        )
        assert row.mix_usd_per_hour == pytest.approx(plan(scaled).usd_per_hour)
    assert list(curve.rate_rps) == [15.0, 30.0, 60.0]
    assert (curve.mix_usd_per_hour <= curve.best_single_usd_per_hour + 1e-9).all()


def test_cost_vs_slo_never_rises_as_the_slo_loosens():
    curve = cost_vs_slo(ROOT / "examples" / "chat_table.yaml", [0.75, 1.0, 1.5, 2.0])
    costs = curve.mix_usd_per_hour.to_numpy(dtype=float)
    assert np.all(np.diff(costs) <= 1e-9)
    assert curve.slo.iloc[1] == "p90 TTFT <= 1 s, TPOT <= 0.06 s"
