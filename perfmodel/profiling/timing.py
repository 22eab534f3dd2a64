"""Kernel timing: warm-up, then the median of repeats.

CPU: wall time of each call with `time.perf_counter` (torch CPU ops are synchronous). With one
intra-op thread the calling thread does all the work, so its CPU time (`time.thread_time`)
is also read: a sample whose wall time exceeds ``PREEMPTED`` × its CPU time was descheduled by
a neighbouring process, and the thread's CPU time (what the call took while it held the core)
replaces it. So the median on a shared machine reflects the kernel, not the neighbours. With
several threads no such correction is possible: profile on an idle machine.
CUDA: the call is captured in a CUDA graph (c calls in a row, c = clamp(⌈span / t_warm⌉, 1,
``MAX_GRAPH_CALLS``) with t_warm the eager warm-up time), and each timed sample is one replay
between a pair of CUDA events divided by c. Serving engines replay their decode steps as CUDA
graphs, so the time is the kernels' own, without the host launch gaps that an eager call of a
few-microsecond kernel would add (an eager call's events also span its launch latency). A
call that cannot be captured falls back to events around each eager call.
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


PREEMPTED = 1.25
#: Sub-100 µs samples are too short for the CPU-time check (thread_time resolution).
MIN_CHECKED_S = 1e-4

#: Most calls of one kernel captured in a graph, and the replay length aimed at (seconds).
MAX_GRAPH_CALLS = 64
GRAPH_SPAN_S = 1e-3

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
        return (
            f"median of repeats; CUDA graph of c = clamp(ceil({GRAPH_SPAN_S * 1e3:g} ms / eager "
            f"time), 1, {MAX_GRAPH_CALLS}) calls replayed between CUDA events, / c "
            "(eager CUDA events where capture fails)"
        )
    guard = f"; 1 thread: a sample with wall > {PREEMPTED} x thread CPU time uses the CPU time"
    return "median of repeats; time.perf_counter wall time" + guard


def time_kernel(fn: Callable[[], Any], device: Any, policy: TimingPolicy = QUICK_POLICY) -> Timing:
    """Warm up ``fn`` ``policy.warmup`` times, then time repeats and return the median."""
    is_cuda = getattr(device, "type", str(device)) == "cuda"
    timer = _cuda_timer if is_cuda else _cpu_timer
    t_warm = 0.0
    for _ in range(max(1, policy.warmup)):
        t_warm = timer(fn, device)
    graph = _capture(fn, device, graph_calls(t_warm)) if is_cuda else None
    if graph is not None:
        replay, calls = graph
        t_replay = _cuda_timer(replay, device)
        samples = [_cuda_timer(replay, device) / calls for _ in range(policy.repeats_for(t_replay))]
    else:
        samples = [timer(fn, device) for _ in range(policy.repeats_for(t_warm))]
    return _timing(samples)


def graph_calls(t_warm: float) -> int:
    """Calls of a kernel per captured graph: c = clamp(ceil(GRAPH_SPAN_S / t_warm), 1, max)."""
    if t_warm <= 0:
        return MAX_GRAPH_CALLS
    return max(1, min(MAX_GRAPH_CALLS, math.ceil(GRAPH_SPAN_S / t_warm)))


Replay = tuple[Callable[[], Any], int]


def _capture(fn: Callable[[], Any], device: Any, calls: int) -> Replay | None:
    """(replay, calls) of a CUDA graph holding ``calls`` calls of ``fn``; None if not capturable."""
    torch = require_torch()
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.device(device), torch.cuda.graph(graph):
            for _ in range(calls):
                fn()
    except RuntimeError:
        torch.cuda.synchronize(device)
        return None
    return graph.replay, calls


def _timing(samples: list[float]) -> Timing:
    return Timing(
        median_s=statistics.median(samples),
        min_s=min(samples),
        max_s=max(samples),
        repeats=len(samples),
    )


def _cpu_timer(fn: Callable[[], Any], device: Any) -> float:
    """Wall time of one call; the thread's CPU time if a single-threaded call was descheduled."""
    cpu0, start = time.thread_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu0
    if wall > MIN_CHECKED_S and wall > PREEMPTED * cpu and _single_threaded():
        return cpu
    return wall


def _single_threaded() -> bool:
    return require_torch().get_num_threads() == 1


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
