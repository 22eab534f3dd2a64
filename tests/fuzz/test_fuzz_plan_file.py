"""Fuzz of the plan-file loader and the planner behind it: a plan file built from a valid one
with a field replaced, removed or repeated, or plain garbage text, either loads and plans to a
finite, non-negative cost with whole GPU counts, or ends in PlanSpecError naming the file.
Never another exception, a NaN or a negative number."""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import yaml
from fuzz_support import FUZZ, PROPERTY, YAML_SCALARS, finite_nonneg, outcome
from hypothesis import given
from hypothesis import strategies as st

from planner import plan
from planner.mix import PlanSpecError, load_plan
from planner.mix.plan_file import validate_plan

TABLE = """gpu,input_tokens,output_tokens,tpot_s,max_rate_rps
A10G,512,128,0.05,2.0
A10G,2048,256,0.05,0.5
L4,512,128,0.05,1.0
L4,2048,256,0.05,0.25
H100-SXM,512,128,0.05,10.0
H100-SXM,2048,256,0.05,3.0
"""

BASE = {
    "name": "fuzz",
    "models": [
        {
            "name": "llama-3.1-8b",
            "rate_rps": 10,
            "traffic": {
                "histogram": [
                    {"input_tokens": 512, "output_tokens": 128, "prob": 0.75},
                    {"input_tokens": 2048, "output_tokens": 256, "prob": 0.25},
                ]
            },
        }
    ],
    "slo": {"tpot_s": 0.05, "percentile": 0.9},
    "headroom": 0.1,
    "gpus": [{"name": "A10G", "max_gpus": 64}, {"name": "L4"}, {"name": "H100-SXM"}],
    "capacity": {"table": "table.csv"},
}


def _paths(node, prefix=()):
    """Every (path, value) of a nested dict/list."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p, _ in _paths(BASE) if p]


def _set(data, path, value, delete=False):
    node = data
    for part in path[:-1]:
        node = node[part]
    if delete:
        if isinstance(node, dict):
            node.pop(path[-1])
        else:
            node.pop(path[-1])
    else:
        node[path[-1]] = value


@st.composite
def mutated_plans(draw):
    """BASE with 1-3 fields replaced by a corrupted scalar, deleted, or left as they are."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        try:
            if draw(st.booleans()):
                _set(data, path, draw(YAML_SCALARS))
            else:
                _set(data, path, None, delete=True)
        except (KeyError, IndexError, TypeError):  # an earlier mutation removed its parent
            pass
    return data


def _check_allocation(alloc) -> None:
    if not alloc.feasible:
        assert alloc.issues, "an infeasible plan says why"
        return
    finite_nonneg(alloc.usd_per_hour, "usd_per_hour")
    for pool in alloc.pools:
        assert isinstance(pool.replicas, int) and pool.replicas >= 0
        finite_nonneg(pool.usd_per_hour, f"{pool.pool} usd_per_hour")
        assert 0 <= pool.utilization <= 1 + 1e-9
    assert all(isinstance(n, int) and n >= 0 for n in alloc.gpus_by_type.values())


def _load_and_plan(text: str, suffix: str = ".yaml"):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "table.csv").write_text(TABLE)
        path = Path(tmp) / f"plan{suffix}"
        path.write_text(text, encoding="utf-8")
        spec, err = outcome(load_plan, path)
        if err is not None:
            assert isinstance(err, PlanSpecError) and str(path) in str(err)
            return None
        alloc, err = outcome(plan, spec)
        if err is None:
            _check_allocation(alloc)
        return spec


@PROPERTY
@given(mutated_plans())
def test_corrupted_plan_file_loads_and_plans_or_names_the_file(data):
    _load_and_plan(yaml.safe_dump(data, allow_unicode=True))


def test_unmutated_fuzz_plan_plans_to_a_finite_cost():
    """The base of the fuzz is itself a valid plan: 10 req/s with 10% headroom on the table
    above; the mutations start from a plan that works."""
    assert _load_and_plan(yaml.safe_dump(BASE)) is not None


@FUZZ
@given(st.text(max_size=200))
def test_any_text_as_a_plan_file_is_a_plan_or_a_plan_error(text):
    for suffix in (".yaml", ".json"):
        _load_and_plan(text, suffix)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), YAML_SCALARS | st.lists(YAML_SCALARS), max_size=6))
def test_any_mapping_validates_or_gives_one_plan_error(data):
    spec, err = outcome(validate_plan, data, "fuzz.yaml")
    assert spec is None and isinstance(err, PlanSpecError)  # no required field drawn
    assert str(err).startswith("fuzz.yaml: invalid plan")


@FUZZ
@given(st.sampled_from(["name", "headroom", "slo", "gpus", "capacity"]), YAML_SCALARS)
def test_a_repeated_top_level_key_is_refused_naming_the_key(key, value):
    text = yaml.safe_dump(BASE) + yaml.safe_dump({key: value})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(text)
        _, err = outcome(load_plan, path)
    assert isinstance(err, PlanSpecError)
    assert f"duplicate key {key!r}" in str(err)


@FUZZ
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30))
def test_rate_is_finite_and_positive_or_refused(rate):
    data = copy.deepcopy(BASE)
    data["models"][0]["rate_rps"] = rate
    _, err = outcome(validate_plan, data)
    ok = math.isfinite(rate) and rate > 0
    assert (err is None) == ok
    if not ok:
        assert "models[0].rate_rps" in str(err)
