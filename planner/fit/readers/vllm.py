"""vLLM benchmark results: ``vllm bench serve`` and ``vllm bench throughput``.

Keys are those vLLM writes, checked against vllm benchmarks/serve.py @def9ce8 (``vllm bench
serve --save-result`` / benchmark_serving.py JSON, vLLM 0.4+; one object, or one per line with
--append-result) and throughput.py @1a91bc2 (``vllm bench throughput --output-json`` /
benchmark_throughput.py). TTFT, TPOT, ITL and end-to-end latency are read from ms.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from planner.fit.readers.common import PCT, _float, _Given, _labels, _need, _num, _Run
from planner.fit.records import METRICS, MeasurementError

VLLM_SERVE = "the result JSON of `vllm bench serve --save-result` (vLLM 0.4+)"
VLLM_THROUGHPUT = "the JSON of `vllm bench throughput --output-json`"
VLLM_RATES = {"request_throughput": "request_s", "output_throughput": "output_tok_s"}
VLLM_RATES |= {"total_token_throughput": "total_tok_s"}
VLLM_LATENCIES = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2e"}
BACKEND_ENGINES = {"vllm": "vllm", "sglang": "sglang", "tensorrt-llm": "trtllm"}


def _vllm_serve(path: Path, data: Any, given: _Given) -> list[_Run]:
    objs = data if isinstance(data, list) else [data]
    many = len(objs) > 1
    return [_vllm_run(path, d, f"line {i + 1}: " if many else "") for i, d in enumerate(objs)]


def _vllm_run(path: Path, d: dict, at: str) -> _Run:
    keys = ("completed", "total_input_tokens", "total_output_tokens", "request_rate")
    _need(path, d, keys, VLLM_SERVE, at)
    n = int(d["completed"])
    if n < 1:
        raise MeasurementError(f"{path}: {at}no request completed (completed = {n})")
    load, value, notes = _vllm_load(path, d, at)
    setup = dict(model=d.get("model_id"), engine=BACKEND_ENGINES.get(str(d.get("backend"))))
    dataset, why = _vllm_dataset(d, n)
    setup |= dict(load=load, load_value=value, num_requests=n, dataset=dataset)
    setup |= dict(
        input_tokens=d["total_input_tokens"] / n, output_tokens=d["total_output_tokens"] / n
    )
    setup |= _labels(d)
    values = [(m, _num(d.get(k)), at + k) for k, m in VLLM_RATES.items()]
    notes += why + ([f"{d['failed']} requests failed"] if d.get("failed") else [])
    return _Run(setup, values + _vllm_latencies(d, at), ["vllm bench serve", *notes, *_dated(d)])


def _vllm_load(path: Path, d: dict, at: str) -> tuple[str, float | None, list[str]]:
    if d.get("ramp_up_strategy"):
        raise MeasurementError(
            f"{path}: {at}a ramp-up run ({d['ramp_up_strategy']}) has no single request rate; "
            "capplan reads fixed-rate, fixed-concurrency and offline runs"
        )
    rate, cap = _float(path, d["request_rate"], f"{at}request_rate"), d.get("max_concurrency")
    if math.isfinite(rate):
        notes = [f"client concurrency capped at {cap}"] if cap else []
        burst = d.get("burstiness", 1.0)
        notes += [f"gamma inter-arrival times, burstiness {burst}"] if burst != 1.0 else []
        return "rate", rate, notes
    if cap:
        return "concurrency", float(cap), []
    return "offline", None, ["all requests sent at t=0"]


def _vllm_latencies(d: dict, at: str) -> list[tuple[str, float, str]]:
    out, seen = [], set()
    for key, name in VLLM_LATENCIES.items():
        for stat, prefix in (*PCT, ("p50", "p50")):
            metric, src = f"{name}_{stat}_s", f"{prefix}_{key}_ms"
            if metric in METRICS and metric not in seen and _num(d.get(src)) is not None:
                out.append((metric, d[src] / 1000, at + src))
                seen.add(metric)
    return out


def _vllm_dataset(d: dict, n: int) -> tuple[str, list[str]]:
    """'varied' if a mean length is fractional (proof); 'fixed' if both are whole over 10+
    requests (all but certain: vLLM's random dataset); else 'unknown'. --dataset overrides."""
    if any(d[k] % n for k in ("total_input_tokens", "total_output_tokens")):
        return "varied", []
    if n >= 10:
        return "fixed", [f"lengths taken as fixed: whole-number means over {n} requests"]
    return "unknown", []


def _dated(d: dict) -> list[str]:
    return [f"run {d['date']}"] if d.get("date") else []


def _vllm_throughput(path: Path, d: dict, given: _Given) -> list[_Run]:
    keys = ("elapsed_time", "num_requests", "total_num_tokens")
    _need(path, d, (*keys, "requests_per_second", "tokens_per_second"), VLLM_THROUGHPUT)
    n = int(d["num_requests"])
    inp, out = _split_lengths(path, d["total_num_tokens"] / n, given)
    setup = dict(engine="vllm", load="offline", num_requests=n, dataset="unknown")
    setup |= dict(input_tokens=inp, output_tokens=out)
    values = [("request_s", _num(d["requests_per_second"]), "requests_per_second")]
    values += [("total_tok_s", _num(d["tokens_per_second"]), "tokens_per_second")]
    values += [("output_tok_s", n * out / d["elapsed_time"], "num_requests*output/elapsed_time")]
    notes = ["vllm bench throughput", "prompt/output split of total_num_tokens given"]
    return [_Run(setup, values, notes)]


def _split_lengths(path: Path, per: float, given: _Given) -> tuple[float, float]:
    inp, out = given.input_tokens, given.output_tokens
    if inp is None and out is None:
        raise MeasurementError(
            f"{path}: the file records {per:g} tokens per request (prompt + output), not the "
            "split; pass --input-tokens or --output-tokens"
        )
    inp = per - out if inp is None else inp
    out = per - inp if out is None else out
    if inp <= 0 or out < 1 or abs(inp + out - per) > 0.01 * per:
        raise MeasurementError(
            f"{path}: input {inp:g} + output {out:g} tokens do not match the file's "
            f"{per:g} tokens per request (total_num_tokens / num_requests)"
        )
    return inp, out
