"""A measurable case: one op at one shape and dtype, and how to build its kernel."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

Kernel = Callable[[], Any]
T = TypeVar("T")

#: Upper bound on rotated operand copies (bounds the memory a cold-cache case allocates).
MAX_COPIES = 32


@dataclass(frozen=True)
class Case:
    """One row of the profile before timing.

    ``build(device)`` allocates the inputs and returns a zero-argument kernel to time; tensors
    live as long as the returned closure.
    """

    op: str
    dtype: str
    shape: dict[str, int]
    build: Callable[[Any], Kernel] = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity used to drop duplicate cases (same op, dtype and shape)."""
        return (self.op, self.dtype, tuple(sorted(self.shape.items())))


def dedupe(cases: list[Case]) -> list[Case]:
    """Keep the first case of each (op, dtype, shape), preserving order."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for case in cases:
        if case.key not in seen:
            seen.add(case.key)
            out.append(case)
    return out


def copies_for(operand_bytes: float, cold_bytes: float) -> int:
    """Copies of an operand to rotate through so the working set reaches ``cold_bytes``.

    Weights (and KV caches) of a real model stream from DRAM/HBM, not from the cache that a
    kernel repeated on the same buffers would hit: rotating over c = ceil(cold_bytes / size)
    copies (cold_bytes = 4× the last-level cache) makes each call read cold operands.
    """
    if operand_bytes <= 0 or cold_bytes <= operand_bytes:
        return 1
    return min(MAX_COPIES, math.ceil(cold_bytes / operand_bytes))


def rotation(
    copies: int, make: Callable[[], T], clone: Callable[[T], T] | None = None
) -> Callable[[], T]:
    """``copies`` objects (``make()`` once, then ``clone`` of it, default ``make()`` again);
    each call of the result returns the next in turn."""
    first = make()
    clone = clone or (lambda _: make())
    cycle = itertools.cycle([first] + [clone(first) for _ in range(max(1, copies) - 1)])
    return lambda: next(cycle)
