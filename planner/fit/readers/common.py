"""What the format readers of planner.fit.readers share.

Format detection (``detect``, told by content), the caller's and the file's view of a run
(``_Given``, ``_Run``), assembly of Measurement rows with completion and requirement checks,
mapping of published names to capplan's model, hardware, engine and quant names, and small
numeric and dict helpers. ``FORMATS`` lists what can be read.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

import hardware_specs
import perfmodel
from perfmodel.errors import closest
from planner.fit.records import Measurement, MeasurementError

FORMATS = {
    "vllm-serve": "vLLM `vllm bench serve --save-result` / benchmark_serving.py JSON "
    "(vLLM 0.4+; one object, or one per line with --append-result)",
    "vllm-throughput": "vLLM `vllm bench throughput --output-json` / benchmark_throughput.py",
    "guidellm": "GuideLLM benchmarks report, JSON or YAML (guidellm 0.3 to 0.7)",
    "genai-perf": "genai-perf profile_export_genai_perf.json or AIPerf profile_export_aiperf.json",
    "genai-perf-csv": "genai-perf / AIPerf profile_export_*.csv",
    "capplan-csv": "capplan measurement CSV (columns of planner.fit.records.COLUMNS)",
}
ENGINES = {"vllm": "vllm", "sglang": "sglang", "trtllm": "trtllm", "tensorrt-llm": "trtllm"}
ENGINES |= {"tensorrtllm": "trtllm", "trt-llm": "trtllm"}
QUANTS = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16"}
QUANTS |= {"fp8": "fp8", "int8": "int8", "w8a8": "int8", "int4": "int4", "w4a16": "int4"}
QUANTS |= {"awq": "int4", "gptq": "int4", "quantized.w4a16": "int4", "quantized.w8a8": "int8"}
DROP_TOKENS = {"instruct", "chat", "hf", "it", "base", "dynamic"}
MISSING = {
    "engine": ("the serving engine", "--engine (vllm, sglang or trtllm)"),
    "model": ("the model", "--model (capplan models list)"),
    "hardware": ("the GPU", "--hardware (capplan hardware list)"),
    "load": ("the load (concurrency or request rate)", "--concurrency N or --request-rate R"),
    "input_tokens": ("the mean prompt length", "--input-tokens"),
    "output_tokens": ("the mean output length", "--output-tokens"),
}
SETUP = ("engine", "engine_version", "model", "hardware", "tp", "quant", "dataset")
LABELS = {  # setup field: keys naming it in vLLM --metadata or GuideLLM --label pairs
    "engine": ("engine",),
    "engine_version": ("engine_version", "vllm_version"),
    "hardware": ("hardware", "gpu", "accelerator"),
    "tp": ("tp", "tensor_parallel_size"),
    "quant": ("quant", "quantization"),
    "dataset": ("dataset", "dataset_name"),
}
PCT = (("mean", "mean"), ("p50", "median"), ("p90", "p90"), ("p99", "p99"))


@dataclass(frozen=True)
class _Given:
    """What the caller says about the run (the CLI options of ``capplan fit``)."""

    engine: str | None = None
    engine_version: str | None = None
    model: str | None = None
    hardware: str | None = None
    tp: int | None = None
    quant: str | None = None
    source: str | None = None
    dataset: str | None = None
    concurrency: float | None = None
    request_rate: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None


@dataclass
class _Run:
    """One benchmark run as read: setup fields (None: not recorded) and (metric, SI, where)."""

    setup: dict[str, Any]
    values: list[tuple[str, float, str]]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- detection


def detect(path: Path) -> tuple[str, Any]:
    """(format key of FORMATS, parsed content) of a results file; MeasurementError if unknown."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MeasurementError(f"{path}: cannot read the file ({e.strerror})") from None
    except UnicodeDecodeError:
        text = ""
    data = _structured(text)
    kind = _json_kind(data) if data is not None else _csv_kind(text)
    if kind is None:
        accepted = "; ".join(FORMATS.values())
        raise MeasurementError(f"{path}: not a results file capplan can read; accepted: {accepted}")
    return kind, data if data is not None else text


