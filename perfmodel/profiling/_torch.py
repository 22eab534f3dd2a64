"""Lazy torch access: the only place the profiling package imports torch.

`import perfmodel` must work without torch, so every torch-using function calls
`require_torch()` at run time. A missing torch raises `TorchMissingError` whose message is
the single line the CLI prints.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

TORCH_MISSING = 'torch is not installed: pip install "capplan[profile]"'

#: Profile dtype names → torch attribute names.
TORCH_DTYPES: dict[str, str] = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp8": "float8_e4m3fn",
}

#: Bytes per element for each profile dtype (known without torch).
ELEMENT_BYTES: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}


class TorchMissingError(ImportError):
    """torch is not importable; the message is the one-line install hint."""


def require_torch() -> ModuleType:
    """Import and return torch, or raise `TorchMissingError` with the install hint."""
    try:
        import torch
    except ImportError:
        raise TorchMissingError(TORCH_MISSING) from None
    return torch


def torch_dtype(name: str) -> Any:
    """The torch dtype for a profile dtype name (``fp32``, ``bf16``, ``fp16``, ``fp8``)."""
    torch = require_torch()
    if name not in TORCH_DTYPES:
        raise ValueError(f"unknown dtype {name!r}; accepted: {sorted(TORCH_DTYPES)}")
    return getattr(torch, TORCH_DTYPES[name])


def resolve_device(name: str | None = None) -> Any:
    """``"auto"``/None → ``cuda`` when a GPU is visible, else ``cpu``; otherwise as given."""
    torch = require_torch()
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def fp8_supported(device: Any) -> bool:
    """fp8 GEMM needs a CUDA device of compute capability ≥ 8.9 and ``torch._scaled_mm``."""
    torch = require_torch()
    if device.type != "cuda" or not hasattr(torch, "_scaled_mm"):
        return False
    return torch.cuda.get_device_capability(device) >= (8, 9)
