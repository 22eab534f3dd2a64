"""How far below the roofline each operator class runs: the calibration protocol, the ideal
roofline, and the documented default efficiencies.

time of an op = roofline time / efficiency + count * kernel_overhead_s, where the roofline time
is max(FLOPs / peak FLOP/s, bytes / bandwidth) (Williams, Waterman & Patterson 2009) and, for
collectives, the alpha-beta time. Measured profiles (perfmodel.profiling) implement the same
protocol with efficiencies interpolated from measurements.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

OpClass = Literal["gemm", "attn_prefill", "attn_decode", "memory", "comm"]
OP_CLASSES: tuple[str, ...] = ("gemm", "attn_prefill", "attn_decode", "memory", "comm")
#: Lowest efficiency an op may get (a floor against 0 and NaN, not a model): a 20 µs kernel
#: moving 4 kB on a 4.8 TB/s GPU, measured, runs at 4e-5 of its roofline.
MIN_EFFICIENCY = 1e-6


@runtime_checkable
class Calibration(Protocol):
    """Achieved fraction of the roofline per kernel instance (flops, nbytes per instance)."""

    name: str
    device: str | None

    def efficiency(
        self,
        op_class: str,
        dtype: str,
        flops: np.ndarray,
        nbytes: np.ndarray,
        op: str | None,
        shape: dict | None,
    ):
        """Array of efficiencies in (0, ~1.5]: time = roofline time / efficiency. ``op`` is
        perfmodel's operator name (``norm``, ``rope``, ...) and ``shape`` its attention shape
        (`perfmodel.ops.Op.shape`), for calibrations that key on them."""
        ...


@dataclass(frozen=True)
class Efficiencies:
    """Constant efficiency per op class plus a fixed time per kernel launch."""

    name: str
    by_class: dict[str, float]
    kernel_overhead_s: dict[str, float] = field(default_factory=dict)
    device: str | None = None
    description: str = ""

    def efficiency(self, op_class: str, dtype: str, flops, nbytes, op=None, shape=None):
        return np.full(np.shape(flops), self.by_class[op_class], dtype=float)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "efficiency": dict(self.by_class),
            "kernel_overhead_s": dict(self.kernel_overhead_s),
        }


#: The pure roofline at datasheet peaks.
IDEAL = Efficiencies(
    "ideal", dict.fromkeys(OP_CLASSES, 1.0), description="ideal: datasheet peaks, pure roofline"
)

#: Documented defaults for GPUs without a measured profile (sources in docs/calibration.md):
#: - gemm 0.75: cuBLAS reaches 70-80% of the dense tensor-core peak on large bf16 GEMMs and
#:   75-85% of HBM bandwidth on the skinny GEMMs of decode (NVIDIA "Matrix Multiplication
#:   Background" guide; vLLM/TensorRT-LLM decode GEMV measurements).
#: - attn_prefill 0.60: FlashAttention-2 forward reaches 50-73% of A100 peak (Dao 2023);
#:   FlashAttention-3 ~75% of H100 (Shah et al. 2024).
#: - attn_decode 0.70: paged / split-KV decode kernels reach 60-80% of HBM bandwidth
#:   (FlashDecoding, FlashInfer, Ye et al. 2025).
#: - memory 0.75: fused elementwise and norm kernels reach ~70-85% of HBM bandwidth
#:   (STREAM-like copy on A100/H100 reaches ~90%; small kernels less).
#: - comm 0.80: NCCL bus bandwidth reaches ~75-85% of the NVLink peak on large messages
#:   (nccl-tests on DGX A100/H100).
#: - kernel overhead 2 us per launch under CUDA graphs (launch gaps measured in vLLM traces).
DEFAULT = Efficiencies(
    "default",
    {"gemm": 0.75, "attn_prefill": 0.60, "attn_decode": 0.70, "memory": 0.75, "comm": 0.80},
    {"gemm": 2e-6, "attn_prefill": 2e-6, "attn_decode": 2e-6, "memory": 2e-6, "comm": 0.0},
    description="datasheet constants: datasheet peaks x documented efficiencies per op class",
)

NAMED = {"ideal": IDEAL, "default": DEFAULT}


def resolve(calibration) -> Calibration:
    """'ideal' / 'default' / 'learned' (curves learned across the shipped GPU profiles, see
    perfmodel.profiling.learned) / a shipped profile's name or a profile directory / a
    Calibration object (e.g. a loaded profile)."""
    if isinstance(calibration, str):
        key = calibration.strip().lower()
        if key == "learned":
            from .profiling.learned import learned

            return learned()
        return NAMED[key] if key in NAMED else _profile_named(calibration)
    if not isinstance(calibration, Calibration):
        from .errors import PerfModelError

        raise PerfModelError(
            "calibration must be 'ideal', 'default' or a measured profile "
            f"(an object with .efficiency()), got {type(calibration).__name__}"
        )
    return calibration


def _profile_named(name: str) -> Calibration:
    """The measured profile called ``name`` (shipped) or stored in the directory ``name``,
    loaded once per process (its efficiency curves are built on first use and kept)."""
    from pathlib import Path

    from .errors import unknown
    from .profiling import PROFILES_DIR, list_profiles

    for folder in (Path(name), PROFILES_DIR / name):
        table = folder / "profile.csv"
        if table.is_file():
            return _load_profile(str(folder.resolve()), table.stat().st_mtime_ns)
    raise unknown("calibration", name, [*NAMED, "learned", *list_profiles()])


@functools.lru_cache(maxsize=16)
def _load_profile(folder: str, mtime_ns: int) -> Calibration:
    """A profile by its resolved folder; ``mtime_ns`` keys the cache so a rewritten profile
    loads again."""
    from .profiling import load_profile

    return load_profile(folder)


def describe(calibration: Calibration) -> str:
    """Which data a prediction used: measured profile (source, version), or the constants."""
    return getattr(calibration, "description", "") or calibration.name