def _structured(text: str) -> Any:
    """JSON, JSON lines (vLLM --append-result) or a GuideLLM YAML report; else None."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(line.lstrip().startswith("{") for line in lines):
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) and "benchmarks" in data else None


def _json_kind(data: Any) -> str | None:
    if isinstance(data, list):
        ok = data and all(isinstance(d, dict) and _json_kind(d) == "vllm-serve" for d in data)
        return "vllm-serve" if ok else None
    if not isinstance(data, dict):
        return None
    if "benchmarks" in data:
        return "guidellm"
    if "input_config" in data or isinstance(data.get("request_throughput"), dict):
        return "genai-perf"
    if "elapsed_time" in data and "tokens_per_second" in data:
        return "vllm-throughput"
    keys = ("completed", "model_id", "request_throughput", "mean_ttft_ms")
    return "vllm-serve" if any(k in data for k in keys) else None


def _csv_kind(text: str) -> str | None:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    cells = [c.strip() for c in next(csv.reader([lines[0]]))]
    if cells[0] == "Metric":
        return "genai-perf-csv"
    return "capplan-csv" if {"metric", "value"} <= set(cells) else None


# ---------------------------------------------------------------- common assembly


def _rows(path: Path, run: _Run, given: _Given) -> list[Measurement]:
    base = _complete(path, run.setup, given)
    base |= dict(source=given.source or path.name, notes="; ".join(run.notes))
    out = []
    for metric, value, where in run.values:
        if value is not None and math.isfinite(value) and value > 0:
            out.append(_measurement(path, base | dict(metric=metric, value=value, where=where)))
    return out


def _measurement(path: Path, data: dict) -> Measurement:
    try:
        return Measurement(**data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "row"
        raise MeasurementError(f"{path}, {data['where']}: {loc}: {err['msg']}") from None


def _complete(path: Path, found: dict, given: _Given) -> dict:
    """The run's setup: file values, keyword overrides, catalog names; errors for gaps."""
    s = dict(found)
    s |= {k: getattr(given, k) for k in SETUP if getattr(given, k) is not None}
    if s.get("load") is None:
        s |= _given_load(given)
    for k in ("input_tokens", "output_tokens"):
        s[k] = getattr(given, k) if s.get(k) is None else s[k]
    _require(path, s)
    s |= {k: str(s[k]) for k in ("engine_version", "dataset") if s.get(k) is not None}
    s["engine"] = _engine(path, s["engine"])
    s["model_as_published"] = str(s["model"])
    s["model"], named_quant = catalog_model(path, str(s["model"]))
    s["quant"] = _quant(path, s.get("quant") or named_quant or "bf16")
    s["hardware"] = _hardware(path, str(s["hardware"]))
    s["tp"] = _tp(path, s.get("tp"))
    return {k: v for k, v in s.items() if v is not None}


def _require(path: Path, setup: dict) -> None:
    """One error naming every required field the file and the options leave out."""
    gaps = [MISSING[k] for k in MISSING if setup.get(k) in (None, "")]
    if len(gaps) == 1:
        raise MeasurementError(
            f"{path}: {gaps[0][0]} is not recorded in the file; pass {gaps[0][1]}"
        )
    if gaps:
        listed = "; ".join(f"{what} (pass {option})" for what, option in gaps)
        raise MeasurementError(f"{path}: not recorded in the file: {listed}")


def _given_load(given: _Given) -> dict:
    if given.request_rate is not None:
        return {"load": "rate", "load_value": float(given.request_rate)}
    if given.concurrency is not None:
        return {"load": "concurrency", "load_value": float(given.concurrency)}
    return {}


