"""Errors of the plan search (one line, naming the input and a fix)."""

from __future__ import annotations


class SearchError(ValueError):
    """A search that cannot run as asked: an unknown objective, a model that fits no plan of
    the space, a workload longer than the model's context."""
