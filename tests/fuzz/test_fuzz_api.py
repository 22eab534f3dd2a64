"""Fuzz of the public API: perfmodel's estimates, planner.evaluate / max_rate_under_slo and
hardware_specs loading an accelerator YAML. Any argument gives a finite, non-negative answer
(overload is an explicit inf with ``overloaded``), or one of the project's errors."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import yaml
from fuzz_support import FUZZ, PROPERTY, YAML_SCALARS, finite_nonneg, nonneg_or_inf, outcome
from hypothesis import given
from hypothesis import strategies as st

import hardware_specs
import perfmodel as pm
from hardware_specs.errors import HardwareSpecError
from planner import SLO, Workload, evaluate, max_rate_under_slo
from planner.serving.errors import ServingInputError

MODEL, GPU = "qwen2.5-0.5b", "L4"  # 32,768-token context, fits one L4 with room for KV
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["12", "", None, True, [], [1, 2]]),
)
TOKENS = st.integers(1, 40_000)


@FUZZ
@given(st.lists(st.tuples(NUMBERS, NUMBERS), max_size=4) | NUMBERS)
def test_estimate_step_time_is_finite_positive_or_a_perfmodel_error(batch):
    est, err = outcome(pm.estimate_step, MODEL, GPU, batch)
    if err is None:
        assert math.isfinite(est.time_s) and est.time_s > 0
        assert (est.ops["time_s"] >= 0).all() and np.isfinite(est.ops["time_s"]).all()
        finite_nonneg(est.flops, "flops")
        finite_nonneg(est.bytes, "bytes")


@FUZZ
@given(NUMBERS, st.one_of(st.just(1), NUMBERS))
def test_prefill_decode_and_max_batch_are_sensible_or_a_perfmodel_error(tokens, batch):
    for fn in (pm.prefill_time, pm.decode_time):
        t, err = outcome(fn, MODEL, GPU, tokens, batch=batch)
        if err is None:
            assert np.all(np.isfinite(t)) and np.all(np.asarray(t) > 0), (fn.__name__, t)
    b, err = outcome(pm.max_batch, MODEL, GPU, tokens)
    if err is None:
        assert isinstance(b, int) and b >= 0


def _check_report(rep) -> None:
    for metric in ("ttft", "tpot", "e2e"):
        for stat in ("mean", "p50", "p90", "p99"):
            nonneg_or_inf(getattr(rep, metric).get(stat), f"{metric}.{stat}")
    finite_nonneg(float(rep.capacity), "capacity")
    if not rep.overloaded:
        assert math.isfinite(rep.ttft.mean)


@PROPERTY
@given(TOKENS, st.integers(1, 4000), NUMBERS | st.floats(1e-6, 1e3))
def test_evaluate_gives_a_report_without_nan_or_a_project_error(inp, out, rate):
    rep, err = outcome(evaluate, MODEL, GPU, Workload.fixed(inp, out), rate=rate)
    if err is None:
        _check_report(rep)
    elif not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
        assert isinstance(err, ServingInputError) and "rate" in str(err)


SLOS = st.builds(
    SLO,
    ttft_s=st.none() | st.floats(1e-4, 30),
    tpot_s=st.floats(1e-4, 1.0),
    percentile=st.sampled_from([0.5, 0.9, 0.99, None]),
)


@PROPERTY
@given(TOKENS, st.integers(1, 2000), SLOS)
def test_max_rate_under_slo_is_between_zero_and_capacity(inp, out, slo):
    mr, err = outcome(max_rate_under_slo, MODEL, GPU, Workload.fixed(inp, out), slo)
    if err is None:
        finite_nonneg(float(mr.rate), "max rate")
        finite_nonneg(float(mr.capacity), "capacity")
        assert mr.rate <= mr.capacity * (1 + 1e-9)
        assert mr.feasible == (mr.rate > 0)


# ---- hardware_specs: one accelerator YAML --------------------------------------------------
L4 = hardware_specs.get("L4").to_dict() | {"name": "L4-fuzz", "aliases": []}
L4_FIELDS = [k for k in L4 if k not in ("name",)]


@st.composite
def accelerator_yamls(draw):
    data = yaml.safe_load(yaml.safe_dump(L4, allow_unicode=True))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(L4_FIELDS))
        if isinstance(data.get(key), dict) and data[key] and draw(st.booleans()):
            sub = draw(st.sampled_from(sorted(data[key])))
            data[key][sub] = draw(YAML_SCALARS)
        elif draw(st.booleans()):
            data[key] = draw(YAML_SCALARS)
        else:
            data.pop(key, None)
    return yaml.safe_dump(data, allow_unicode=True)


@FUZZ
@given(accelerator_yamls() | st.text(max_size=60))
def test_accelerator_yaml_is_a_sensible_spec_or_a_hardware_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "acc.yaml"
        path.write_text(text, encoding="utf-8")
        acc, err = outcome(hardware_specs.load_file, path)
    if err is not None:
        assert isinstance(err, HardwareSpecError) and str(path) in str(err)
        return
    for value, what in ((acc.memory_gib, "memory_gib"), (acc.hbm_gb_s, "hbm_gb_s")):
        assert math.isfinite(value) and value > 0, what
    assert all(math.isfinite(v) and v > 0 for v in acc.peak_tflops.values())
    assert math.isfinite(acc.price.usd_per_hour) and acc.price.usd_per_hour >= 0


@FUZZ
@given(st.sampled_from(["memory_gib", "hbm_gb_s", "tdp_w", "vendor"]))
def test_accelerator_yaml_with_a_repeated_key_is_refused(key):
    text = yaml.safe_dump(L4) + yaml.safe_dump({key: L4.get(key, 1)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "acc.yaml"
        path.write_text(text)
        _, err = outcome(hardware_specs.load_file, path)
    assert isinstance(err, HardwareSpecError) and f"duplicate key {key!r}" in str(err)
