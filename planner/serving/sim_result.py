"""SimResult: what one simulation run produced, request by request, plus its counters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .sim_state import Counters, Requests


@dataclass(frozen=True)
class SimResult:
    """Per-request times (seconds; requests in arrival order) and run counters.

    TTFT = first_token - arrival; TPOT = (finish - first_token) / (output - 1) for output > 1;
    E2E = finish - arrival. ``batch_traces`` holds, per decode replica, the times at which
    its decode batch changed and its size from then on."""

    arrival: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    preemptions: np.ndarray
    iterations: int
    prefill_iterations: int
    epochs: int
    kv_blocks: int
    peak_kv_blocks: int
    wall_s: float
    step_calls: int = 0
    batch_traces: tuple[tuple[np.ndarray, np.ndarray], ...] = field(default=(), repr=False)
    gap_lines: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)), repr=False)
    gap_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), repr=False)

    @classmethod
    def collect(cls, reqs: Requests, counters: list[Counters], traces, wall_s: float, calls=0):
        """Assemble from the run's request records and per-replica counters."""
        return cls(
            arrival=np.asarray(reqs.arrival, dtype=float),
            first_token=np.asarray(reqs.first, dtype=float),
            finish=np.asarray(reqs.finish, dtype=float),
            input_tokens=np.asarray(reqs.P, dtype=np.int64),
            output_tokens=np.asarray(reqs.O, dtype=np.int64),
            preemptions=np.asarray(reqs.preempt, dtype=np.int64),
            iterations=sum(c.iterations for c in counters),
            prefill_iterations=sum(c.prefill_iterations for c in counters),
            epochs=sum(c.epochs for c in counters),
            kv_blocks=max(c.kv_blocks for c in counters),
            peak_kv_blocks=max(c.peak_kv_blocks for c in counters),
            wall_s=wall_s,
            step_calls=calls,
            batch_traces=tuple(
                (np.asarray(c.trace_t, dtype=float), np.asarray(c.trace_n, dtype=float))
                for c in traces
            ),
            gap_lines=np.array([g for c in counters for g in c.gap_lines]).reshape(-1, 6),
            gap_points=np.array([g for c in counters for g in c.gap_points]).reshape(-1, 3),
        )

    # ---- latencies ------------------------------------------------------------------------
    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> np.ndarray:
        return self.finish - self.arrival

    @property
    def tpot(self) -> np.ndarray:
        """Per-request TPOT; NaN for one-token requests."""
        d = self.output_tokens - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, (self.finish - self.first_token) / np.maximum(d, 1), np.nan)

    def tbt_samples(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """(gaps, token counts): time between consecutive tokens of the same request, over
        the tokens of decode iterations that start in [t0, t1] (the first token of each
        request, counted by TTFT, is excluded)."""
        pts = self.gap_points[(self.gap_points[:, 0] >= t0) & (self.gap_points[:, 0] <= t1)]
        lines = self.gap_lines[(self.gap_lines[:, 0] >= t0) & (self.gap_lines[:, 0] <= t1)]
        first = lines[:, 5].astype(np.int64)
        reps = lines[:, 3].astype(np.int64) - first + 1  # iterations first..k of each epoch
        j = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps) + np.repeat(first, reps)
        values = np.repeat(lines[:, 1], reps) + (j - 1) * np.repeat(lines[:, 2], reps)
        return (
            np.concatenate([pts[:, 1], values]),
            np.concatenate([pts[:, 2], np.repeat(lines[:, 4], reps)]),
        )

    # ---- counters ---------------------------------------------------------------------------
    @property
    def iterations_per_s(self) -> float:
        """Simulated iterations per wall-clock second of the run."""
        return self.iterations / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def preempted(self) -> int:
        return int(self.preemptions.sum())

    def mean_decode_batch(self, t0: float, t1: float) -> float:
        """Time-average decode batch size over [t0, t1], averaged over decode replicas."""
        if not self.batch_traces or t1 <= t0:
            return 0.0
        return float(np.mean([_time_average(t, n, t0, t1) for t, n in self.batch_traces]))

    def decode_batch_variance(self, t0: float, t1: float) -> float:
        """Time-average variance of the decode batch size over [t0, t1], averaged over decode
        replicas."""
        if not self.batch_traces or t1 <= t0:
            return 0.0
        return float(
            np.mean(
                [
                    _time_average(t, n**2, t0, t1) - _time_average(t, n, t0, t1) ** 2
                    for t, n in self.batch_traces
                ]
            )
        )

    def counters(self) -> dict:
        return {
            "requests": int(self.arrival.size),
            "iterations": self.iterations,
            "prefill_iterations": self.prefill_iterations,
            "epochs": self.epochs,
            "preemptions": self.preempted,
            "kv_blocks": self.kv_blocks,
            "peak_kv_blocks": self.peak_kv_blocks,
            "wall_s": self.wall_s,
            "step_calls": self.step_calls,
            "iterations_per_s": self.iterations_per_s,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per request: arrival, first_token, finish, input, output, preemptions,
        ttft, tpot, e2e."""
        return pd.DataFrame(
            {
                "arrival": self.arrival,
                "first_token": self.first_token,
                "finish": self.finish,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "preemptions": self.preemptions,
                "ttft": self.ttft,
                "tpot": self.tpot,
                "e2e": self.e2e,
            }
        )

    def to_dict(self) -> dict:
        return self.counters()


def _time_average(times: np.ndarray, sizes: np.ndarray, t0: float, t1: float) -> float:
    """Average over [t0, t1] of the step function equal to sizes[k] from times[k] on (0 before
    the first change)."""
    if times.size == 0:
        return 0.0
    start = np.clip(times, t0, t1)
    end = np.clip(np.append(times[1:], t1), t0, t1)
    return float(np.sum(sizes * np.maximum(end - start, 0.0)) / (t1 - t0))
