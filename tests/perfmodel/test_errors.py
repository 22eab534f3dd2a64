"""Bad input gives one clear line naming the field and a fix, never NaN or a deep traceback."""

import json

import numpy as np
import pytest

import perfmodel as pm
from perfmodel import ModelSpec, Parallelism, PerfModelError, Quant, estimate_grid, estimate_step


def test_unknown_model_lists_closest_names():
    with pytest.raises(pm.UnknownNameError, match="closest: llama-2-7b"):
        pm.get_model("llama-2-7bb")


def test_model_names_accept_hub_style_spellings():
    assert pm.get_model("meta-llama/Llama-2-7b-hf").name == "llama-2-7b"
    assert pm.get_model("Qwen2.5-7B-Instruct").name == "qwen2.5-7b"


def test_config_missing_a_required_field_names_it(tmp_path, tiny_dense):
    cfg = tiny_dense()
    del cfg["num_attention_heads"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(
        PerfModelError, match=r"config.json: missing required field .*num_attention_heads"
    ):
        ModelSpec.from_hf_config(path)


def test_config_with_a_negative_size_names_the_field(tiny_dense):
    with pytest.raises(PerfModelError, match="'hidden_size' must be > 0"):
        ModelSpec.from_hf_config(tiny_dense(hidden_size=-64))


def test_tp_that_does_not_divide_the_heads_lists_valid_sizes():
    with pytest.raises(
        PerfModelError, match=r"tp=3 does not divide .* 32 attention heads; valid tp: 1, 2, 4, 8"
    ):
        estimate_step("llama-2-7b", "a100", [(1, 10)], Parallelism(tp=3))


@pytest.mark.parametrize("batch", [[(0, 10)], [(1, -5)], [], [(float("nan"), 3)]])
def test_zero_negative_empty_or_nan_sizes_are_rejected(batch):
    with pytest.raises(PerfModelError):
        estimate_step("llama-2-7b", "a100", batch)


def test_zero_batch_in_the_grid_is_rejected():
    with pytest.raises(PerfModelError, match="batch must be > 0"):
        estimate_grid("llama-2-7b", "a100", np.array([0, 1]), 100)


def test_unknown_dtype_lists_closest():
    with pytest.raises(pm.UnknownNameError, match=r"unknown quant.weights 'bf61'"):
        Quant(weights="bf61")


def test_unknown_hardware_lists_closest():
    with pytest.raises(ValueError, match="closest: H100"):
        estimate_step("llama-2-7b", "h1000", [(1, 10)])


def test_parallelism_sizes_must_be_positive_integers():
    with pytest.raises(PerfModelError, match=r"parallelism.pp must be an integer >= 1"):
        Parallelism(pp=0)


def test_expert_parallelism_on_a_dense_model_is_rejected():
    with pytest.raises(PerfModelError, match="ep=2 needs a MoE model"):
        estimate_step("llama-2-7b", "h100", [(1, 10)], Parallelism(tp=2, ep=2))


def test_estimates_are_finite_over_a_wide_grid():
    grid = estimate_grid(
        "deepseek-v3",
        "h200",
        np.array([1, 7, 256]),
        np.array([0, 1, 100_000]),
        parallelism=Parallelism(tp=8),
        calibration="default",
    )
    assert np.all(np.isfinite(grid.time_s)) and np.all(grid.time_s > 0)
