"""Every bundled example plan loads and has a feasible plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.mix import plan

EXAMPLES = Path(__file__).parents[2] / "examples"
YAML = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".yml"))
PLANS = [*YAML, EXAMPLES / "melange_toy.json"]


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.name)
def test_example_plan_is_feasible(path):
    alloc = plan(path)
    assert alloc.feasible, alloc.summary()
    assert alloc.usd_per_hour > 0 and alloc.routes


def test_examples_cover_the_issue_scenarios():
    names = {p.stem for p in PLANS}
    assert {"chat_multi_gpu", "mixed_context", "two_model_fleet", "melange_toy"} <= names
