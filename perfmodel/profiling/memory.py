"""Memory-bound cases: STREAM copy and triad (bandwidth), and the decoder's elementwise/norm
ops (residual add + RMSNorm, SwiGLU silu·mul, RoPE), over element counts.

copy: a ← b; triad: a ← b + s·c (STREAM). The bandwidth of the machine is the best copy/triad
rate at working sets ≥ 4× the last-level cache (the STREAM rule), see `calibrate`.
"""

from __future__ import annotations

from typing import Any

from perfmodel.profiling._torch import require_torch, torch_dtype
from perfmodel.profiling.cases import Case, Kernel
from perfmodel.profiling.kernels import add_rms_norm, rope_qk, rope_tables, silu_mul

MEMORY_OPS = ("copy", "triad", "add_rmsnorm", "silu_mul", "rope")


def memory_cases(
    sizes: list[int], dtypes: list[str], hidden: int = 1024, head_dim: int = 64
) -> list[Case]:
    """Cases of every memory op at every element count (rounded to whole rows of ``hidden``)."""
    cases = []
    for dtype in dtypes:
        for numel in sizes:
            width = min(hidden, numel)
            rows = max(1, numel // width)
            n = rows * width
            for op in MEMORY_OPS:
                shape = {"numel": n, "n": width} if op == "add_rmsnorm" else {"numel": n}
                cases.append(Case(op, dtype, shape, _builder(op, rows, width, head_dim, dtype)))
    return cases


def _builder(op: str, rows: int, hidden: int, head_dim: int, dtype: str):
    def build(device: Any) -> Kernel:
        torch = require_torch()
        dt = torch_dtype(dtype)
        x = torch.randn(rows, hidden, device=device, dtype=dt)
        if op == "copy":
            dst = torch.empty_like(x)
            return lambda: dst.copy_(x)
        if op == "triad":
            y, dst = torch.randn_like(x), torch.empty_like(x)
            return lambda: torch.add(x, y, alpha=3.0, out=dst)
        if op == "silu_mul":
            gate_up = torch.randn(rows, 2 * hidden, device=device, dtype=dt)
            return lambda: silu_mul(gate_up)
        if op == "add_rmsnorm":
            residual, w = torch.randn_like(x), torch.ones(hidden, device=device, dtype=dt)
            return lambda: add_rms_norm(x, residual, w)
        # RoPE on q and k with a 3:1 GQA split of the row (query heads : KV heads)
        hd = min(head_dim, hidden)
        heads = max(1, hidden // hd)
        kv_heads = max(1, heads // 4)
        xh = x.view(1, rows, heads, hd).transpose(1, 2)
        q, k = xh[:, : heads - kv_heads], xh[:, heads - kv_heads :]
        cos, sin = rope_tables(torch.arange(rows, device=device), hd, 10000.0, dt)
        return lambda: rope_qk(q, k, cos, sin)

    return build
