"""Result files of common serving benchmarks as Measurement rows (one per run and metric).

``read_results(path, ...)`` detects the format from the content and returns SI-unit rows.
Keys are those the tools write (checked against vllm benchmarks/serve.py @def9ce8 and
throughput.py @1a91bc2, guidellm v0.3.0/v0.4.0/@ee7a774 (0.7), genai-perf @263c5f6, aiperf
@db4f639; see ``FORMATS``). Keyword arguments describe what the file leaves out: setup fields
(engine, engine_version, model, hardware, tp, quant, dataset) override the file; load and
lengths (concurrency, request_rate, input_tokens, output_tokens) only fill what it lacks.
A capplan CSV is returned by ``records.read_csv`` as is (it carries every column).

Metric mapping: throughputs are per second of the run; TTFT, TPOT, ITL and end-to-end latency
are converted from ms (or the file's unit) to s. Inter-token latencies that are per-request
TPOT (genai-perf/AIPerf, GuideLLM) are read as ``tpot_*``; the notes of each format are in
its module: ``vllm``, ``guidellm``, ``genai_perf``. ``common`` holds detection, the setup
checks and the name mapping they share.
"""

from __future__ import annotations

from pathlib import Path

from planner.fit.readers.common import FORMATS, _Given, _rows, catalog_model, detect
from planner.fit.readers.genai_perf import _genai_perf, _genai_perf_csv, parse_perf_csv
from planner.fit.readers.guidellm import _guidellm
from planner.fit.readers.vllm import _vllm_serve, _vllm_throughput
from planner.fit.records import Measurement, MeasurementError, read_csv

__all__ = ["FORMATS", "READERS", "catalog_model", "detect", "parse_perf_csv", "read_results"]

READERS = {
    "vllm-serve": _vllm_serve,
    "vllm-throughput": _vllm_throughput,
    "guidellm": _guidellm,
    "genai-perf": _genai_perf,
    "genai-perf-csv": _genai_perf_csv,
}


def read_results(
    path: str | Path,
    *,
    engine: str | None = None,
    engine_version: str | None = None,
    model: str | None = None,
    hardware: str | None = None,
    tp: int | None = None,
    quant: str | None = None,
    source: str | None = None,
    dataset: str | None = None,
    concurrency: float | None = None,
    request_rate: float | None = None,
    input_tokens: float | None = None,
    output_tokens: float | None = None,
) -> list[Measurement]:
    """Measurement rows of one benchmark results file (any of ``FORMATS``, told by content)."""
    path = Path(path)
    given = _Given(
        engine=engine,
        engine_version=engine_version,
        model=model,
        hardware=hardware,
        tp=tp,
        quant=quant,
        source=source,
        dataset=dataset,
        concurrency=concurrency,
        request_rate=request_rate,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    kind, data = detect(path)
    if kind == "capplan-csv":
        return read_csv(path)
    runs = READERS[kind](path, data, given)
    rows = [row for run in runs for row in _rows(path, run, given)]
    if not rows:
        raise MeasurementError(f"{path}: no positive metric value in the file")
    return rows
