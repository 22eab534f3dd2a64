"""Tiny hand-checkable model configs (HF config.json dicts) shared by the perfmodel tests."""

import pytest

import hardware_specs


def _tiny_dense(**over) -> dict:
    """1-layer Llama-style MHA: d=64, 4 heads of 16, SwiGLU width 128, vocab 100, fp16."""
    cfg = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "intermediate_size": 128,
        "vocab_size": 100,
        "torch_dtype": "float16",
        "tie_word_embeddings": False,
    }
    return cfg | over


@pytest.fixture
def a100():
    return hardware_specs.get("A100-SXM4-80GB")


@pytest.fixture
def h100():
    return hardware_specs.get("H100-SXM")


@pytest.fixture
def tiny_dense():
    """Factory of tiny config dicts: tiny_dense(**overrides)."""
    return _tiny_dense
