"""Chunked prefill (Sarathi-Serve stall-free batching, vLLM chunked prefill).

Every iteration holds all running decodes plus prompt chunks, FCFS, filling the token budget
minus the decodes: first the prompt in progress (at most one: FCFS filling leaves only the
last admitted prompt unfinished), then waiting requests admitted by sequence slots and KV
blocks (the whole prompt's blocks at admission, plus the watermark, after reserving the new
blocks of this iteration's decodes). A chunk that does not end its prompt produces no token;
the one that does emits the first token. The slot limit is min(max_num_seqs,
token_budget - 1) so that a prompt in progress always gets at least one token.

A long prompt spans epochs of identical iterations (the full leftover budget as a non-final
chunk, context growing by the chunk each time), skipped in closed form like decode epochs.
Preemption takes the prompt in progress first (it is the newest admission), then the newest
running sequence.
"""

from __future__ import annotations

import math

from .sim_replica import Replica


class ChunkedReplica(Replica):
    """Sarathi-style mixed iterations; see the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.partial: list[int] | None = None  # [rid, tokens done]
        self.slots = min(self.sched.max_num_seqs, self.sched.token_budget - 1)

    def _busy(self) -> bool:
        return self.rs.n > 0 or self.partial is not None

    def _held_reference(self) -> int:
        extra = self.blocks(self.reqs.todo[self.partial[0]]) if self.partial else 0
        return self.rs.blocks() + extra

    def _victim(self) -> int:
        return self.partial[0] if self.partial else self.rs.newest()

    def _preempt(self, rid: int) -> None:
        if self.partial and rid == self.partial[0]:
            self.held -= self.blocks(self.reqs.todo[rid])
            self.partial = None
            self._requeue(rid)
        else:
            super()._preempt(rid)

    # ---- scheduling -----------------------------------------------------------------------
    def _schedule(self) -> bool:
        if self.partial is None and not self._admissible(reserve=0, busy=self.rs.n):
            return False
        if not self._fit_next():
            return True
        room = self.sched.token_budget - self.rs.n
        chunks = []  # [rid, q, cached, final]
        if self.partial:
            rid, done = self.partial
            q = min(self.reqs.todo[rid] - done, room)
            chunks.append([rid, q, done, done + q == self.reqs.todo[rid]])
            room -= q
        reserve = self.rs.need_next()
        while room > 0 and self._admissible(reserve, self.rs.n + len(chunks)):
            rid = self.waiting.popleft()
            self.held += self.blocks(self.reqs.todo[rid])
            q = min(self.reqs.todo[rid], room)
            chunks.append([rid, q, 0, q == self.reqs.todo[rid]])
            room -= q
        if not chunks:
            return False
        if len(chunks) == 1 and not chunks[0][3] and self.partial and not self.exact:
            rid, q, done, _ = chunks[0]
            self._chunk_epoch(rid, done, q)
        else:
            self._mixed(chunks)
        return True

    def _admissible(self, reserve: int, busy: int) -> bool:
        """Whether the queue head can join ``busy`` admitted sequences now (slots, blocks
        after ``reserve``, watermark unless the replica is empty)."""
        if not self.waiting or busy >= self.slots:
            return False
        need = self.blocks(self.reqs.todo[self.waiting[0]]) + reserve
        return self._fits(need, alone=busy == 0)

    # ---- iterations -----------------------------------------------------------------------
    def _mixed(self, chunks) -> None:
        """One iteration: every running decode plus the given chunks."""
        rs = self.rs
        if self.exact:
            ctx = rs.contexts()
            new = [1] * len(ctx) + [q for _, q, _, _ in chunks]
            final = [1] * len(ctx) + [int(f) for *_, f in chunks]
            tau = self.costs.explicit(new, ctx + [c for _, _, c, _ in chunks], final)
        else:
            p1, r1 = rs.totals() if rs.n else (0.0, 0.0)
            tau = self.costs.mixed(rs.n, p1, r1, [(q, c, f) for _, q, c, f in chunks])
        self.partial = None
        self._record_gaps(1, tau, 0.0)
        self._step(1, tau, 0.0, prefill=True)
        for rid, q, c, final in chunks:
            if final:
                self._prefilled(rid, c + q)
            else:
                self.partial = [rid, c + q]
        self._check_blocks()
        self._finish_decodes()
        self.c.mark(self.clock, rs.n)

    def _chunk_epoch(self, rid: int, done: int, q: int) -> None:
        """Iterations whose only chunk is a full, non-final piece of the prompt in progress."""
        rs = self.rs
        k = min(math.ceil((self.reqs.todo[rid] - done) / q) - 1, rs.until_finish())
        k = min(k, rs.until_aging(), self._window_limit(done, q))
        short = rs.first_shortage(self.total - self.held, k)
        k = k if short is None else short - 1
        p1, r1 = rs.totals() if rs.n else (0.0, 0.0)
        tau1, delta, k = self.costs.chunk_line(rs.n, q, done, p1, r1, *rs.slopes(), k)
        k = self._cut(k, tau1, delta, self.horizon)
        self.partial = [rid, done + k * q]
        self._advance(k, tau1, delta, prefill=True)

    def _window_limit(self, done: int, q: int) -> float:
        """Iterations over which the chunk's window terms stay affine in its context: all
        keys inside the window (c + q <= W) or all capped (c >= W)."""
        w = self.costs.window
        if w == math.inf or done >= w:
            return math.inf
        if done + q > w:
            return 1
        return int((w - q - done) // q) + 1