def catalog_model(path: Path | str, name: str) -> tuple[str, str | None]:
    """(catalog name, quant named in the id or None) of a published model id or local path.

    Drops the organisation, then trailing -instruct/-chat/-hf/-v0.3/quant tokens one at a time
    until the name is in the catalog ("meta-llama/Meta-Llama-3.1-8B-Instruct-FP8" -> llama-3.1-8b).
    """
    base = name.strip().replace("\\", "/").rstrip("/").split("/")[-1].lower()
    tokens = base.replace("_", "-").replace(" ", "-").split("-")
    models = {m.lower(): m for m in perfmodel.list_models()}
    quant = None
    while True:
        key = "-".join(tokens).removeprefix("meta-")
        if key in models:
            return models[key], quant
        if len(tokens) == 1 or not (_droppable(tokens[-1]) or tokens[-1] in QUANTS):
            break
        token = tokens.pop()
        quant = quant or QUANTS.get(token)
    near = ", ".join(closest(key, list(models.values())))
    raise MeasurementError(
        f"{path}: model {name!r} is not in capplan's model catalog; closest: {near}; "
        "pass --model NAME (capplan models list)"
    )


def _droppable(token: str) -> bool:
    return token in DROP_TOKENS or bool(re.fullmatch(r"v\d+(\.\d+)*|\d{4}", token))


def _engine(path: Path, name: str) -> str:
    key = str(name).strip().lower()
    if key in ENGINES:
        return ENGINES[key]
    raise MeasurementError(
        f"{path}: unknown engine {name!r}; capplan models vllm, sglang and trtllm; pass --engine"
    )


def _quant(path: Path, name: str) -> str:
    key = str(name).strip().lower()
    if key in QUANTS:
        return QUANTS[key]
    raise MeasurementError(f"{path}: unknown quant {name!r}; pass --quant bf16|fp16|fp8|int8|int4")


def _hardware(path: Path, name: str) -> str:
    err = None
    for candidate in (name, re.sub(r"^(nvidia|amd|google)[ _-]+", "", name, flags=re.I)):
        try:
            return hardware_specs.get(candidate).name
        except hardware_specs.UnknownHardwareError as e:
            err = e
    raise MeasurementError(f"{path}: {err}; pass --hardware NAME (capplan hardware list)")


def _tp(path: Path, value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except ValueError:
        raise MeasurementError(
            f"{path}: tensor parallel size {value!r} is not an integer"
        ) from None


def _need(path: Path, data: dict, keys: tuple[str, ...], expected: str, where: str = "") -> None:
    missing = [k for k in keys if not isinstance(data, dict) or data.get(k) is None]
    if missing:
        raise MeasurementError(f"{path}: {where}key {missing[0]!r} is missing; expected {expected}")


def _labels(pairs: dict) -> dict:
    """Setup fields from free-form key=value pairs (vLLM --metadata, GuideLLM --label)."""
    out = {}
    for name, keys in LABELS.items():
        hits = [pairs[k] for k in keys if pairs.get(k) not in (None, "")]
        if hits:
            out[name] = hits[0]
    return out


def _dig(data: Any, *keys: str) -> Any:
    for k in keys:
        data = data.get(k) if isinstance(data, dict) else None
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _scaled(value: Any, scale: float) -> float | None:
    v = _num(value)
    return None if v is None else v * scale


def _float(path: Path, value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MeasurementError(f"{path}: {where} is {value!r}, not a number") from None


def _spread(*stats: dict | None) -> str:
    """'fixed' if every length stat has zero spread, 'varied' if one has some, else 'unknown'."""
    fixed = []
    for s in stats:
        s = s or {}
        std = s.get("std", s.get("std_dev"))
        if std is not None:
            fixed.append(std == 0)
        elif s.get("min") is not None and s.get("max") is not None:
            fixed.append(s["min"] == s["max"])
    if len(fixed) < len(stats):
        return "unknown"
    return "fixed" if all(fixed) else "varied"
