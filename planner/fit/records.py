"""Measured serving results as data: one row per (setup, metric), validated at the boundary.

A row says what was run (engine and version, model, accelerator, tensor parallel size, dtype),
under which load (offline: all requests queued; rate: open Poisson arrivals at ``load_value``
req/s; concurrency: a closed loop of ``load_value`` clients; batch: one static batch of
``load_value`` requests), with which request lengths (``input_tokens`` / ``output_tokens``:
mean tokens per request; ``dataset`` names the length distribution), and one measured
``metric`` in SI units (``value``). ``settings`` lists the engine options of the run
that differ from the engine profile's defaults (``key=value; ...``, see
planner.fit.predict.SETTINGS). Every row carries its source and where in it the number was
read. The same columns are the plain-CSV input of ``capplan fit``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DATA = Path(__file__).parent / "data" / "measurements"

LOADS = ("offline", "rate", "concurrency", "batch")
METRICS = {
    "output_tok_s": "generated tokens per second (all requests)",
    "total_tok_s": "prompt + generated tokens per second",
    "request_s": "finished requests per second",
    "max_rate_rps": "highest Poisson rate meeting the row's SLO (slo column)",
    "ttft_mean_s": "mean time to first token",
    "ttft_p50_s": "median time to first token",
    "ttft_p90_s": "P90 time to first token",
    "ttft_p99_s": "P99 time to first token",
    "tpot_mean_s": "mean time per output token after the first",
    "tpot_p50_s": "median time per output token",
    "tpot_p90_s": "P90 time per output token",
    "tpot_p99_s": "P99 time per output token",
    "itl_mean_s": "mean inter-token latency",
    "itl_p50_s": "median inter-token latency",
    "itl_p99_s": "P99 inter-token latency",
    "e2e_mean_s": "mean end-to-end request latency",
    "e2e_p50_s": "median end-to-end request latency",
    "e2e_p90_s": "P90 end-to-end request latency",
    "e2e_p99_s": "P99 end-to-end request latency",
    "batch_latency_s": "time to finish one static batch (prefill + all decode steps)",
    "batch_prefill_s": "a static batch's prompt phase: time to its last first token",
    "batch_step_s": "a static batch's mean decode iteration after its prompt phase",
}
BATCH_ONLY = ("batch_latency_s", "batch_prefill_s", "batch_step_s")
COLUMNS = (
    "source",
    "citation",
    "where",
    "engine",
    "engine_version",
    "model",
    "model_as_published",
    "hardware",
    "tp",
    "quant",
    "load",
    "load_value",
    "num_requests",
    "dataset",
    "input_tokens",
    "output_tokens",
    "metric",
    "value",
    "slo",
    "settings",
    "reading",
    "notes",
)


class Measurement(BaseModel):
    """One measured number of one serving setup (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, Field(min_length=1)]
    citation: str = ""
    where: str = ""
    engine: Annotated[str, Field(min_length=1)]
    engine_version: str = ""
    model: Annotated[str, Field(min_length=1)]
    model_as_published: str = ""
    hardware: Annotated[str, Field(min_length=1)]
    tp: Annotated[int, Field(ge=1)] = 1
    quant: Literal["bf16", "fp16", "fp8", "int8", "int4"] = "bf16"
    load: Literal["offline", "rate", "concurrency", "batch"]
    load_value: float | None = None
    num_requests: Annotated[int, Field(ge=1)] | None = None
    dataset: str = "fixed"
    input_tokens: Annotated[float, Field(gt=0)]
    output_tokens: Annotated[float, Field(ge=1)]
    metric: str
    value: Annotated[float, Field(gt=0)]
    slo: str = ""
    settings: str = ""  # engine options that differ from the profile: "max_num_seqs=512; ..."
    reading: Literal["exact", "figure", "bound"] = "exact"
    notes: str = ""

    @field_validator("load_value", "value", "input_tokens", "output_tokens")
    @classmethod
    def _finite(cls, v):
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            from perfmodel.errors import closest

            raise ValueError(f"unknown metric {v!r}; did you mean {closest(v, list(METRICS))}?")
        return v

    def model_post_init(self, _ctx) -> None:
        if self.load != "offline" and not (self.load_value and self.load_value > 0):
            raise ValueError(f"load {self.load!r} needs a positive load_value")
        if self.metric == "max_rate_rps" and not self.slo:
            raise ValueError("metric max_rate_rps needs the slo column")
        if self.metric in BATCH_ONLY and self.load != "batch":
            raise ValueError(f"metric {self.metric} is defined for load 'batch' only")


class MeasurementError(ValueError):
    """A results file or row that cannot be read (names the file, row and field)."""


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_csv(path: str | Path) -> list[Measurement]:
    """Rows of a plain measurement CSV (columns as COLUMNS; empty cells take defaults)."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    unknown = sorted(set(frame.columns) - set(COLUMNS))
    if unknown:
        raise MeasurementError(f"{path}: unknown column(s) {unknown}; expected {list(COLUMNS)}")
    out = []
    for i, row in enumerate(frame.to_dict(orient="records"), start=2):
        data = {k: v for k, v in row.items() if v != ""}
        try:
            out.append(Measurement(**data))
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "row"
            raise MeasurementError(f"{path}, line {i}, column {field}: {err['msg']}") from None
    return out


def bundled() -> list[Measurement]:
    """Every bundled measurement (planner/fit/data/measurements/*.csv)."""
    return [m for path in sorted(DATA.glob("*.csv")) for m in read_csv(path)]


def to_frame(rows: list[Measurement]) -> pd.DataFrame:
    """The rows as a DataFrame (COLUMNS order)."""
    return pd.DataFrame([r.model_dump() for r in rows], columns=list(COLUMNS))
