"""Efficiency learned across measured GPUs, for a GPU that has no table of its own.

Every measured kernel i of a profiled GPU g (catalog peak P_g(dtype), bandwidth B_g) is placed
in coordinates that carry over between GPUs:

    x = log10(intensity_i / ridge_g),   ridge_g = P_g / B_g        (where on the roofline)
    y = log10(roofline_i / 1 µs),       roofline_i = max(F_i/P_g, bytes_i/B_g)   (how big)

and the efficiency eff_i = roofline_i / time_i is pooled per op class (gemm, attn_prefill,
attn_decode) and dtype over all training GPUs (fp8 GEMMs reach a smaller share of their
doubled peak than bf16 ones: pooled, they pulled the bf16 curve down), the median in cells of
¼ × ¼ decade, filled from
the nearest cell where no GPU measured, then bilinear between cell centres, held at the edge.
A kernel of intensity below the ridge is memory-bound on every GPU; one whose roofline is a few
microseconds pays the launch floor on every GPU: those are the regularities the coordinates
keep. Collectives and classes no training profile measured (elementwise memory ops in
published tables) use perfmodel's DEFAULT efficiency. `--calibration learned` binds the curves
to the target GPU's catalog peaks; `benchmarks/learned_logo.py` validates leave-one-GPU-out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perfmodel.profiling.calibrate import Roofline, clip
from perfmodel.profiling.profile import GPU_SIBLING, serving_dtype

#: Classes learned. Collectives are not: leave-one-GPU-out, a curve pooled over 4 GPUs' links
#: missed the fifth by 32-83% (median), worse than the DEFAULT constant (26-86%).
CLASSES = ("gemm", "attn_prefill", "attn_decode")
CELL = 0.25  # decades per cell, both axes
#: The shipped profiles imported from AIConfigurator, by the catalog GPU each describes.
IMPORTED_PROFILES = {
    "H200-SXM": "h200-sxm-aic-vllm",
    "H100-SXM": "h100-sxm-aic-vllm",
    "A100-SXM4-80GB": "a100-sxm4-80gb-aic-vllm",
    "L40S": "l40s-aic-vllm",
    "B200": "b200-aic-vllm",
}
DEFAULT_PROFILES = tuple(IMPORTED_PROFILES.values())


@dataclass(frozen=True)
class Grid:
    """Median efficiency on a regular (x, y) grid; evaluated bilinearly, held at the edge."""

    x0: float
    y0: float
    values: np.ndarray  # (nx, ny), no NaN

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        from scipy.interpolate import RegularGridInterpolator

        nx, ny = self.values.shape
        xs = self.x0 + CELL * (np.arange(nx) + 0.5)
        ys = self.y0 + CELL * (np.arange(ny) + 0.5)
        if nx < 2 or ny < 2:
            return np.full(np.shape(x), float(np.median(self.values)))
        interp = RegularGridInterpolator((xs, ys), np.log10(self.values), bounds_error=False)
        pts = np.column_stack([np.clip(x, xs[0], xs[-1]), np.clip(y, ys[0], ys[-1])])
        return 10.0 ** interp(pts)


def coordinates(flops, nbytes, peak: float, bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of kernels on a GPU of ``peak`` FLOP/s and ``bandwidth`` bytes/s (see module)."""
    flops, nbytes = np.asarray(flops, float), np.maximum(np.asarray(nbytes, float), 1.0)
    ridge = peak / bandwidth
    roof = np.maximum(flops / peak, nbytes / bandwidth)
    x = np.log10(np.maximum(flops / nbytes, 1e-3) / ridge)
    return x, np.log10(np.maximum(roof, 1e-12) / 1e-6)


def fit_grid(x: np.ndarray, y: np.ndarray, eff: np.ndarray) -> Grid:
    """Median efficiency per cell; empty cells take the nearest filled cell's value."""
    from scipy.interpolate import NearestNDInterpolator

    ix, iy = np.floor(x / CELL).astype(int), np.floor(y / CELL).astype(int)
    frame = pd.DataFrame({"ix": ix, "iy": iy, "log_eff": np.log10(eff)})
    cells = frame.groupby(["ix", "iy"])["log_eff"].median().reset_index()
    nx, ny = ix.max() - ix.min() + 1, iy.max() - iy.min() + 1
    gx, gy = np.meshgrid(np.arange(nx) + ix.min(), np.arange(ny) + iy.min(), indexing="ij")
    fill = NearestNDInterpolator(cells[["ix", "iy"]].to_numpy(), cells["log_eff"].to_numpy())
    values = 10.0 ** fill(gx, gy)
    return Grid(ix.min() * CELL, iy.min() * CELL, values)


