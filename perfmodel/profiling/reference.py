"""A reference Llama-style decoder in plain torch, built from a `perfmodel.ModelSpec`.

Per layer (pre-norm): r ← x + r, h = RMSNorm(r); [q|k|v] = h·W_qkvᵀ; RoPE on q, k; write k, v
into the KV cache; GQA attention (causal SDPA for a prefill, grouped SDPA against the whole
cache for a decode token); x = o·W_oᵀ; r ← x + r, h = RMSNorm(r); x = W_down·(silu(g)·u) with
[g|u] = h·W_gate_upᵀ. After the last layer: final norm and the LM head on each sequence's last
token. Weights are random (timing does not depend on their values). The kernels are those of
`kernels`, which the profiling suite measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfmodel.profiling._torch import require_torch, torch_dtype
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.kernels import (
    add_rms_norm,
    cached_attention,
    rms_norm,
    rope_qk,
    rope_tables,
    silu_mul,
)


@dataclass(frozen=True)
class DecoderDims:
    """The shapes the reference decoder needs (dense, gated-MLP, GQA models only)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    rope_theta: float = 10000.0
    eps: float = 1e-6

    @classmethod
    def from_spec(cls, spec) -> DecoderDims:
        """Dims of a `perfmodel.ModelSpec`; MoE, MLA and non-gated MLPs are rejected."""
        if spec.moe or spec.mla or not spec.gated_mlp:
            raise ProfileError(
                f"model {spec.name!r}: the reference decoder covers dense Llama-style models "
                "(GQA attention, SwiGLU MLP); MoE, MLA and plain MLPs are not supported"
            )
        return cls(spec.hidden_size, spec.num_layers, spec.num_heads, spec.num_kv_heads,
                   spec.head_dim, spec.intermediate_size, spec.vocab_size)  # fmt: skip


class ReferenceDecoder:
    """Random-weight decoder; ``step(tokens, cache, pos)`` runs one engine step."""

    def __init__(self, dims: DecoderDims, dtype: str = "fp32", device: Any = "cpu", seed: int = 0):
        torch = require_torch()
        self.dims, self.dtype, self.device = dims, torch_dtype(dtype), torch.device(device)
        gen = torch.Generator(device=self.device).manual_seed(seed)  # weights drawn in place
        d, hd = dims.hidden, dims.head_dim
        qkv = (dims.heads + 2 * dims.kv_heads) * hd
        self.embed = self._param(gen, dims.vocab, d)
        self.layers = [
            {
                "ln1": self._ones(d),
                "wqkv": self._param(gen, qkv, d),
                "wo": self._param(gen, d, dims.heads * hd),
                "ln2": self._ones(d),
                "w_gate_up": self._param(gen, 2 * dims.intermediate, d),
                "w_down": self._param(gen, d, dims.intermediate),
            }
            for _ in range(dims.layers)
        ]
        self.norm = self._ones(d)
        self.lm_head = self._param(gen, dims.vocab, d)

    def _param(self, gen: Any, rows: int, cols: int) -> Any:
        """Weights ~ U(−1/√cols, 1/√cols), like torch.nn.Linear's init."""
        torch = require_torch()
        w = torch.empty(rows, cols, device=self.device, dtype=torch.float32)
        w.uniform_(-1, 1, generator=gen)
        return (w * cols**-0.5).to(device=self.device, dtype=self.dtype)

    def _ones(self, n: int) -> Any:
        torch = require_torch()
        return torch.ones(n, device=self.device, dtype=self.dtype)

    def new_cache(self, batch: int, max_len: int) -> list[tuple[Any, Any]]:
        """Per-layer (K, V) caches of shape (batch, kv_heads, max_len, head_dim), filled with
        finite values (touched pages, so reads hit memory, not the zero page)."""
        torch = require_torch()
        shape = (batch, self.dims.kv_heads, max_len, self.dims.head_dim)

        def one() -> Any:
            return torch.empty(shape, device=self.device, dtype=self.dtype).fill_(0.01)

        return [(one(), one()) for _ in range(self.dims.layers)]

    def step(self, tokens: Any, cache: list[tuple[Any, Any]], pos: int) -> Any:
        """Process ``tokens`` (batch, s) at positions pos … pos+s−1; returns the last token's
        logits (batch, vocab). s > 1 with pos = 0 is a prefill, s = 1 a decode step."""
        torch = require_torch()
        s = tokens.shape[1]
        cos, sin = rope_tables(torch.arange(pos, pos + s, device=self.device),
                               self.dims.head_dim, self.dims.rope_theta, self.dtype)  # fmt: skip
        x = self.embed[tokens]
        residual = torch.zeros_like(x)
        for layer, (k_cache, v_cache) in zip(self.layers, cache, strict=True):
            h, residual = add_rms_norm(x, residual, layer["ln1"], self.dims.eps)
            attn = self._attention(h, layer, k_cache, v_cache, pos, cos, sin)
            h, residual = add_rms_norm(attn, residual, layer["ln2"], self.dims.eps)
            up = torch.nn.functional.linear(h, layer["w_gate_up"])
            x = torch.nn.functional.linear(silu_mul(up), layer["w_down"])
        h = rms_norm(x[:, -1] + residual[:, -1], self.norm, self.dims.eps)
        return torch.nn.functional.linear(h, self.lm_head)

    def _attention(
        self, h: Any, layer: dict, k_cache: Any, v_cache: Any, pos: int, cos: Any, sin: Any
    ) -> Any:
        torch = require_torch()
        dims = self.dims
        b, s, _ = h.shape
        qkv = torch.nn.functional.linear(h, layer["wqkv"]).view(
            b, s, dims.heads + 2 * dims.kv_heads, dims.head_dim
        )
        q, k, v = (
            t.transpose(1, 2) for t in qkv.split([dims.heads, dims.kv_heads, dims.kv_heads], dim=2)
        )
        q, k = rope_qk(q, k, cos, sin)
        out = cached_attention(q, k, v, k_cache, v_cache, pos)
        return torch.nn.functional.linear(out, layer["wo"])
