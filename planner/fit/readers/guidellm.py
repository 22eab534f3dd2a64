"""GuideLLM benchmarks reports, JSON or YAML (guidellm 0.3 to 0.7).

Keys are those GuideLLM writes, checked against guidellm v0.3.0/v0.4.0/@ee7a774 (0.7).
GuideLLM ``inter_token_latency_ms`` is per-request (last - first token) / (n - 1), i.e. TPOT,
and is read as ``tpot_*``. GuideLLM ``time_per_output_token_ms`` includes the first token and
has no capplan metric, so it is not read. ``request_latency`` is in seconds in every version.
"""

from __future__ import annotations

from pathlib import Path

from planner.fit.readers.common import (
    PCT,
    _dig,
    _Given,
    _labels,
    _need,
    _num,
    _Run,
    _scaled,
    _spread,
)
from planner.fit.records import MeasurementError

GUIDELLM = "a GuideLLM 0.3-0.7 benchmarks report"
GUIDELLM_RATES = {"requests_per_second": "request_s", "output_tokens_per_second": "output_tok_s"}
GUIDELLM_RATES |= {"tokens_per_second": "total_tok_s"}
GUIDELLM_TIMES = {
    "time_to_first_token_ms": ("ttft", 1e-3),
    "inter_token_latency_ms": ("tpot", 1e-3),
}
GUIDELLM_TIMES |= {"request_latency": ("e2e", 1.0)}  # seconds in every version
GUIDELLM_NEED = ("requests_per_second", "prompt_token_count", "output_token_count")


def _guidellm(path: Path, d: dict, given: _Given) -> list[_Run]:
    benches = d.get("benchmarks")
    if not isinstance(benches, list) or not benches:
        raise MeasurementError(f"{path}: the GuideLLM report has no benchmarks")
    model = _dig(d, "config", "spec", "backend", "model") or _dig(d, "args", "model")
    report = {"model": model} if model else {}
    report |= _labels(_dig(d, "config", "metadata", "labels") or {})
    version = _dig(d, "metadata", "guidellm_version")
    note = f"guidellm {version}" if version else "guidellm (0.3-0.4 report, no metadata)"
    return [_guidellm_run(path, i, b, report, note) for i, b in enumerate(benches)]


def _guidellm_run(path: Path, i: int, b: dict, report: dict, note: str) -> _Run:
    at = f"benchmarks[{i}]"
    strategy = _dig(b, "config", "strategy") or _dig(b, "args", "strategy")
    if not isinstance(strategy, dict):
        raise MeasurementError(
            f"{path}: {at}: key 'config.strategy' is missing; expected {GUIDELLM}"
        )
    m = b.get("metrics")
    _need(path, m, GUIDELLM_NEED, GUIDELLM, f"{at}.metrics: ")
    load, value, notes = _guidellm_load(path, at, strategy)
    n = _dig(m, "request_totals", "successful") or _dig(b, "request_totals", "successful")
    if not n:
        raise MeasurementError(f"{path}: {at}: no request succeeded")
    setup = dict(report, load=load, load_value=value, num_requests=int(n))
    prompt, output = _ok(m, "prompt_token_count"), _ok(m, "output_token_count")
    setup |= dict(input_tokens=_num(prompt.get("mean")), output_tokens=_num(output.get("mean")))
    setup |= dict(dataset=_spread(prompt, output))
    model = _dig(b, "config", "backend", "model") or _dig(b, "worker", "backend_model")
    setup |= {"model": model} if model else {}
    return _Run(setup, _guidellm_values(m, f"{at}.metrics."), [note, *notes])


def _ok(m: dict, key: str) -> dict:
    """The 'successful' status summary of one GuideLLM metric ({} if absent)."""
    return _dig(m, key, "successful") or {}


def _guidellm_load(path: Path, at: str, s: dict) -> tuple[str, float | None, list[str]]:
    kind = s.get("type_")
    if kind == "synchronous":
        return "concurrency", 1.0, ["synchronous: one request at a time"]
    if kind == "concurrent":
        _need(path, s, ("streams",), GUIDELLM, f"{at}.config.strategy: ")
        return "concurrency", float(s["streams"]), []
    cap = (
        [f"client concurrency capped at {s['max_concurrency']}"] if s.get("max_concurrency") else []
    )
    if kind == "throughput":
        return "offline", None, ["all requests queued (throughput strategy)", *cap]
    if kind in ("constant", "poisson"):
        _need(path, s, ("rate",), GUIDELLM, f"{at}.config.strategy: ")
        spaced = ["constant inter-arrival times"] if kind == "constant" else []
        return "rate", float(s["rate"]), spaced + cap
    raise MeasurementError(
        f"{path}: {at}: strategy {kind!r} has no fixed load; capplan reads synchronous, "
        "concurrent, throughput, constant and poisson benchmarks"
    )


def _guidellm_values(m: dict, at: str) -> list[tuple[str, float | None, str]]:
    out = [
        (name, _num(_dig(m, k, "successful", "mean")), f"{at}{k}.successful.mean")
        for k, name in GUIDELLM_RATES.items()
    ]
    for key, (name, scale) in GUIDELLM_TIMES.items():
        for stat, src in PCT:
            src = src if stat in ("mean", "p50") else f"percentiles.{src}"
            v = _scaled(_dig(m, key, "successful", *src.split(".")), scale)
            out.append((f"{name}_{stat}_s", v, f"{at}{key}.successful.{src}"))
    return out
