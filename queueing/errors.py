"""Input validation: one clear error type for every bad argument."""

from __future__ import annotations

import math

import numpy as np


class QueueingInputError(ValueError):
    """A model or law got an argument outside what it accepts.

    The message names the argument, what was given and what is accepted.
    """


def _fail(name: str, value: object, accepted: str) -> QueueingInputError:
    return QueueingInputError(f"{name} must be {accepted}; got {value!r}")


def as_float(name: str, value: object) -> float:
    """Convert ``value`` to a finite float or raise :class:`QueueingInputError`."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, "a finite real number") from None
    if not math.isfinite(x):
        raise _fail(name, value, "a finite real number")
    return x


def positive(name: str, value: object) -> float:
    """A finite number > 0 (rates, means, times)."""
    x = as_float(name, value)
    if x <= 0:
        raise _fail(name, value, "a finite number > 0")
    return x


def nonnegative(name: str, value: object) -> float:
    """A finite number >= 0."""
    x = as_float(name, value)
    if x < 0:
        raise _fail(name, value, "a finite number >= 0")
    return x


def probability(name: str, value: object) -> float:
    """A probability strictly inside (0, 1) (quantile levels)."""
    x = as_float(name, value)
    if not 0 < x < 1:
        raise _fail(name, value, "a probability strictly between 0 and 1")
    return x


def positive_int(name: str, value: object) -> int:
    """An integer >= 1 (servers, batch sizes)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise _fail(name, value, "an integer >= 1")
    return int(value)


def samples(name: str, values: object) -> np.ndarray:
    """A non-empty 1-D array of finite numbers >= 0."""
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise _fail(name, "<non-numeric>", "a non-empty sequence of finite numbers >= 0") from None
    if arr.size == 0:
        raise _fail(name, "[] (empty)", "a non-empty sequence of finite numbers >= 0")
    if not np.all(np.isfinite(arr)):
        raise _fail(name, "values with NaN/inf", "a non-empty sequence of finite numbers >= 0")
    if np.any(arr < 0):
        raise _fail(name, "negative values", "a non-empty sequence of finite numbers >= 0")
    return arr


def weights(name: str, values: object, size: int) -> np.ndarray:
    """Mixture weights: ``size`` finite numbers > 0, normalised to sum 1."""
    arr = samples(name, values)
    if arr.size != size or np.any(arr <= 0):
        raise _fail(name, values, f"{size} finite numbers > 0 (one per component)")
    return arr / arr.sum()
