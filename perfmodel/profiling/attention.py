"""Attention cases: `kernels.cached_attention`, the reference decoder's whole ``attn`` op
(KV-cache write, SDPA, output layout).

prefill: causal attention over a fresh prompt of q_len = kv_len tokens, batch b, h query
heads, h_kv KV heads (GQA ratio h/h_kv); decode: one query token per sequence against a KV
cache of kv_len tokens (the new token's k, v written at position kv_len − 1). FLOPs and
bytes follow `ops.OPS`. Decode KV caches rotate over copies
(`cases.copies_for`) so each call reads them cold, as a decoder walking its layers does.
"""

from __future__ import annotations

from typing import Any

from perfmodel.profiling._torch import ELEMENT_BYTES, require_torch, torch_dtype
from perfmodel.profiling.cases import Case, Kernel, copies_for, rotation
from perfmodel.profiling.kernels import cached_attention

HeadShape = tuple[int, int, int]  # (heads, kv_heads, head_dim)


def prefill_cases(
    seq_lens: list[int],
    batches: list[int],
    heads: list[HeadShape],
    dtypes: list[str],
    max_flops: float,
) -> list[Case]:
    """Causal prefill cases over (dtype, head shape, batch, sequence length) within the cap."""
    cases = []
    for dtype in dtypes:
        for h, h_kv, d in heads:
            for b in batches:
                for s in seq_lens:
                    if 2 * b * h * d * s * (s + 1) > max_flops:
                        continue
                    shape = _shape(b, h, h_kv, d, s, s)
                    cases.append(
                        Case("attn_prefill", dtype, shape, _builder(shape, dtype, prefill=True))
                    )
    return cases


def decode_cases(
    kv_lens: list[int],
    batches: list[int],
    heads: list[HeadShape],
    dtypes: list[str],
    max_bytes: float,
    cold_bytes: float = 0.0,
) -> list[Case]:
    """Decode cases over (dtype, head shape, batch, KV length); K+V bytes capped at max_bytes."""
    cases = []
    for dtype in dtypes:
        for h, h_kv, d in heads:
            for b in batches:
                for kv in kv_lens:
                    kv_bytes = 2 * b * h_kv * kv * d * ELEMENT_BYTES[dtype]
                    if kv_bytes > max_bytes:
                        continue
                    shape = _shape(b, h, h_kv, d, 1, kv)
                    build = _builder(
                        shape, dtype, prefill=False, copies=copies_for(kv_bytes, cold_bytes)
                    )
                    cases.append(Case("attn_decode", dtype, shape, build))
    return cases


def _shape(b: int, h: int, h_kv: int, d: int, q: int, kv: int) -> dict[str, int]:
    return {"batch": b, "heads": h, "kv_heads": h_kv, "head_dim": d, "q_len": q, "kv_len": kv}


def _builder(shape: dict[str, int], dtype: str, prefill: bool, copies: int = 1):
    def build(device: Any) -> Kernel:
        torch = require_torch()
        dt = torch_dtype(dtype)
        b, h, h_kv, d = shape["batch"], shape["heads"], shape["kv_heads"], shape["head_dim"]
        s, kv = shape["q_len"], shape["kv_len"]
        q = torch.randn(b, h, s, d, device=device, dtype=dt)
        k, v = (
            torch.randn(b, h_kv, s, d, device=device, dtype=dt),
            torch.randn(b, h_kv, s, d, device=device, dtype=dt),
        )

        def caches() -> tuple[Any, Any]:
            return (torch.full((b, h_kv, kv, d), 0.01, device=device, dtype=dt),
                    torch.full((b, h_kv, kv, d), 0.01, device=device, dtype=dt))  # fmt: skip

        cache = rotation(copies, caches, lambda pair: (pair[0].clone(), pair[1].clone()))
        pos = kv - s
        return lambda: cached_attention(q, k, v, *cache(), pos)

    return build
