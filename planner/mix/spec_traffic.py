"""Plan-file models of a model's traffic: request-size buckets (histogram, Mélange grid, trace,
two laws, a Mélange file) and the rate over time (``rate_curve``)."""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from planner.mix.spec_base import StrictModel

PROB_TOL = 1e-6


class HistogramBucket(StrictModel):
    """One request-size bucket: representative token counts and its share of requests."""

    input_tokens: PositiveFloat
    output_tokens: PositiveFloat
    prob: NonNegativeFloat


class GridTraffic(StrictModel):
    """Mélange's layout: ``probs[i][j]`` is the share of input row i and output column j;
    ``input_tokens`` / ``output_tokens`` are the rows' and columns' representative sizes
    (optional: without them buckets are labelled by index and token costs are not reported)."""

    probs: list[list[NonNegativeFloat]] = Field(min_length=1)
    input_tokens: list[PositiveFloat] | None = None
    output_tokens: list[PositiveFloat] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        """Rows of equal length; size lists matching the grid's shape."""
        cols = len(self.probs[0])
        if cols == 0 or any(len(row) != cols for row in self.probs):
            raise ValueError("probs must be a non-empty rectangular matrix (rows of equal length)")
        if self.input_tokens is not None and len(self.input_tokens) != len(self.probs):
            raise ValueError(
                f"input_tokens has {len(self.input_tokens)} entries, probs {len(self.probs)} rows"
            )
        if self.output_tokens is not None and len(self.output_tokens) != cols:
            raise ValueError(
                f"output_tokens has {len(self.output_tokens)} entries, probs {cols} columns"
            )
        return self


class TraceTraffic(StrictModel):
    """A CSV of requests (columns ``input_tokens``, ``output_tokens``, optional ``arrival_s``)
    bucketed on the edges (token counts; default powers of two)."""

    path: str = Field(min_length=1)
    input_edges: list[PositiveFloat] | None = None
    output_edges: list[PositiveFloat] | None = None


class LawSpec(StrictModel):
    """A token-count law: lognormal(median, sigma), exponential(mean), uniform(low, high) or
    fixed(value)."""

    law: Literal["lognormal", "exponential", "uniform", "fixed"]
    median: PositiveFloat | None = None
    sigma: PositiveFloat | None = None
    mean: PositiveFloat | None = None
    low: PositiveFloat | None = None
    high: PositiveFloat | None = None
    value: PositiveFloat | None = None
    max_tokens: PositiveFloat | None = Field(None, description="clip the law at this count")

    @model_validator(mode="after")
    def _params(self) -> Self:
        """Each law needs its own parameters."""
        need = {
            "lognormal": ("median", "sigma"),
            "exponential": ("mean",),
            "uniform": ("low", "high"),
            "fixed": ("value",),
        }[self.law]
        missing = [p for p in need if getattr(self, p) is None]
        if missing:
            raise ValueError(f"law {self.law!r} needs {', '.join(need)}; missing {missing}")
        if self.law == "uniform" and self.low >= self.high:  # type: ignore[operator]
            raise ValueError(f"uniform law needs low < high, got {self.low} >= {self.high}")
        return self


class LawsTraffic(StrictModel):
    """Independent input and output laws, discretized on the edges (default powers of two)."""

    input: LawSpec
    output: LawSpec
    input_edges: list[PositiveFloat] | None = None
    output_edges: list[PositiveFloat] | None = None


class TrafficSpec(StrictModel):
    """Exactly one of histogram / grid / trace / laws / melange (a Mélange config whose
    ``workload_distribution`` is the grid)."""

    histogram: list[HistogramBucket] | None = Field(None, min_length=1)
    grid: GridTraffic | None = None
    trace: TraceTraffic | None = None
    laws: LawsTraffic | None = None
    melange: str | None = Field(None, min_length=1, description="path of a Mélange JSON config")
    normalize: bool = Field(False, description="rescale probabilities that do not sum to 1")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        """One traffic form; probabilities sum to 1 unless ``normalize`` is set."""
        forms = [k for k in ("histogram", "grid", "trace", "laws", "melange") if getattr(self, k)]
        if len(forms) != 1:
            raise ValueError(
                f"give exactly one of histogram, grid, trace, laws, melange (got {forms or 'none'})"
            )
        probs: list[float] | None = None
        if self.histogram is not None:
            probs = [b.prob for b in self.histogram]
        elif self.grid is not None:
            probs = [p for row in self.grid.probs for p in row]
        if probs is not None:
            check_probabilities(probs, self.normalize)
        return self


def check_probabilities(probs: list[float], normalize: bool) -> None:
    """Raise unless the shares sum to 1 (within 1e-6) or ``normalize`` allows rescaling."""
    total = math.fsum(probs)
    if total <= 0:
        raise ValueError("probabilities sum to 0; at least one bucket needs a share > 0")
    if abs(total - 1) > PROB_TOL and not normalize:
        raise ValueError(
            f"probabilities sum to {total:.6g}, not 1; fix them or set normalize: true"
        )


class RateCurveSpec(StrictModel):
    """A model's rate over a cycle (a day, a week) that repeats: one rate per period, or a
    trace of arrival times (CSV column ``arrival_s``) counted per period."""

    rates_rps: list[NonNegativeFloat] | None = Field(
        None, min_length=2, description="req/s per period, e.g. 24 hourly rates of a day"
    )
    trace: str | None = Field(None, min_length=1, description="CSV with arrival_s (seconds)")
    period_hours: PositiveFloat = Field(1.0, description="length of one period, hours")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        """Exactly one of rates_rps / trace; some period with traffic."""
        if (self.rates_rps is None) == (self.trace is None):
            raise ValueError("give exactly one of rates_rps (req/s per period) or trace")
        if self.rates_rps is not None and max(self.rates_rps) <= 0:
            raise ValueError("rates_rps are all 0; at least one period needs traffic")
        return self
