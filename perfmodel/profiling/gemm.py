"""GEMM cases: y = x·Wᵀ with x (m tokens × k) and W (n × k); FLOPs = 2·m·n·k.

Shapes: a generic (n = k) grid plus the projections of the bundled models under tensor
parallelism (see `shapes.projection_shapes`), each over a grid of token counts m. Cases whose
FLOPs or operand bytes exceed the plan's caps are skipped (the suite records how many).
Weights rotate over copies (`cases.copies_for`) so every call reads them cold, as a decoder
streaming its layers does.
"""

from __future__ import annotations

from typing import Any

from perfmodel.profiling._torch import ELEMENT_BYTES, require_torch, torch_dtype
from perfmodel.profiling.cases import Case, Kernel, copies_for, rotation


def gemm_cases(
    tokens: list[int],
    nk_shapes: list[tuple[int, int]],
    dtypes: list[str],
    max_flops: float,
    max_bytes: float,
    cold_bytes: float = 0.0,
) -> tuple[list[Case], int]:
    """All (m, n, k, dtype) GEMM cases within the caps, and the number skipped by the caps."""
    cases, skipped = [], 0
    for dtype in dtypes:
        e = ELEMENT_BYTES[dtype]
        for n, k in nk_shapes:
            copies = copies_for(n * k * e, cold_bytes)
            for m in tokens:
                too_big = 2 * m * n * k > max_flops or (m * k + k * n + m * n) * e > max_bytes
                if too_big or (dtype == "fp8" and (m % 16 or n % 16 or k % 16)):
                    skipped += 1
                    continue
                shape = {"m": m, "n": n, "k": k}
                cases.append(Case("gemm", dtype, shape, _builder(m, n, k, dtype, copies)))
    return cases, skipped


def _builder(m: int, n: int, k: int, dtype: str, copies: int):
    def build(device: Any) -> Kernel:
        torch = require_torch()
        if dtype == "fp8":
            return _fp8_kernel(torch, m, n, k, device, copies)
        dt = torch_dtype(dtype)
        x = torch.randn(m, k, device=device, dtype=dt)
        weight = rotation(copies, lambda: torch.randn(n, k, device=device, dtype=dt), torch.clone)
        return lambda: torch.nn.functional.linear(x, weight())

    return build


def _fp8_kernel(torch: Any, m: int, n: int, k: int, device: Any, copies: int) -> Kernel:
    """Hopper fp8 (e4m3) GEMM via ``torch._scaled_mm``: row-major x, column-major Wᵀ, bf16 out."""
    x = torch.randn(m, k, device=device).to(torch.float8_e4m3fn)
    w = rotation(
        copies, lambda: torch.randn(n, k, device=device).to(torch.float8_e4m3fn), torch.clone
    )
    one = torch.ones((), device=device, dtype=torch.float32)
    return lambda: torch._scaled_mm(x, w().t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
