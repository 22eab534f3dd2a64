"""The torch kernels that both the profiling suite and the reference decoder run.

Sharing them means the profile measures exactly the code the validation decoder executes,
the way a real profile should measure the serving engine's own kernels.

All functions take torch tensors; torch is never imported at module import time.
"""

from __future__ import annotations

from typing import Any

Tensor = Any  # torch.Tensor, kept lazy


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    """RMSNorm: y = x / sqrt(mean(x², last dim) + eps) · weight."""
    torch = _torch()
    return torch.nn.functional.rms_norm(x, (x.shape[-1],), weight, eps)


def add_rms_norm(
    x: Tensor, residual: Tensor, weight: Tensor, eps: float = 1e-6
) -> tuple[Tensor, Tensor]:
    """Pre-norm residual step: r' = x + r; y = rms_norm(r'). Returns (y, r')."""
    summed = x + residual
    return rms_norm(summed, weight, eps), summed


def silu_mul(gate_up: Tensor) -> Tensor:
    """SwiGLU activation of a fused [gate | up] projection: silu(gate) · up (halves last dim)."""
    torch = _torch()
    gate, up = gate_up.chunk(2, dim=-1)
    return torch.nn.functional.silu(gate) * up


def rope_tables(
    positions: Tensor, head_dim: int, theta: float, dtype: Any
) -> tuple[Tensor, Tensor]:
    """cos/sin tables of rotary embeddings, shape (tokens, head_dim/2).

    angle(p, i) = p · theta^(−2i/head_dim), i = 0 … head_dim/2 − 1.
    """
    torch = _torch()
    inv = theta ** (
        -torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim
    )
    angles = positions.to(torch.float32)[:, None] * inv[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate halves (GPT-NeoX/Llama layout): [x1, x2] → [x1·cos − x2·sin, x2·cos + x1·sin].

    x: (batch, heads, tokens, head_dim); cos/sin: (tokens, head_dim/2) broadcast over batch/heads.
    """
    torch = _torch()
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def rope_qk(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """RoPE on the query and key heads of one layer (perfmodel's ``rope`` op)."""
    return apply_rope(q, cos, sin), apply_rope(k, cos, sin)


def cached_attention(
    q: Tensor, k: Tensor, v: Tensor, k_cache: Tensor, v_cache: Tensor, pos: int
) -> Tensor:
    """perfmodel's ``attn`` op of one layer: write the new k, v at positions pos … pos+s−1 of
    the cache, attend over the cache's first pos+s positions (causal prefill when s > 1, a
    decode token when s = 1) and return the output as (b, s, h·d) for o_proj.

    q: (b, h, s, d); k, v: (b, h_kv, s, d); caches: (b, h_kv, ≥ pos+s, d).
    """
    b, h, s, d = q.shape
    k_cache[:, :, pos : pos + s] = k
    v_cache[:, :, pos : pos + s] = v
    keys, values = k_cache[:, :, : pos + s], v_cache[:, :, : pos + s]
    out = attention_prefill(q, keys, values) if s > 1 else attention_decode(q, keys, values)
    return out.transpose(1, 2).reshape(b, s, h * d)


def attention_prefill(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Causal attention over a fresh prompt with GQA.

    q: (b, h, s, d); k, v: (b, h_kv, s, d); softmax(QKᵀ/√d + causal mask)·V via SDPA
    (flash/efficient kernels where the backend has them).
    """
    torch = _torch()
    gqa = q.shape[1] != k.shape[1]
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)


def attention_decode(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """One new token per sequence attending to its whole KV cache, GQA without copying K/V.

    q: (b, h, 1, d); k, v: (b, h_kv, L, d). The g = h/h_kv query heads that share a KV head
    are folded into the query-length axis, (b, h_kv, g, d), so SDPA reads each K/V once
    (no mask is needed: every query sees all L keys).
    """
    torch = _torch()
    b, h, _, d = q.shape
    h_kv = k.shape[1]
    grouped = q.reshape(b, h_kv, h // h_kv, d)
    out = torch.nn.functional.scaled_dot_product_attention(grouped, k, v)
    return out.reshape(b, h, 1, d)


def _torch() -> Any:
    from perfmodel.profiling._torch import require_torch

    return require_torch()
