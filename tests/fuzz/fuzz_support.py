"""Shared pieces of the fuzz and property suite.

``FUZZ`` / ``PROPERTY``: hypothesis settings that are deterministic in CI (derandomized, no
example database, no deadline) and sized so the whole folder runs well under a minute on two
cores. ``PROJECT_ERRORS``: the project's own error classes; a fuzzed input must end in a result
or in one of these, never in another exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hardware_specs.errors import HardwareSpecError
from perfmodel.errors import PerfModelError
from planner.fit.fit import FitError
from planner.fit.records import MeasurementError
from planner.mix.errors import PlanSpecError, SolverError
from planner.search.errors import SearchError
from planner.serving.errors import ServingInputError
from planner.workload import WorkloadError
from queueing.errors import QueueingInputError

#: perfmodel.profiling.ProfileError is a PerfModelError.
PROJECT_ERRORS: tuple[type[Exception], ...] = (
    PlanSpecError,
    SolverError,
    HardwareSpecError,
    PerfModelError,
    QueueingInputError,
    WorkloadError,
    ServingInputError,
    SearchError,
    MeasurementError,
    FitError,
)

_COMMON = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
#: parsers: cheap per example
FUZZ = settings(max_examples=60, **_COMMON)
#: API calls and exact solves: dearer per example
PROPERTY = settings(max_examples=20, **_COMMON)


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """``(result, None)`` or ``(None, error)`` for one of the project's errors; any other
    exception propagates (and fails the test). A project error must carry a message."""
    try:
        return fn(*args, **kwargs), None
    except PROJECT_ERRORS as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None, exc


def finite_nonneg(value: float, what: str) -> None:
    """A physically sensible number: finite and >= 0 (no NaN, no negative time or cost)."""
    assert math.isfinite(value) and value >= 0, f"{what} = {value!r}"


def nonneg_or_inf(value: float, what: str) -> None:
    """>= 0, never NaN (inf allowed: overload is a result)."""
    assert not math.isnan(value) and value >= 0, f"{what} = {value!r}"


#: cell texts a user's CSV may hold: numbers, and the usual ways they go wrong
BAD_CELLS = st.sampled_from(
    ["", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1", "0", "1.5", "abc", "1,5",
     "true", "None", "null", "🙂", "10%", "0x10", "1e-400", "٣"]
)  # fmt: skip
GOOD_INTS = st.integers(1, 4096).map(str)
GOOD_FLOATS = st.floats(0.01, 100, allow_nan=False).map(lambda x: f"{x:.4g}")
#: scalar values a YAML/JSON field may hold, valid-ish and corrupted
YAML_SCALARS = st.one_of(
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([".inf", "-.inf", ".nan", "1e999", "true", "null", "~", "'3'", "10%", "ü"]),
    st.text(max_size=8),
)


def cell(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a good value, sometimes a corrupted one."""
    return st.one_of(good, good, good, BAD_CELLS)
