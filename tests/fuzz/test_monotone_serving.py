"""Monotonicity a planner must have, on the serving side (the GPU-mix MILP's own properties —
more rate never lowers its cost, removing a GPU type never lowers it, a looser table SLO
never raises it — are in tests/mix/test_properties.py and not repeated here):

- a higher arrival rate never lowers the mean wait of the closed forms in queueing/, nor the
  TTFT of planner.evaluate's serving model;
- a looser SLO never lowers max_rate_under_slo;
- a higher rate in a plan file never lowers the planned cost (planner.plan, exact solve).

Overload is inf, which compares as larger than any finite wait, as it should."""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from fuzz_support import PROPERTY
from hypothesis import given
from hypothesis import strategies as st

import queueing as q
from planner import SLO, Workload, evaluate, max_rate_under_slo, plan

RATES = st.tuples(st.floats(0.05, 5.0), st.floats(1.0, 3.0))  # (rate, factor > 1)


def _not_lower(low: float, high: float) -> bool:
    return high >= low * (1 - 1e-9) - 1e-12


SERVICES = st.one_of(
    st.floats(0.05, 2.0).map(q.Exponential),
    st.floats(0.05, 2.0).map(q.Deterministic),
    st.tuples(st.floats(0.3, 4.0), st.floats(0.05, 2.0)).map(lambda a: q.Gamma(*a)),
)


@PROPERTY
@given(SERVICES, RATES)
def test_mg1_mean_wait_never_falls_as_the_rate_rises(service, rates):
    lam, factor = rates
    assert _not_lower(q.MG1(lam, service).mean_wait, q.MG1(lam * factor, service).mean_wait)


@PROPERTY
@given(st.floats(0.1, 2.0), st.integers(1, 6), RATES)
def test_multiserver_mean_waits_never_fall_as_the_rate_rises(mean_s, servers, rates):
    lam, factor = rates
    models = (
        lambda r: q.MMc(r, 1 / mean_s, servers),
        lambda r: q.MDc(r, mean_s, servers),
        lambda r: q.MGc(r, q.Gamma(2.0, mean_s), servers),
    )
    for model in models:
        assert _not_lower(model(lam).mean_wait, model(lam * factor).mean_wait)


@PROPERTY
@given(st.floats(0.001, 0.05), st.floats(0.01, 0.2), st.integers(2, 32), RATES)
def test_batching_mean_waits_never_fall_as_the_rate_rises(alpha, tau, cap, rates):
    lam, factor = rates
    batch_time = q.linear_batch_time(alpha, tau)
    models = (
        lambda r: q.DynamicBatching(r * 4, batch_time, cap),
        lambda r: q.BaileyBulk(r * 4, q.Deterministic(tau + alpha * cap), cap),
        lambda r: q.ContinuousBatching(r, batch_time, 20, cap),
    )
    for model in models:
        assert _not_lower(float(model(lam).mean_wait), float(model(lam * factor).mean_wait))


MODEL, GPU = "qwen2.5-0.5b", "L4"
SIZES = st.tuples(st.integers(16, 8000), st.integers(1, 1000))


@PROPERTY
@given(SIZES, st.floats(0.01, 0.98), st.floats(1.01, 2.0))
def test_evaluate_ttft_never_falls_as_the_rate_rises(size, load, factor):
    """At load ρ and ρ·factor of the replica's capacity (overloaded when ≥ 1)."""
    w = Workload.fixed(*size)
    cap = float(evaluate(MODEL, GPU, w, rate=1e-3).capacity)
    low = evaluate(MODEL, GPU, w, rate=load * cap)
    high = evaluate(MODEL, GPU, w, rate=load * factor * cap)
    assert _not_lower(low.ttft.mean, high.ttft.mean)
    assert _not_lower(low.e2e.mean, high.e2e.mean)


REASON = (
    "found by this suite, not fixed: (1) the closed forms draw every random quantity from one "
    "numpy stream, and how many waits are positive (one gamma draw each) depends on the load, "
    "so two rates read different random numbers for the later draws; (2) the continuous "
    "model's own-iteration prefill factor (prefill_sharing: E[t(K*)]/t(1) less half the "
    "batch-mates' per-prompt cost) falls with the rate where a prefill is weight-bound. A "
    "coupled sampler fixed (1) but not (2) and moved validated figures; max_rate_under_slo "
    "bisects on a statistic that can fall by < 0.5% over a step"
)


@pytest.mark.xfail(strict=True, reason=REASON)
def test_evaluate_p99_ttft_never_falls_as_the_rate_rises():
    w = Workload.fixed(16, 46)
    cap = float(evaluate(MODEL, GPU, w, rate=1e-3).capacity)
    low = evaluate(MODEL, GPU, w, rate=0.5 * cap)
    high = evaluate(MODEL, GPU, w, rate=0.5 * 1.0625 * cap)
    assert high.ttft.p99 >= low.ttft.p99


