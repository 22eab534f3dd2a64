"""One replica's iteration loop with epoch skipping; the continuous-batching (vLLM, prefill
first) and static-batching policies.

The loop, at each iteration boundary: take the requests that have arrived, let the policy run
an iteration that admits work (``_schedule``), otherwise run a decode epoch, otherwise idle
until the next arrival. A decode epoch is the longest run of pure-decode iterations with no
event inside: it ends at the next finish, the next KV shortage, the next sliding-window ageing
or, when the queue is empty and admission could start, at the first boundary after the next
arrival. Its iterations take tau1 + (j - 1) * delta (exact, see sim_costs), so it costs O(1).
``exact=True`` runs one iteration per epoch with times from the explicit sequences (reference
mode for tests) and cross-checks the block count every iteration.

KV blocks (block size B): a sequence of c cached tokens holds ceil(c / B) blocks. Admission
needs the blocks of the tokens to prefill plus a watermark of 1% of the blocks (vLLM's
default), waived when the replica is empty. Before a decode iteration, if the new blocks it
needs exceed the free ones, the most recently admitted running sequence is preempted (blocks
freed, back to the front of the queue, recomputed later: prompt + generated tokens).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque

from .engine import Engine
from .sim_costs import StepCosts
from .sim_running import RunningSet
from .sim_state import Counters, Inbox, Requests

WATERMARK = 0.01


class SimulationError(RuntimeError):
    """An internal invariant of the simulator failed (a bug, not a property of the input)."""


class Replica(ABC):
    """Iteration loop shared by the policies; subclasses define ``_schedule``."""

    cut_at_arrivals = True  # an arrival can start work before the running batch ends
    kv_grows = True  # blocks follow the context (False: reserved at admission)

    def __init__(
        self,
        engine: Engine,
        costs: StepCosts,
        reqs: Requests,
        inbox: Inbox,
        exact: bool = False,
    ):
        self.engine, self.costs, self.reqs, self.inbox = engine, costs, reqs, inbox
        self.sched = engine.scheduler
        self.exact = exact
        self.B = self.sched.block_size
        self.total = engine.kv_tokens // self.B
        self.watermark = max(1, round(WATERMARK * self.total))
        self.held = 0
        self.rs = RunningSet(self.B, costs.window, costs.share)
        self.waiting: deque[int] = deque()
        self.clock = 0.0
        self.horizon = math.inf
        self.c = Counters(kv_blocks=self.total)
        self.last_decode = 0.0  # end of the last iteration in which the batch decoded
        self.fresh: dict[int, float] = {}  # joined since then: rid -> time of its token

    # ---- main loop ----------------------------------------------------------------------
    def run(self, until: float = math.inf) -> None:
        """Simulate until the clock reaches ``until`` (at an iteration boundary) or, for
        until = inf, until every request that reaches the inbox has finished."""
        self.horizon = until
        while self.clock < until:
            self._receive()
            self.rs.age()
            if self._schedule():
                continue
            if self._busy():
                self._decode_epoch(self._stop(until))
            elif not self._idle(until):
                return

    def _receive(self) -> None:
        self.waiting.extend(self.inbox.pop_until(self.clock))

    def _busy(self) -> bool:
        return self.rs.n > 0

    def _stop(self, until: float) -> float:
        """Time whose first later boundary ends the decode epoch (arrivals that could be
        admitted at once, and the caller's horizon)."""
        if self.waiting or not self.cut_at_arrivals:
            return until
        return min(until, self.inbox.peek())

    def _idle(self, until: float) -> bool:
        """Jump to the next arrival; False when none comes before ``until``."""
        if self.waiting:
            raise SimulationError("an empty replica could not admit the head of its queue")
        nxt = self.inbox.peek()
        if nxt >= until:
            if until < math.inf:
                self.clock = max(self.clock, until)
            return False
        self.clock = max(self.clock, nxt)
        return True

    @abstractmethod
    def _schedule(self) -> bool:
        """Run the policy's admitting iteration(s) if it has one now; True when the state
        changed (an iteration ran, requests joined or were preempted)."""

    # ---- KV blocks ------------------------------------------------------------------------
    def blocks(self, tokens: int) -> int:
        return -(-tokens // self.B)

    def _fits(self, need: int, alone: bool) -> bool:
        free = self.total - self.held
        return need <= free if alone else need + self.watermark <= free

    def _release(self, rid: int, context: int) -> None:
        self.held -= self.blocks(context)

    def _held_reference(self) -> int:
        return self.rs.blocks()

    def _check_blocks(self) -> None:
        if self.held > self.total:
            raise SimulationError(f"KV blocks in use {self.held} exceed {self.total}")
        if self.exact and self.kv_grows and self.held != self._held_reference():
            raise SimulationError(f"block ledger {self.held} != {self._held_reference()}")
        self.c.peak_kv_blocks = max(self.c.peak_kv_blocks, self.held)

    def _fit_next(self) -> bool:
        """Preempt the newest sequences until the next decode iteration's new blocks fit;
        False when something was preempted."""
        ok = True
        while self.kv_grows and self.rs.need_next() > self.total - self.held:
            self._preempt(self._victim())
            ok = False
        return ok

    def _victim(self) -> int:
        return self.rs.newest()

    def _preempt(self, rid: int) -> None:
        self.fresh.pop(rid, None)
        context, left = self.rs.remove(rid)
        self._release(rid, context)
        reqs = self.reqs
        reqs.gen[rid] = reqs.O[rid] - left
        self._requeue(rid)

    def _requeue(self, rid: int) -> None:
        reqs = self.reqs
        reqs.todo[rid] = reqs.P[rid] + reqs.gen[rid]
        reqs.preempt[rid] += 1
        self.c.preemptions += 1
        self.waiting.appendleft(rid)
        self.c.mark(self.clock, self.rs.n)

    # ---- decode epochs --------------------------------------------------------------------
    def _decode_epoch(self, stop: float) -> None:
        rs = self.rs
        if not self._fit_next():
            return
        k = min(rs.until_finish(), rs.until_aging())
        if self.kv_grows:
            short = rs.first_shortage(self.total - self.held, k)
            k = k if short is None else short - 1
        if self.exact:
            tau1, delta, k = self._explicit_decode(), 0.0, 1
        else:
            p1, r1 = rs.totals()
            tau1, delta, k = self.costs.decode_line(rs.n, p1, r1, *rs.slopes(), k)
        self._advance(self._cut(k, tau1, delta, stop), tau1, delta, prefill=False)

    def _explicit_decode(self) -> float:
        ctx = self.rs.contexts()
        return self.costs.explicit([1] * len(ctx), ctx, [1] * len(ctx))

    def _cut(self, k: int, tau1: float, delta: float, stop: float) -> int:
        """Iterations to run: k, or fewer to end at the first boundary at or after stop."""
        t0 = self.clock

        def end(j: int) -> float:
            return t0 + j * tau1 + j * (j - 1) / 2 * delta

        if stop == math.inf or end(k) < stop:
            return k
        gap, b = stop - t0, tau1 - delta / 2
        if delta == 0:
            root = gap / tau1
        elif b > 0:
            root = 2 * gap / (b + math.sqrt(b * b + 2 * delta * gap))
        else:
            root = (-b + math.sqrt(max(b * b + 2 * delta * gap, 0.0))) / delta
        j = max(1, min(k, math.ceil(root)))
        while j > 1 and end(j - 1) >= stop:
            j -= 1
        while end(j) < stop:
            j += 1
        return j

    def _advance(self, k: int, tau1: float, delta: float, prefill: bool) -> None:
        """Run k iterations whose decodes all advance one token; finish who is done."""
        self._record_gaps(k, tau1, delta)
        self._step(k, tau1, delta, prefill)
        self._check_blocks()
        self._finish_decodes()

    def _record_gaps(self, k: int, tau1: float, delta: float) -> None:
        """Time between tokens of the running sequences over the next k iterations: the
        first one adds any stall (prefill iterations) since each sequence's last token."""
        n, t, c = self.rs.n, self.clock, self.c
        if n == 0:
            return
        stall, fresh = t - self.last_decode, self.fresh
        self.last_decode = t + (k * tau1 + k * (k - 1) / 2 * delta)  # as _step's clock
        if stall == 0.0 and not fresh:
            c.gap_lines.append((t, tau1, delta, k, n, 1))
            return
        if n > len(fresh):
            c.gap_points.append((t, tau1 + stall, n - len(fresh)))
        for joined in fresh.values():
            c.gap_points.append((t, tau1 + t - joined, 1))
        fresh.clear()
        if k > 1:
            c.gap_lines.append((t, tau1, delta, k, n, 2))

    def _step(self, k: int, tau1: float, delta: float, prefill: bool) -> None:
        """Clock, decode contexts, blocks and counters after k iterations."""
        self.clock += k * tau1 + k * (k - 1) / 2 * delta
        if self.kv_grows:
            self.held += self.rs.new_blocks(k)
        self.rs.advance(k)
        self.c.iterations += k
        self.c.prefill_iterations += k if prefill else 0
        self.c.epochs += 1

    def _finish_decodes(self) -> None:
        done = self.rs.pop_finished()
        for rid, context in done:
            self.reqs.gen[rid] = self.reqs.O[rid]
            self.reqs.finish[rid] = self.clock
            self._release(rid, context)
            self.inbox.finished(rid, self.clock)
        if done:
            self.c.mark(self.clock, self.rs.n)

    # ---- prefill iterations ---------------------------------------------------------------
    def _prefill(self, rids: list[int]) -> None:
        """One iteration prefilling ``rids`` (``todo`` tokens each, from scratch)."""
        todo = [self.reqs.todo[r] for r in rids]
        if self.exact:
            tau = self.costs.explicit(todo, [0] * len(todo), [1] * len(todo))
        else:
            tau = self.costs.prefill(todo)
        self.clock += tau
        self.c.iterations += 1
        self.c.prefill_iterations += 1
        self.c.epochs += 1
        for rid, q in zip(rids, todo):
            self._prefilled(rid, q)
        self._check_blocks()
        self.c.mark(self.clock, self.rs.n)

    def _prefilled(self, rid: int, context: int) -> None:
        """``rid`` has ``context`` tokens of KV and emits a token now; it finishes or joins
        the decode batch."""
        reqs = self.reqs
        reqs.todo[rid] = 0
        if reqs.emit(rid, self.clock):
            self._release(rid, context)
            self.inbox.finished(rid, self.clock)
        else:
            self.rs.add(rid, context, reqs.O[rid] - reqs.gen[rid])
            self.fresh[rid] = self.clock


class ContinuousReplica(Replica):
    """vLLM's default scheduler: waiting prompts that fit (FCFS: sequence slots, the token
    budget, KV blocks) are prefilled in an iteration of their own; otherwise all running
    sequences decode. Requests whose KV is already computed (``todo`` = 0: disaggregated
    decode replicas) join the batch without an iteration and emit their first token then."""

    def _schedule(self) -> bool:
        batch = self._admit()
        if not batch:
            return False
        compute = [r for r in batch if self.reqs.todo[r] > 0]
        for rid in batch:
            if self.reqs.todo[rid] == 0:
                self._prefilled(rid, self.reqs.P[rid])
        if compute:
            self._prefill(compute)
        else:
            self._check_blocks()
            self.c.mark(self.clock, self.rs.n)
        return True

    def _admit(self) -> list[int]:
        reqs, out, tokens = self.reqs, [], 0
        budget, slots = self.sched.max_num_batched_tokens, self.sched.max_num_seqs
        while self.waiting and self.rs.n + len(out) < slots:
            rid = self.waiting[0]
            q = reqs.todo[rid]
            if q and tokens and tokens + q > budget:
                break
            need = self.blocks(q or reqs.P[rid])
            if not self._fits(need, alone=not self.rs.n and not out):
                break
            self.held += need
            out.append(self.waiting.popleft())
            tokens += q
        return out


class StaticReplica(Replica):
    """Static batching: when the batch is empty, up to batch_size waiting requests are taken
    (FCFS), prefilled in one iteration and decoded until the longest ends; a finished request
    leaves the decode batch (no compute) and arrivals wait for the next batch. KV for each
    request's full length (input + output) is reserved at admission, so nothing is
    preempted."""

    cut_at_arrivals = False
    kv_grows = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alloc: dict[int, int] = {}

    def _release(self, rid: int, context: int) -> None:
        self.held -= self.alloc.pop(rid)

    def _schedule(self) -> bool:
        if self.rs.n or not self.waiting:
            return False
        batch, reqs = [], self.reqs
        while self.waiting and len(batch) < self.sched.batch_size:
            rid = self.waiting[0]
            need = self.blocks(reqs.P[rid] + reqs.O[rid])
            if need > self.total - self.held:
                break
            self.alloc[rid] = need
            self.held += need
            batch.append(self.waiting.popleft())
        self._prefill(batch)
        return True
