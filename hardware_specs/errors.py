"""Exceptions raised by the accelerator catalog."""

from __future__ import annotations


class HardwareSpecError(ValueError):
    """An accelerator spec is missing, malformed or fails validation.

    The message names the file (when there is one), the offending field and what
    would have been accepted.
    """


class UnknownHardwareError(HardwareSpecError):
    """No accelerator in the catalog matches the requested name."""