WORKLOADS = {
    "fixed-short": Workload.fixed(16, 46),
    "fixed-long": Workload.fixed(2000, 300),
    "chat": Workload.bundled("chat"),
}


@pytest.mark.xfail(strict=True, reason=REASON)
@PROPERTY
@given(
    st.sampled_from(sorted(WORKLOADS)),
    st.sampled_from(["p50", "p90", "p99", "mean"]),
    st.floats(0.02, 0.95),
    st.floats(1.005, 1.5),
)
def test_evaluate_percentiles_never_fall_as_the_rate_rises(name, stat, load, factor):
    """Mean, p50, p90 and p99 of TTFT, TPOT and E2E at load ρ and ρ·factor."""
    w = WORKLOADS[name]
    cap = float(evaluate(MODEL, GPU, w, rate=1e-3).capacity)
    low = evaluate(MODEL, GPU, w, rate=load * cap)
    high = evaluate(MODEL, GPU, w, rate=load * factor * cap)
    for metric in ("ttft", "tpot", "e2e"):
        a, b = getattr(getattr(low, metric), stat), getattr(getattr(high, metric), stat)
        assert _not_lower(a, b), (metric, stat, a, b)


@PROPERTY
@given(SIZES, st.floats(0.005, 0.2), st.floats(1.0, 4.0), st.sampled_from([0.5, 0.9, None]))
def test_a_looser_slo_never_lowers_the_max_rate(size, tpot, looser, percentile):
    w = Workload.fixed(*size)
    tight = SLO(tpot_s=tpot, ttft_s=20 * tpot, percentile=percentile)
    loose = SLO(tpot_s=tpot * looser, ttft_s=20 * tpot * looser, percentile=percentile)
    a = max_rate_under_slo(MODEL, GPU, w, tight)
    b = max_rate_under_slo(MODEL, GPU, w, loose)
    # the search finds the rate to within tol = 1e-3 of the capacity (its docstring)
    assert b.rate >= a.rate - 4e-3 * a.capacity


TABLE = """gpu,input_tokens,output_tokens,max_rate_rps
A10G,512,128,2.0
A10G,2048,256,0.5
L4,512,128,1.0
L4,2048,256,0.25
H100-SXM,512,128,10.0
H100-SXM,2048,256,3.0
"""
PLAN = {
    "models": [
        {
            "name": "m",
            "rate_rps": 1.0,
            "traffic": {
                "histogram": [
                    {"input_tokens": 512, "output_tokens": 128, "prob": 0.5},
                    {"input_tokens": 2048, "output_tokens": 256, "prob": 0.5},
                ]
            },
        }
    ],
    "gpus": [{"name": "A10G"}, {"name": "L4"}, {"name": "H100-SXM"}],
    "capacity": {"table": "table.csv"},
    "mip_gap": 0.0,
    "compare_single_type": False,
}


def _plan_cost(tmp: str, rate: float, prob: float, headroom: float) -> float:
    data = copy.deepcopy(PLAN)
    data["models"][0]["rate_rps"] = rate
    data["models"][0]["traffic"]["histogram"][0]["prob"] = prob
    data["models"][0]["traffic"]["histogram"][1]["prob"] = 1 - prob
    data["headroom"] = headroom
    path = Path(tmp) / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    alloc = plan(path)
    return alloc.usd_per_hour if alloc.feasible else math.inf


@PROPERTY
@given(st.floats(0.1, 50), st.floats(1.0, 3.0), st.floats(0.0, 1.0), st.floats(0.0, 0.5))
def test_a_higher_rate_in_a_plan_file_never_lowers_the_planned_cost(rate, factor, prob, room):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "table.csv").write_text(TABLE)
        assert _plan_cost(tmp, rate * factor, prob, room) >= _plan_cost(tmp, rate, prob, room)


def test_plan_cost_of_one_bucket_on_its_cheapest_gpu_matches_a_hand_count():
    """All 512/128 requests at 4 req/s: L4 (1 req/s, $0.805/h list price) needs 4 replicas =
    $3.22/h; A10G (2 req/s) needs 2 and H100 (10 req/s) 1: the cheapest of the three wins."""
    import hardware_specs

    price = {g: hardware_specs.get(g).price.usd_per_hour for g in ("A10G", "L4", "H100-SXM")}
    by_hand = min(4 * price["L4"], 2 * price["A10G"], 1 * price["H100-SXM"])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "table.csv").write_text(TABLE)
        assert math.isclose(_plan_cost(tmp, 4.0, 1.0, 0.0), by_hand, rel_tol=1e-9)
