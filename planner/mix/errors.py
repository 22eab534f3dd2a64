"""Errors raised at the GPU-mix planner's input boundary (one readable message each)."""

from __future__ import annotations


class PlanSpecError(ValueError):
    """A plan file, capacity table or Mélange profile is missing, malformed or inconsistent.

    The message names the file (when there is one), the field and what would be accepted.
    """


class SolverError(RuntimeError):
    """The MILP solver failed for a reason other than infeasibility (not installed, crashed,
    time limit without an incumbent)."""
