"""Parameter counts of every bundled model against the published figures
(perfmodel/configs/published.yaml gives each figure and where it was published)."""

import pytest

from perfmodel import get_model, list_models
from perfmodel.catalog import published

REQUIRED = [
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "mistral-7b",
    "mixtral-8x7b",
    "qwen2.5-0.5b",
    "qwen2.5-7b",
    "qwen2.5-72b",
    "qwen3-30b-a3b",
    "deepseek-v3",
]


def test_catalog_bundles_every_required_model():
    assert set(REQUIRED) <= set(list_models())


def tolerance(published_value: float, entry: dict, key: str) -> float:
    """1% of the figure, plus half a unit of its last digit when it is rounded ('3.3B' is only
    known to +-0.05B)."""
    return 0.01 * published_value + float(entry.get(f"{key}_rounding", 0.0)) / 2


@pytest.mark.parametrize("name", sorted(published()))
def test_total_params_match_published_within_1_percent(name):
    entry = published()[name]
    ours = get_model(name).param_count().total
    want = entry["total_params"]
    assert abs(ours - want) <= tolerance(want, entry, "total_params")


@pytest.mark.parametrize("name", sorted(published()))
def test_active_params_match_published_figure(name):
    entry = published()[name]
    pc = get_model(name).param_count()
    ours = pc.active
    if entry.get("active_excludes_embedding"):
        ours -= pc.breakdown["embed"]
    want = entry["active_params"]
    assert abs(ours - want) <= tolerance(want, entry, "active_params")


def test_dense_model_active_equals_total():
    pc = get_model("llama-3.1-8b").param_count()
    assert pc.active == pc.total


def test_llama2_7b_exact_count_by_hand():
    # 32 layers x (4*4096^2 attention + 3*4096*11008 MLP + 2*4096 norms)
    # + 2 * 32000*4096 (embed, untied lm_head) + 4096 final norm
    by_hand = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
    assert get_model("llama-2-7b").param_count().total == by_hand == 6_738_415_616


def test_tied_embeddings_are_counted_once():
    pc = get_model("qwen2.5-0.5b").param_count()
    assert pc.breakdown["lm_head"] == 0
