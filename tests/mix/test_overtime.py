"""Plans over time (planner.mix.overtime): hand-counted monthly bills with a committed base,
spot and scale-up limits; never costlier than one fleet sized for the peak, and enough GPUs in
every period; bad curves and contradictory prices answered in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.mix import PlanSpecError, plan, plan_over_time, validate_plan

ROOT = Path(__file__).parents[2]
H = 730.0  # hours billed per month (the default month_hours)


def _plan(tmp_path: Path, rates, gpus, table: str, **extra) -> dict:
    """A one-model plan with a table capacity and a rate curve (1-hour periods)."""
    (tmp_path / "cap.csv").write_text(table)
    return {
        "name": "curve",
        "models": [
            {
                "name": "m",
                "rate_curve": {"rates_rps": rates},
                "traffic": {"histogram": [{"input_tokens": 512, "output_tokens": 128, "prob": 1}]},
            }
        ],
        "gpus": gpus,
        "capacity": {"table": "cap.csv"},
        "base_dir": str(tmp_path),
        **extra,
    }


ONE_GPU = "gpu,input_tokens,output_tokens,max_rate_rps\nL4,512,128,10\n"


def test_committed_base_by_hand(tmp_path):
    """κ = 10 req/s, rates [10, 30]: 1 and 3 replicas. Each period is billed 730/2 = 365 h.
    R committed at $0.6 + on-demand at $1.0: R=0 → 365·4 = 1460; R=1 → 438 + 365·2 = 1168;
    R=2 → 876 + 365 = 1241; R=3 → 1314. The optimum is R = 1, $1,168/month; one fleet sized
    for the peak costs 3 · 0.6 · 730 = $1,314; one sized for the mean (2 GPUs, $876) is short
    in the second period."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 0.6}]
    tp = plan_over_time(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    assert tp.status == "optimal" and tp.proof.startswith("proven optimal")
    assert tp.usd_per_month == pytest.approx(1168.0, abs=0.01)
    assert tp.bill["committed"] == pytest.approx(438.0)
    assert tp.bill["on_demand"] == pytest.approx(730.0)
    peak, mean = tp.static
    assert peak.usd_per_month == pytest.approx(1314.0) and peak.short_periods == 0
    assert mean.usd_per_month == pytest.approx(876.0) and mean.short_periods == 1
    assert tp.saving_pct("peak") == pytest.approx(100 * (1314 - 1168) / 1314)
    fleet = tp.fleet_frame()
    assert fleet.gpus.tolist() == [1, 3] and fleet.committed.tolist() == [1, 1]


def test_spot_within_its_cap_by_hand(tmp_path):
    """As above plus spot at $0.3 with 1 GPU available: R=1 and, in the peak period, 1 spot +
    1 on-demand: 438 + 365·(0.3 + 1.0) = $912.50 (R=0: 949; R=2: 985.50)."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 0.6,
             "spot_usd_per_hour": 0.3, "max_spot_gpus": 1}]  # fmt: skip
    tp = plan_over_time(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    assert tp.usd_per_month == pytest.approx(912.5, abs=0.01)
    assert tp.fleet_frame().spot.max() == 1


def test_scale_up_limit_by_hand(tmp_path):
    """At most 1 GPU added per period (cyclic): 1 → 3 is not allowed, so the quiet period
    keeps 2: R=2 and one on-demand GPU at the peak: 876 + 365 = $1,241."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 0.6,
             "max_scale_up_gpus": 1}]  # fmt: skip
    tp = plan_over_time(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    assert tp.usd_per_month == pytest.approx(1241.0, abs=0.01)
    assert tp.fleet_frame().gpus.tolist() == [2, 3]


def test_without_committed_capacity_each_period_pays_on_demand(tmp_path):
    """schedule.committed false: 365 · (1 + 3) · $1.0 = $1,460."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 0.6}]
    data = _plan(tmp_path, [10, 30], gpus, ONE_GPU, schedule={"committed": False})
    assert plan_over_time(validate_plan(data)).usd_per_month == pytest.approx(1460.0, abs=0.01)


def test_periods_of_equal_rate_are_planned_once_and_billed_for_each(tmp_path):
    """Rates [10, 30, 10, 30, 30]: the model plans 2 periods, billed 2 and 3 fifths of 730 h.
    By hand as above, 146 h per period: R=0 → 146·(1 + 3 + 1 + 3 + 3) = $1,606; R=1 →
    438 + 146·(2 + 2 + 2) = $1,314; R=2 → 876 + 146·3 = $1,314; R=3 → $1,314: the optimum is
    $1,314/month. Every period of the report has its fleet, in order."""
    from planner.mix.curves import curves, prices
    from planner.mix.overtime import distinct_periods

    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 0.6}]
    spec = validate_plan(_plan(tmp_path, [10, 30, 10, 30, 30], gpus, ONE_GPU))
    merged, hours, inverse = distinct_periods(curves(spec), prices(spec), H)
    assert merged.rates.tolist() == [[10.0, 30.0]]
    assert hours.tolist() == pytest.approx([2 * H / 5, 3 * H / 5])
    assert inverse.tolist() == [0, 1, 0, 1, 1]
    tp = plan_over_time(spec)
    assert tp.usd_per_month == pytest.approx(1314.0, abs=0.01)
    assert tp.fleet_frame().gpus.tolist() == [1, 3, 1, 3, 3]


def test_a_scale_up_limit_keeps_every_period_in_order(tmp_path):
    """With max_scale_up_gpus the order of periods matters, so none is merged."""
    from planner.mix.curves import curves, prices
    from planner.mix.overtime import distinct_periods

    gpus = [{"name": "L4", "usd_per_hour": 1.0, "max_scale_up_gpus": 1}]
    spec = validate_plan(_plan(tmp_path, [10, 30, 10, 30], gpus, ONE_GPU))
    merged, hours, inverse = distinct_periods(curves(spec), prices(spec), H)
    assert merged.periods == 4 and inverse.tolist() == [0, 1, 2, 3]
    assert hours.tolist() == pytest.approx([H / 4] * 4)


TWO_GPUS = "gpu,input_tokens,output_tokens,max_rate_rps\nL4,512,128,3\nH100-SXM,512,128,20\n"


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(
    rates=st.lists(st.floats(0.0, 60.0), min_size=2, max_size=5).filter(lambda r: max(r) > 1),
    reserved=st.floats(0.3, 1.2),
)
def test_a_curve_plan_is_never_costlier_than_the_peak_fleet_and_serves_every_period(
    tmp_path_factory, rates, reserved
):
    tmp = tmp_path_factory.mktemp("curve")
    gpus = [
        {"name": "L4", "usd_per_hour": 0.8, "reserved_usd_per_hour": 0.8 * reserved},
        {"name": "H100-SXM", "usd_per_hour": 3.0, "reserved_usd_per_hour": 3.0 * reserved},
    ]
    tp = plan_over_time(validate_plan(_plan(tmp, rates, gpus, TWO_GPUS)))
    peak = tp.static[0]
    assert tp.feasible and tp.usd_per_month <= peak.usd_per_month + 0.01
    capacity = {"L4": 3.0, "H100-SXM": 20.0}  # req/s per replica, from the table
    pools = tp.to_frame()
    for t, rate in enumerate(rates):
        rows = pools[pools.period == t]
        carried = sum(capacity[g] * n for g, n in zip(rows.gpu, rows.replicas, strict=True))
        assert carried >= rate - 1e-6  # the SLO holds in every period: no replica over 100%


def test_rate_curve_from_a_trace_counts_arrivals_per_period(tmp_path):
    """7,200 arrivals in the first hour and 3,600 in the second: 2 and 1 req/s."""
    first = np.linspace(0, 3599, 7200)
    second = 3600 + np.linspace(0, 3599, 3600)
    arrivals = np.concatenate([first, second])
    (tmp_path / "arrivals.csv").write_text("arrival_s\n" + "\n".join(f"{a:.3f}" for a in arrivals))
    data = _plan(tmp_path, [1, 1], [{"name": "L4", "usd_per_hour": 1.0}], ONE_GPU)
    data["models"][0]["rate_curve"] = {"trace": "arrivals.csv", "period_hours": 1}
    tp = plan_over_time(validate_plan(data))
    assert tp.rates[0] == pytest.approx((2.0, 1.0))


@pytest.mark.parametrize(
    ("curve", "needle"),
    [
        ({"rates_rps": [10, -1]}, "greater than or equal to 0"),
        ({"rates_rps": [10, None]}, "valid number"),
        ({"rates_rps": [0, 0]}, "at least one period needs traffic"),
        ({"rates_rps": [10]}, "at least 2"),
        ({"rates_rps": [10, 20], "trace": "x.csv"}, "exactly one of rates_rps"),
        ({"rates_rps": [10, 20], "period_hours": 0}, "greater than 0"),
    ],
)
def test_bad_curves_are_one_line_naming_the_field(tmp_path, curve, needle):
    data = _plan(tmp_path, [1, 2], [{"name": "L4", "usd_per_hour": 1.0}], ONE_GPU)
    data["models"][0]["rate_curve"] = curve
    with pytest.raises(PlanSpecError, match="rate_curve") as err:
        validate_plan(data)
    assert needle in str(err.value)


def test_a_plan_has_one_timeline(tmp_path):
    data = _plan(tmp_path, [1, 2], [{"name": "L4", "usd_per_hour": 1.0}], ONE_GPU)
    second = json.loads(json.dumps(data["models"][0]))
    second |= {"name": "n", "rate_rps": 3.0}
    del second["rate_curve"]
    data["models"].append(second)
    with pytest.raises(PlanSpecError, match="every model a rate_curve, or none"):
        validate_plan(data)
    data["models"].pop()
    data["models"][0]["rate_rps"] = 3.0
    with pytest.raises(PlanSpecError, match="rate_rps or rate_curve, not both"):
        validate_plan(data)


def test_contradictory_prices_are_warned(tmp_path):
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "reserved_usd_per_hour": 1.5, "max_gpus": 4,
             "spot_usd_per_hour": 0.3, "max_spot_gpus": 6}]  # fmt: skip
    tp = plan_over_time(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    messages = " ".join(i.message for i in tp.issues if i.kind == "warning")
    assert "dearer than on-demand" in messages and "max_spot_gpus 6 is above max_gpus 4" in messages
    assert tp.bill["committed"] == 0.0  # never bought at a price above on-demand


def test_a_static_plan_of_a_curve_file_is_sized_for_the_peak(tmp_path):
    gpus = [{"name": "L4", "usd_per_hour": 1.0}]
    alloc = plan(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    assert alloc.total_gpus == 3 and alloc.models[0].rate_rps == pytest.approx(30.0)


def test_daily_example_report_through_the_cli(tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["plan", str(ROOT / "examples" / "daily_curve.yaml"), "--out", str(out), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["feasible"] and data["status"] == "optimal"
    assert data["usd_per_month"] <= data["static"][0]["usd_per_month"] + 0.01
    assert {"timeplan.html", "fleet.csv", "bill.csv", "static_plans.csv"} <= {
        p.name for p in out.iterdir()
    }
    assert yaml.safe_load((ROOT / "examples" / "daily_curve.yaml").read_text())["models"]


SEARCH_ONE = {"top": 1, "tp": [1], "quant": ["fp8"], "max_num_seqs": [64]}


def test_searched_configurations_are_found_at_each_models_peak():
    """A `search` block with a rate curve: configurations searched at the peak (6 req/s), and
    the committed L4 base of the catalog (3-yr $0.3181 against $0.805 on-demand: cheaper even
    idle half the time) holds the 3 GPUs of the peak: 3 · 0.3181 · 730 = $696.64."""
    data = {
        "models": [
            {
                "name": "llama-3.1-8b",
                "rate_curve": {"rates_rps": [2, 6]},
                "traffic": {"histogram": [{"input_tokens": 512, "output_tokens": 128, "prob": 1}]},
            }
        ],
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
        "gpus": [{"name": "L4", "search": SEARCH_ONE}],
        "capacity": {"serving": {}},
    }
    tp = plan_over_time(validate_plan(data))
    fleet = tp.fleet_frame()
    assert fleet.gpus.max() == 3 and fleet.committed.tolist() == [3, 3]
    assert tp.usd_per_month == pytest.approx(3 * 0.3181 * H, abs=0.05)


def test_a_peak_no_cap_allows_is_infeasible_with_the_cap_to_raise(tmp_path):
    """The 30 req/s hour needs 3 replicas of 10 req/s; max_gpus 2 cannot hold it."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0, "max_gpus": 2}]
    tp = plan_over_time(validate_plan(_plan(tmp_path, [10, 30], gpus, ONE_GPU)))
    assert not tp.feasible and tp.proof.startswith("the peak cannot be served")
    (caps,) = [i for i in tp.issues if i.kind == "caps"]
    assert "carry at most 66.7% of the planned traffic" in caps.message  # 20 of 30 req/s
    assert caps.suggestion.startswith("raise max_gpus of L4 from 2 to 3")
