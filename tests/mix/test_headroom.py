"""Stated headroom: per-pool utilization targets and N+1 spares, each priced in the report by
the plan solved without it (hand-counted replicas)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.mix import PlanSpecError, plan, plan_over_time, validate_plan

TABLE = (
    "gpu,input_tokens,output_tokens,max_rate_rps\n"
    "L4,512,128,10\n"
    "L4,4096,256,0\n"
    "H100-SXM,512,128,0\n"
    "H100-SXM,4096,256,20\n"
)


def _plan(tmp_path: Path, buckets, rate: float, gpus, **extra) -> dict:
    (tmp_path / "cap.csv").write_text(TABLE)
    hist = [{"input_tokens": i, "output_tokens": o, "prob": p} for i, o, p in buckets]
    return {
        "models": [{"name": "m", "rate_rps": rate, "traffic": {"histogram": hist}}],
        "gpus": gpus,
        "capacity": {"table": "cap.csv"},
        "base_dir": str(tmp_path),
        **extra,
    }


ONE_BUCKET = [(512, 128, 1.0)]


@pytest.mark.parametrize(
    ("target", "spare", "replicas"),
    [
        (None, None, 4),  # ⌈35 / 10⌉
        (0.7, None, 5),  # ⌈35 / (0.7 · 10)⌉
        (None, True, 5),  # 4 + 1 spare
        (0.7, True, 6),  # 5 + 1 spare
    ],
)
def test_targets_and_spares_by_hand(tmp_path, target, spare, replicas):
    gpu = {"name": "L4", "usd_per_hour": 1.0}
    gpu |= {} if target is None else {"utilization_target": target}
    gpu |= {} if spare is None else {"n_plus_one": spare}
    alloc = plan(validate_plan(_plan(tmp_path, ONE_BUCKET, 35.0, [gpu])))
    assert alloc.total_gpus == replicas and alloc.usd_per_hour == pytest.approx(replicas)


def test_each_kind_of_headroom_is_priced_by_hand(tmp_path):
    """42 req/s planned (35 x 1.2), 70% target and a spare: ⌈42/7⌉ + 1 = 7 replicas. Without
    the rate headroom ⌈35/7⌉ + 1 = 6, without the target ⌈42/10⌉ + 1 = 6, without the spare
    ⌈42/7⌉ = 6: each adds $1/h."""
    gpu = {"name": "L4", "usd_per_hour": 1.0, "utilization_target": 0.7, "n_plus_one": True}
    alloc = plan(validate_plan(_plan(tmp_path, ONE_BUCKET, 35.0, [gpu], headroom=0.2)))
    assert alloc.usd_per_hour == pytest.approx(7.0)
    added = {h.kind: h.usd_per_hour for h in alloc.headroom_costs}
    assert added == {
        "rate headroom": pytest.approx(1.0),
        "utilization targets": pytest.approx(1.0),
        "N+1 spares": pytest.approx(1.0),
    }
    settings = {h.kind: h.setting for h in alloc.headroom_costs}
    assert settings["utilization targets"] == "70%" and settings["rate headroom"] == "rate x 1.2"


def test_reported_utilization_stays_within_the_target(tmp_path):
    """35 req/s over 5 replicas of 10 req/s: 70% busy, the target."""
    gpu = {"name": "L4", "usd_per_hour": 1.0, "utilization_target": 0.7}
    alloc = plan(validate_plan(_plan(tmp_path, ONE_BUCKET, 35.0, [gpu])))
    (row,) = alloc.pools
    assert row.utilization == pytest.approx(0.7)


def test_every_serving_pool_gets_its_own_spare(tmp_path):
    """Small requests only on the L4 (15 req/s: 2 + 1), long ones only on the H100 (5 req/s:
    1 + 1); plan-wide n_plus_one."""
    gpus = [{"name": "L4", "usd_per_hour": 1.0}, {"name": "H100-SXM", "usd_per_hour": 3.0}]
    buckets = [(512, 128, 0.75), (4096, 256, 0.25)]
    alloc = plan(validate_plan(_plan(tmp_path, buckets, 20.0, gpus, n_plus_one=True)))
    assert alloc.gpus_by_type == {"L4": 3, "H100-SXM": 2}
    assert alloc.usd_per_hour == pytest.approx(3 * 1.0 + 2 * 3.0)


def test_a_curve_plan_keeps_a_spare_in_every_period(tmp_path):
    """Rates [10, 30] on 10 req/s replicas with a spare: 2 and 4 GPUs."""
    data = _plan(
        tmp_path, ONE_BUCKET, 1.0, [{"name": "L4", "usd_per_hour": 1.0, "n_plus_one": True}]
    )
    del data["models"][0]["rate_rps"]
    data["models"][0]["rate_curve"] = {"rates_rps": [10, 30]}
    tp = plan_over_time(validate_plan(data))
    assert tp.fleet_frame().gpus.tolist() == [2, 4]


@pytest.mark.parametrize("value", [70, 1.5, 0, -0.2])
def test_a_target_outside_0_1_is_refused_with_the_fix(tmp_path, value):
    gpu = {"name": "L4", "usd_per_hour": 1.0, "utilization_target": value}
    with pytest.raises(PlanSpecError, match="utilization_target") as err:
        validate_plan(_plan(tmp_path, ONE_BUCKET, 35.0, [gpu]))
    if value > 1:
        assert "fraction in (0, 1]" in str(err.value)
