"""Shared state of a simulation run: per-request records, replica inboxes, counters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class Requests:
    """Per-request records as Python lists (fast scalar access in the event loop).

    ``gen`` counts tokens produced so far; ``todo`` the tokens the next prefill must compute
    (the prompt, or prompt + generated tokens after a preemption; 0 for a request whose KV was
    computed elsewhere, as in disaggregated serving)."""

    def __init__(self, arrival, input_tokens, output_tokens):
        self.arrival = [float(x) for x in arrival]
        self.P = [int(x) for x in input_tokens]
        self.O = [int(x) for x in output_tokens]
        n = len(self.P)
        self.first = [math.nan] * n
        self.finish = [math.nan] * n
        self.preempt = [0] * n
        self.gen = [0] * n
        self.todo = list(self.P)

    def __len__(self) -> int:
        return len(self.P)

    def add(self, t: float, input_tokens: int, output_tokens: int) -> int:
        """Append a request arriving at t; returns its id (closed-loop sources)."""
        self.arrival.append(float(t))
        self.P.append(int(input_tokens))
        self.O.append(int(output_tokens))
        self.first.append(math.nan)
        self.finish.append(math.nan)
        self.preempt.append(0)
        self.gen.append(0)
        self.todo.append(int(input_tokens))
        return len(self.P) - 1

    def emit(self, rid: int, t: float) -> bool:
        """One token of ``rid`` at time t; True when it was the last one (finish recorded)."""
        self.gen[rid] += 1
        if self.gen[rid] == 1:
            self.first[rid] = t
        if self.gen[rid] >= self.O[rid]:
            self.finish[rid] = t
            return True
        return False


class Inbox:
    """Requests arriving at one replica, in non-decreasing time order (open arrivals: all
    known in advance). A replica calls ``finished`` at each request's last token, so that a
    closed-loop source (sim_closed.ClosedLoop) can issue the client's next request."""

    def __init__(self, times=(), rids=()):
        self.times = list(times)
        self.rids = list(rids)
        self.i = 0

    def push(self, t: float, rid: int) -> None:
        self.times.append(t)
        self.rids.append(rid)

    def peek(self) -> float:
        """Time of the next arrival (inf when none)."""
        return self.times[self.i] if self.i < len(self.times) else math.inf

    def finished(self, rid: int, t: float) -> None:
        """Request ``rid`` emitted its last token at time t (open arrivals: nothing to do)."""

    def pop_until(self, t: float) -> list[int]:
        """Requests that have arrived by time t."""
        j = self.i
        while j < len(self.times) and self.times[j] <= t:
            j += 1
        out = self.rids[self.i : j]
        self.i = j
        return out


@dataclass
class Counters:
    """Work done by one replica (or a whole run)."""

    iterations: int = 0
    prefill_iterations: int = 0
    epochs: int = 0
    preemptions: int = 0
    peak_kv_blocks: int = 0
    kv_blocks: int = 0
    trace_t: list[float] = field(default_factory=list)
    trace_n: list[int] = field(default_factory=list)
    # time between tokens: epochs (start, tau1, delta, k, n, first j) whose iterations
    # j..k give n tokens a gap of tau1 + (j - 1) * delta; points (start, gap, tokens)
    gap_lines: list[tuple[float, float, float, int, int, int]] = field(default_factory=list)
    gap_points: list[tuple[float, float, int]] = field(default_factory=list)

    def mark(self, t: float, n: int) -> None:
        """Record that the decode batch holds n sequences from time t on."""
        self.trace_t.append(t)
        self.trace_n.append(n)
