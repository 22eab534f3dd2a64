"""Errors raised at perfmodel's input boundary: one line, naming the field and a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PerfModelError(ValueError):
    """Bad input to the performance model (a one-line, user-facing message)."""


class UnknownNameError(PerfModelError, KeyError):
    """A model, dtype or op name that is not in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelDoesNotFitError(PerfModelError):
    """The model's weights do not fit in the memory of one GPU under the given plan."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` entries of ``choices`` closest to ``name`` (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.3)
    return [lowered[h] for h in hits] or choices[:n]


def unknown(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Error for an unknown ``kind`` called ``name``, listing the closest known names."""
    near = ", ".join(closest(name, choices))
    return UnknownNameError(f"unknown {kind} {name!r}; closest: {near}")


def require_positive(field: str, value: float, fix: str = "use a value > 0") -> None:
    """Raise a one-line error when ``value`` is not a finite positive number."""
    if not (value > 0 and value < float("inf")):
        raise PerfModelError(f"{field} must be > 0, got {value!r}; {fix}")
