"""The decode batch of one replica, in closed form between events.

Every running sequence gains one token per decode iteration, so a sequence is stored by its
offset ``o`` (context c = o + G, with G the replica's decode-iteration counter) and the value of
G at which it finishes. Totals over the batch are then affine in G: sum c = sum_o + n*G. The
KV blocks a sequence holds are ceil(c / B); between two iterations the batch needs one new
block for each sequence whose context is a multiple of B, so the blocks added by k iterations
follow from a histogram of the offsets modulo B (``new_blocks``, ``first_shortage``).

Sliding windows: a decode-class sequence attends min(c + 1, W) keys and reads min(c, W)
cached tokens on window layers; it is "young" while c <= W - 1 (both terms grow) and "old"
after (both stay at W). Epochs stop where a sequence ages, so totals stay affine.
"""

from __future__ import annotations

import heapq
import math


class RunningSet:
    """Sequences in the decode batch: offsets, finish iterations, block residues."""

    def __init__(self, block_size: int, window: float = math.inf, share: float = 0.0):
        self.B = block_size
        self.W = window
        self.share = share
        self.G = 0
        self.n = 0
        self.sum_o = 0
        self.n_young = 0
        self.sum_young = 0
        self.off: dict[int, int] = {}  # insertion order = admission order
        self.end: dict[int, int] = {}
        self.young: set[int] = set()
        self._finish: list[tuple[int, int]] = []
        self._aging: list[tuple[int, int]] = []
        self.hist = [0] * block_size  # sequences by (-o) mod B

    # ---- membership ---------------------------------------------------------------------
    def add(self, rid: int, context: int, remaining: int) -> None:
        """Join with ``context`` cached tokens and ``remaining`` >= 1 decode iterations."""
        o = context - self.G
        self.off[rid] = o
        self.end[rid] = self.G + remaining
        self.n += 1
        self.sum_o += o
        self.hist[-o % self.B] += 1
        heapq.heappush(self._finish, (self.G + remaining, rid))
        if self.share > 0 and context <= self.W - 1:
            self.young.add(rid)
            self.n_young += 1
            self.sum_young += o
            heapq.heappush(self._aging, (int(self.W) - o, rid))

    def remove(self, rid: int) -> tuple[int, int]:
        """Leave the batch; returns (context, decode iterations still to run)."""
        o = self.off.pop(rid)
        left = self.end.pop(rid) - self.G
        self.n -= 1
        self.sum_o -= o
        self.hist[-o % self.B] -= 1
        if rid in self.young:
            self.young.discard(rid)
            self.n_young -= 1
            self.sum_young -= o
        return o + self.G, left

    def context(self, rid: int) -> int:
        return self.off[rid] + self.G

    def contexts(self) -> list[int]:
        """Contexts of the batch in admission order (reference mode)."""
        return [o + self.G for o in self.off.values()]

    def newest(self) -> int:
        """The most recently admitted running sequence."""
        return next(reversed(self.off))

    def blocks(self) -> int:
        """KV blocks the batch holds: sum of ceil(c / B) (reference mode)."""
        return sum(-(-(o + self.G) // self.B) for o in self.off.values())

    # ---- events ---------------------------------------------------------------------------
    def until_finish(self) -> int:
        """Decode iterations until the next sequence finishes (inf when empty)."""
        heap = self._finish
        while heap and self.end.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] - self.G if heap else math.inf

    def pop_finished(self) -> list[tuple[int, int]]:
        """Remove the sequences whose last decode iteration has run: (rid, context)."""
        done = []
        while self.until_finish() <= 0:
            rid = heapq.heappop(self._finish)[1]
            done.append((rid, self.remove(rid)[0]))
        return done

    def until_aging(self) -> int:
        """Iterations until a young sequence's context reaches the window (inf: none)."""
        heap = self._aging
        while heap and not self._ages_at(*heap[0]):
            heapq.heappop(heap)
        return heap[0][0] - self.G if heap else math.inf

    def _ages_at(self, g: int, rid: int) -> bool:
        return rid in self.young and self.off[rid] == int(self.W) - g

    def age(self) -> None:
        """Move sequences whose context has reached the window to the old group."""
        while self.until_aging() <= 0:
            rid = heapq.heappop(self._aging)[1]
            self.young.discard(rid)
            self.n_young -= 1
            self.sum_young -= self.off[rid]

    # ---- totals -------------------------------------------------------------------------
    def totals(self, j: int = 1) -> tuple[float, float]:
        """Layer-averaged attended pairs and cached reads of decode iteration j (1-based)."""
        g = self.G + j - 1
        full_read = self.sum_o + self.n * g
        if self.share == 0.0:
            return float(full_read + self.n), float(full_read)
        young_read = self.sum_young + self.n_young * g
        win_read = young_read + (self.n - self.n_young) * self.W
        s = self.share
        pairs = (1 - s) * (full_read + self.n) + s * (win_read + self.n_young)
        return pairs, (1 - s) * full_read + s * win_read

    def slopes(self) -> tuple[float, float]:
        """Growth of (pairs, reads) per decode iteration (no sequence ageing)."""
        grow = (1 - self.share) * self.n + self.share * self.n_young
        return grow, grow

    def advance(self, k: int) -> None:
        self.G += k

    # ---- KV blocks ------------------------------------------------------------------------
    def need_next(self) -> int:
        """Blocks the next decode iteration adds (sequences whose context fills its blocks)."""
        return self.hist[self.G % self.B]

    def _rotated(self) -> list[int]:
        """Sequences by iterations until their next new block minus one: entry r counts
        sequences whose context is r below a multiple of B (r = 0: needs a block next)."""
        s = self.G % self.B
        return self.hist[s:] + self.hist[:s]

    def new_blocks(self, k: int) -> int:
        """Blocks the batch adds over the next k decode iterations."""
        if k <= 0 or self.n == 0:
            return 0
        q, rem = divmod(k, self.B)
        s, h = self.G % self.B, self.hist
        part = sum(h[s : s + rem]) + (sum(h[: s + rem - self.B]) if s + rem > self.B else 0)
        return self.n * q + part

    def first_shortage(self, free: int, limit: int) -> int | None:
        """First iteration j <= limit whose blocks exceed ``free``, or None."""
        if self.n == 0 or self.n * (limit // self.B + 1) <= free:
            return None
        q, spare = divmod(free, self.n)
        acc = 0
        for rem, count in enumerate(self._rotated(), start=1):
            acc += count
            if acc > spare:
                j = q * self.B + rem
                return j if j <= limit else None
        raise AssertionError("unreachable: a full cycle adds n blocks")
