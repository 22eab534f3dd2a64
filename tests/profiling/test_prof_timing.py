"""Timing: warm-up, then the median of a policy-bounded number of repeats."""

from __future__ import annotations

import time

import pytest

from perfmodel.profiling.timing import TimingPolicy, time_kernel


def _busy(seconds: float):
    """A kernel that computes (holds the CPU) for ``seconds``."""

    def kernel() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return kernel


def test_repeats_scale_inversely_with_kernel_time_within_bounds():
    policy = TimingPolicy(warmup=1, min_repeats=3, max_repeats=20, target_s=0.1)
    assert policy.repeats_for(0.01) == 10
    assert policy.repeats_for(1.0) == 3  # floor
    assert policy.repeats_for(1e-6) == 20  # ceiling


def test_time_kernel_reports_the_median_of_the_repeats_after_warmup():
    calls = []

    def kernel() -> None:
        calls.append(None)
        _busy(0.002)()

    policy = TimingPolicy(warmup=2, min_repeats=5, max_repeats=5, target_s=0.0)
    timing = time_kernel(kernel, "cpu", policy)
    assert len(calls) == 2 + 5
    assert timing.repeats == 5
    assert timing.min_s <= timing.median_s <= timing.max_s
    assert timing.median_s == pytest.approx(0.002, rel=0.5)
