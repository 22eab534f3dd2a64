"""numba's njit with the on-disk cache where it can be written (shared by perfmodel and the
planner's compiled loops)."""

from __future__ import annotations

from numba import njit as _njit


def njit(**options):
    """numba.njit(cache=True, ...) that compiles without the on-disk cache when numba has
    nowhere to write it (a read-only install and an unwritable HOME), instead of failing at
    import: the cache only saves compile time at the next start."""

    def decorate(func):
        try:
            return _njit(**options)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if not options.get("cache") or "cannot cache" not in str(exc):
                raise
            return _njit(**(options | {"cache": False}))(func)

    return decorate
