"""genai-perf and AIPerf profile exports: profile_export_*.json and profile_export_*.csv.

Keys are those the tools write, checked against genai-perf @263c5f6 and aiperf @db4f639.
genai-perf/AIPerf "inter token latency" is per-request (last - first token) / (n - 1), i.e.
TPOT, and is read as ``tpot_*``. Times are converted from the file's unit (ms if none) to s.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from planner.fit.readers.common import PCT, _dig, _Given, _need, _num, _Run, _scaled, _spread
from planner.fit.records import MeasurementError

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}
GENAI = "a genai-perf or AIPerf profile export of an LLM endpoint"
GENAI_RATES = {"request_throughput": "request_s", "output_token_throughput": "output_tok_s"}
GENAI_TIMES = {"time_to_first_token": "ttft", "inter_token_latency": "tpot"}
GENAI_TIMES |= {"request_latency": "e2e"}
GENAI_NEED = ("request_throughput", "input_sequence_length", "output_sequence_length")


def _genai_perf(path: Path, d: dict, given: _Given) -> list[_Run]:
    cfg = d.get("input_config") or {}
    tool = "AIPerf" if "loadgen" in cfg or "was_cancelled" in d else "genai-perf"
    models = cfg.get("model_names") or cfg.get("model") or _dig(cfg, "endpoint", "model_names")
    setup, notes = _genai_load(cfg, tool)
    setup |= {"model": models[0]} if models else {}
    return [_genai_run(path, d, setup, [tool, *notes])]


def _genai_load(cfg: dict, tool: str) -> tuple[dict, list[str]]:
    stim = _dig(cfg, "perf_analyzer", "stimulus") or {}
    loadgen = cfg.get("loadgen") or {}
    rate = stim.get("request_rate") or loadgen.get("request_rate") or cfg.get("request_rate")
    conc = stim.get("concurrency") or loadgen.get("concurrency") or cfg.get("concurrency")
    if rate:
        mode = loadgen.get("request_rate_mode") or ("constant" if tool == "genai-perf" else "")
        notes = ["constant inter-arrival times"] if mode == "constant" else []
        return {"load": "rate", "load_value": float(rate)}, notes
    return ({"load": "concurrency", "load_value": float(conc)} if conc else {}), []


def _genai_run(path: Path, stats: dict, setup: dict, notes: list[str]) -> _Run:
    _need(path, stats, GENAI_NEED, GENAI)
    isl, osl = stats["input_sequence_length"], stats["output_sequence_length"]
    setup = dict(setup, input_tokens=_num(isl.get("avg")), output_tokens=_num(osl.get("avg")))
    count = _num(_dig(stats, "request_count", "avg"))
    setup |= dict(num_requests=int(count) if count else None, dataset=_spread(isl, osl))
    values = [(m, _num(_dig(stats, k, "avg")), f"{k}.avg") for k, m in GENAI_RATES.items()]
    for key, name in GENAI_TIMES.items():
        scale = _time_unit(path, key, (stats.get(key) or {}).get("unit"))
        for stat, _ in PCT:
            src = "avg" if stat == "mean" else stat
            values.append(
                (f"{name}_{stat}_s", _scaled(_dig(stats, key, src), scale), f"{key}.{src}")
            )
    return _Run(setup, values, notes)


def _time_unit(path: Path, key: str, unit: str | None) -> float:
    if unit in (None, ""):
        return 1e-3  # genai-perf and AIPerf display times in ms
    if unit in TIME_UNITS:
        return TIME_UNITS[unit]
    raise MeasurementError(f"{path}: {key} has unit {unit!r}; expected one of {list(TIME_UNITS)}")


def _genai_perf_csv(path: Path, text: str, given: _Given) -> list[_Run]:
    stats = parse_perf_csv(text)
    return [_genai_run(path, stats, {}, ["genai-perf/AIPerf CSV"])]


def parse_perf_csv(text: str) -> dict[str, dict]:
    """genai-perf/AIPerf CSV sections ('Metric' header rows) as {metric: {unit, avg, pXX}}."""
    stats: dict[str, dict] = {}
    header = None
    for row in csv.reader(io.StringIO(text)):
        cells = [c.strip() for c in row]
        if not any(cells):
            header = None
        elif cells[0] == "Metric":
            header = [c.lower() for c in cells[1:]]
        elif header:
            name, unit = _metric_name(cells[0])
            values = {
                ("avg" if h == "value" else h): _csv_num(c) for h, c in zip(header, cells[1:])
            }
            stats[name] = {"unit": unit, **values}
    return stats


def _metric_name(cell: str) -> tuple[str, str]:
    match = re.fullmatch(r"(.*?)\s*(?:\(([^()]*)\))?", cell)
    name, unit = match.group(1), match.group(2) or ""
    return name.lower().replace(" ", "_"), unit


def _csv_num(cell: str) -> float | None:
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return None
