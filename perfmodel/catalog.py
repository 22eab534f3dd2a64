"""The bundled model catalog: Hugging Face config.json files under perfmodel/configs/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from hardware_specs.yaml_strict import DuplicateKeyError, load_yaml

from .errors import PerfModelError, unknown
from .model import ModelSpec

CONFIG_DIR = Path(__file__).parent / "configs"


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-").split("/")[-1]


def list_models() -> list[str]:
    """Names of the bundled models (file stems of perfmodel/configs/*.json)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


@cache
def published() -> dict[str, dict]:
    """Published parameter counts and sources of the bundled configs (configs/published.yaml)."""
    path = CONFIG_DIR / "published.yaml"
    try:
        return load_yaml(path.read_text(encoding="utf-8")) if path.exists() else {}
    except DuplicateKeyError as exc:
        raise PerfModelError(f"{path}: {exc}") from None


@cache
def get_model(name: str) -> ModelSpec:
    """A bundled model by name (case-insensitive; 'meta-llama/Llama-2-7b-hf' style names and
    '-hf'/'-instruct' suffixes accepted), or a path to a config.json."""
    if Path(name).suffix == ".json" and Path(name).is_file():
        return ModelSpec.from_hf_config(name)
    names = {n.lower(): n for n in list_models()}
    key = _key(name)
    for candidate in (
        key,
        key.removesuffix("-hf"),
        key.removesuffix("-instruct"),
        key.replace("meta-", ""),
    ):
        if candidate in names:
            return ModelSpec.from_hf_config(CONFIG_DIR / f"{names[candidate]}.json")
    raise unknown("model", name, list_models())


def _attention_kind(m: ModelSpec) -> str:
    if m.mla:
        return "MLA"
    return "MHA" if m.num_kv_heads == m.num_heads else ("MQA" if m.num_kv_heads == 1 else "GQA")


def model_catalog() -> pd.DataFrame:
    """One row per bundled model: architecture, shapes and parameter counts."""
    rows = []
    for name in list_models():
        m = get_model(name)
        pc = m.param_count()
        rows.append(
            {
                "model": name,
                "type": m.model_type,
                "layers": m.num_layers,
                "hidden": m.hidden_size,
                "heads": m.num_heads,
                "kv_heads": m.num_kv_heads,
                "attention": _attention_kind(m),
                "experts": f"{m.moe.top_k}/{m.moe.num_experts}" if m.moe else "",
                "params_b": pc.total / 1e9,
                "active_b": pc.active / 1e9,
                "vocab": m.vocab_size,
                "max_context": m.max_position_embeddings,
            }
        )
    return pd.DataFrame(rows)
