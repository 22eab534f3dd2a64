"""Per-component quantization: weights, activations and KV cache formats."""

from __future__ import annotations

from dataclasses import dataclass

from .dtypes import LOW_PRECISION, canonical, gemm_format, nbytes
from .errors import PerfModelError

#: Named presets accepted wherever a Quant is: "<weights>" alone means W=A=KV for 16/32-bit
#: formats, and W-only (A and KV bf16) for low-precision ones, except the W8A8 presets below.
PRESETS: dict[str, tuple[str, str, str]] = {
    "fp8": ("fp8", "fp8", "bf16"),
    "w8a8-fp8": ("fp8", "fp8", "bf16"),
    "w8a8-int8": ("int8", "int8", "bf16"),
    "w4a16": ("int4", "bf16", "bf16"),
    "awq": ("int4", "fp16", "fp16"),
    "gptq": ("int4", "fp16", "fp16"),
    "nvfp4": ("fp4", "fp4", "fp8"),
    "w4a8": ("int4", "int8", "bf16"),
}


@dataclass(frozen=True)
class Quant:
    """Storage formats of the weights, activations and KV cache (canonical dtype names).

    Embeddings, norms and the router stay in the 16-bit format (as vLLM keeps them).
    """

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"

    def __post_init__(self) -> None:
        for field in ("weights", "activations", "kv"):
            object.__setattr__(self, field, canonical(getattr(self, field), f"quant.{field}"))
        if self.activations == "int4":
            raise PerfModelError(
                "quant.activations='int4' is not a GEMM format; use int8, fp8 or fp4"
            )

    @classmethod
    def parse(cls, spec: Quant | str | dict | None, default: str = "bf16") -> Quant:
        """A Quant from a Quant, a preset name, a dtype name or a dict of fields."""
        if spec is None:
            spec = default
        if isinstance(spec, Quant):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        key = str(spec).strip().lower()
        if key in PRESETS:
            return cls(*PRESETS[key])
        fmt = canonical(key, "quant")
        if fmt in LOW_PRECISION:
            return cls(fmt, "bf16", "bf16")
        return cls(fmt, fmt, fmt)

    @property
    def gemm(self) -> str:
        """Tensor-core format of the linear layers."""
        return gemm_format(self.weights, self.activations)

    @property
    def half(self) -> str:
        """The 16/32-bit format kept for embeddings, norms, router, attention math, comms."""
        return self.activations if self.activations not in LOW_PRECISION else "bf16"

    @property
    def bytes_weight(self) -> float:
        return nbytes(self.weights)

    @property
    def bytes_act(self) -> float:
        return nbytes(self.activations)

    @property
    def bytes_half(self) -> float:
        return nbytes(self.half)

    @property
    def bytes_kv(self) -> float:
        return nbytes(self.kv)

    def to_dict(self) -> dict[str, str]:
        return {"weights": self.weights, "activations": self.activations, "kv": self.kv}
