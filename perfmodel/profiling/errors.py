"""Errors of the profiling package (one line, naming the file and field)."""

from __future__ import annotations

from perfmodel.errors import PerfModelError


class ProfileError(PerfModelError):
    """A profile file, table or import failed validation (names the file and the field)."""