def training_points(
    profile, op_class: str, dtype: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, eff) of a profile's rows of ``op_class`` (and ``dtype``: its GPU sibling's rows
    too, fp16 ↔ bf16) against its catalog roofline."""
    rows = profile.table[profile.table.op_class == op_class]
    if dtype is not None:
        rows = rows[rows.dtype.isin({dtype, GPU_SIBLING.get(dtype, dtype)})]
    if rows.empty:
        return np.empty(0), np.empty(0), np.empty(0)
    ref = Roofline.of(profile.reference)
    eff = ref.time(rows) / rows.time_s.to_numpy(float)
    peaks = rows.dtype.map(lambda t: ref.peak_flops(t) or np.nan).to_numpy(float)
    x, y = coordinates(rows.flops, rows.bytes, peaks, ref.bandwidth)
    ok = np.isfinite(eff) & (eff > 0) & np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok], eff[ok]


@dataclass
class LearnedCalibration:
    """Per-class grids learned from ``sources``; ``for_hardware(acc)`` binds the target GPU."""

    sources: tuple[str, ...]
    grids: dict[str, Grid]
    hardware: object = None
    name: str = "learned"
    device: str | None = None
    kernel_overhead_s: dict[str, float] = field(default_factory=dict)
    vendors: tuple[str, ...] = ()  # of the training GPUs

    @classmethod
    def fit(cls, profiles: list) -> LearnedCalibration:
        """One grid per (class, dtype) the profiles measured (fp16 and bf16 as one)."""
        grids = {}
        for op_class in CLASSES:
            measured = pd.concat([p.table.dtype[p.table.op_class == op_class] for p in profiles])
            dtypes = {"bf16" if t == "fp16" else t for t in measured.unique()}
            for dtype in sorted(dtypes):
                pts = [training_points(p, op_class, dtype) for p in profiles]
                x, y, eff = (np.concatenate(parts) for parts in zip(*pts, strict=True))
                if len(eff) >= 4:
                    grids[grid_key(op_class, dtype)] = fit_grid(x, y, eff)
        names = tuple(p.provenance.accelerator for p in profiles)
        vendors = tuple(dict.fromkeys(p.reference.vendor for p in profiles))
        return cls(names, grids, vendors=vendors)

    @property
    def description(self) -> str:
        """The curves' sources, and a warning when the bound GPU's vendor is not theirs: the
        error measured leave-one-GPU-out (docs/validation.md) is among their vendor's GPUs,
        whose kernels (cuBLAS, FlashAttention) another vendor's stack does not share."""
        text = f"learned curve across {len(self.sources)} profiled GPUs ({', '.join(self.sources)})"
        vendor = getattr(self.hardware, "vendor", None)
        if vendor and self.vendors and vendor not in self.vendors:
            text += (
                f"; {vendor} is not among their vendors ({', '.join(self.vendors)}): expect a "
                "wider error than measured leave-one-GPU-out among them"
            )
        return text

    def for_hardware(self, hardware) -> LearnedCalibration:
        """These curves bound to ``hardware``'s catalog peaks and bandwidth."""
        return LearnedCalibration(self.sources, self.grids, hardware, vendors=self.vendors)

    def efficiency(self, op_class, dtype, flops, nbytes, op=None, shape=None) -> np.ndarray:
        from perfmodel import DEFAULT
        from perfmodel.dtypes import supported

        flops = np.asarray(flops, dtype=float)
        hw = self.hardware
        if hw is None:
            return DEFAULT.efficiency(op_class, dtype, flops, nbytes)
        run = supported(dtype, hw.peak_flops)  # the dtype the GPU runs (fp8 on an A100: bf16)
        grid = self._grid(op_class, run)
        if grid is None:
            return DEFAULT.efficiency(op_class, dtype, flops, nbytes)
        peak = hw.peak_flops(run)
        nbytes = np.broadcast_to(np.asarray(nbytes, dtype=float), flops.shape)
        x, y = coordinates(flops.ravel(), nbytes.ravel(), peak, hw.mem_bandwidth)
        return clip(grid(x, y).reshape(flops.shape), op_class)

    def _grid(self, op_class: str, dtype: str) -> Grid | None:
        """The grid of ``dtype`` (fp16 as bf16), else along the profiles' dtype fallback."""
        key = serving_dtype(lambda t: grid_key(op_class, t) in self.grids, dtype)
        return self.grids.get(grid_key(op_class, key))


def grid_key(op_class: str, dtype: str) -> str:
    """Key of the learned grid of one class and dtype."""
    return f"{op_class}/{dtype}"


@functools.cache
def learned(names: tuple[str, ...] = DEFAULT_PROFILES) -> LearnedCalibration:
    """The curves learned from the shipped profiles ``names`` (fitted once per process)."""
    from perfmodel.profiling.store import load_profile

    return LearnedCalibration.fit([load_profile(n) for n in names])
