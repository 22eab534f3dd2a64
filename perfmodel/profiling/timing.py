"""Kernel timing: warm-up, then the median of repeats.

CPU: wall time of each call with `time.perf_counter` (torch CPU ops are synchronous).
CUDA: a pair of CUDA events around each call, then `torch.cuda.synchronize()`; the event
interval excludes the host launch latency between calls.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfmodel.profiling._torch import require_torch


@dataclass(frozen=True)
class TimingPolicy:
    """How long to measure one kernel.

    repeats = clamp(ceil(target_s / t_warm), min_repeats, max_repeats), where t_warm is the
    last warm-up time, so tiny kernels get many repeats and huge ones few.
    """

    warmup: int = 2
    min_repeats: int = 3
    max_repeats: int = 50
    target_s: float = 0.2

    def repeats_for(self, t_warm: float) -> int:
        """Number of timed repeats for a kernel whose warm-up took ``t_warm`` seconds."""
        if t_warm <= 0:
            return self.max_repeats
        wanted = math.ceil(self.target_s / t_warm)
        return max(self.min_repeats, min(self.max_repeats, wanted))


QUICK_POLICY = TimingPolicy(warmup=1, min_repeats=3, max_repeats=15, target_s=0.05)
FULL_POLICY = TimingPolicy(warmup=3, min_repeats=5, max_repeats=100, target_s=0.3)


@dataclass(frozen=True)
class Timing:
    """Median and spread of the timed repeats of one kernel (seconds)."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int


def timing_method(device: Any) -> str:
    """Human-readable description of how `time_kernel` times on ``device``."""
    if getattr(device, "type", str(device)) == "cuda":
        return "median of repeats; CUDA events + torch.cuda.synchronize()"
    return "median of repeats; time.perf_counter wall time"


def time_kernel(fn: Callable[[], Any], device: Any, policy: TimingPolicy = QUICK_POLICY) -> Timing:
    """Warm up ``fn`` ``policy.warmup`` times, then time repeats and return the median."""
    is_cuda = getattr(device, "type", str(device)) == "cuda"
    timer = _cuda_timer if is_cuda else _cpu_timer
    t_warm = 0.0
    for _ in range(max(1, policy.warmup)):
        t_warm = timer(fn, device)
    samples = [timer(fn, device) for _ in range(policy.repeats_for(t_warm))]
    return Timing(
        median_s=statistics.median(samples),
        min_s=min(samples),
        max_s=max(samples),
        repeats=len(samples),
    )


def _cpu_timer(fn: Callable[[], Any], device: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cuda_timer(fn: Callable[[], Any], device: Any) -> float:
    torch = require_torch()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize(device)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize(device)
    return start.elapsed_time(end) / 1e3
