"""Numeric formats: storage bytes (with quantization scales) and the compute format of a GEMM.

Scale overheads (bytes per element on top of the packed value):
- int4 (AWQ/GPTQ, group 128): one fp16 scale per group -> 2/128 (zeros packed in 4 bits are
  ignored); Lin et al. 2024 (AWQ), Frantar et al. 2023 (GPTQ).
- fp4 (NVFP4): one fp8 (E4M3) scale per 16 values -> 1/16; NVIDIA Blackwell NVFP4 format.
- fp8 / int8: per-channel or 128x128 block scales; < 0.1% of the weight bytes, ignored.
"""

from __future__ import annotations

from .errors import unknown

#: Bytes per element of each storage format, including quantization scales.
STORAGE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5 + 2.0 / 128,
    "fp4": 0.5 + 1.0 / 16,
}

ALIASES = {
    "float32": "fp32",
    "float": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float8": "fp8",
    "fp8_e4m3": "fp8",
    "e4m3": "fp8",
    "nvfp4": "fp4",
    "mxfp4": "fp4",
    "w4": "int4",
    "awq": "int4",
    "gptq": "int4",
}

#: Where a chip lacks a tensor-core format, the next one it would fall back to.
FALLBACK = {
    "fp4": "fp8",
    "fp8": "bf16",
    "int8": "fp16",
    "int4": "int8",
    "bf16": "fp16",
    "fp16": "fp32",
    "tf32": "fp32",
}

LOW_PRECISION = {"fp8", "int8", "fp4", "int4"}


def canonical(dtype: str, field: str = "dtype") -> str:
    """Canonical name of a format ('bfloat16' -> 'bf16'); unknown names list the closest."""
    key = str(dtype).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in STORAGE_BYTES:
        raise unknown(field, str(dtype), STORAGE_BYTES)
    return key


def nbytes(dtype: str) -> float:
    """Storage bytes per element of ``dtype`` (scales included)."""
    return STORAGE_BYTES[canonical(dtype)]


def gemm_format(weights: str, activations: str) -> str:
    """Tensor-core format a GEMM runs in: the activation format (W8A8 -> fp8/int8, W4A4 -> fp4,
    weight-only W4A16/W8A16 dequantize to bf16/fp16), except W4A8 which runs in int8."""
    return "int8" if (weights, activations) == ("int4", "int8") else activations


def supported(dtype: str, peak_of) -> str:
    """Walk FALLBACK from ``dtype`` until ``peak_of(format)`` is known (fp32 at the end)."""
    fmt = dtype
    while peak_of(fmt) is None and fmt in FALLBACK:
        fmt = FALLBACK[fmt]
    return fmt
