"""Errors raised at the serving model's input boundary (one line, naming the argument)."""

from __future__ import annotations

import math


class ServingInputError(ValueError):
    """A rate, concurrency or other argument of the serving model outside what it accepts."""


def positive_rate(rate: object, name: str = "rate") -> float:
    """``rate`` as a finite float > 0 (requests/s), else a one-line ServingInputError."""
    try:
        value = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(rate, bool) or not (value > 0 and math.isfinite(value)):
        raise ServingInputError(f"{name} must be a positive number of requests/s, got {rate!r}")
    return value
