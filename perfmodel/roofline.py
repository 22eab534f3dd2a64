"""Time of each operator: max(FLOPs / peak, bytes / bandwidth) -- or the alpha-beta time of a
collective -- divided by the calibration's efficiency, plus the per-launch overhead."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .calibration import MIN_EFFICIENCY
from .dtypes import supported
from .errors import PerfModelError
from .ops import Op
from .parallel import all_reduce_time, all_to_all_time, link, p2p_time


class CalibrationDeviceWarning(UserWarning):
    """A measured profile is applied to a device other than the one it was measured on."""


@dataclass
class TimedOp:
    """An Op with its time (s) and binding resource per point."""

    op: Op
    time_s: np.ndarray
    compute_bound: np.ndarray


def peak(hardware, dtype: str) -> float:
    """Peak FLOP/s of the format the chip runs ``dtype`` in (falling back, e.g. fp8 -> bf16)."""
    value = hardware.peak_flops(supported(dtype, hardware.peak_flops))
    if not value:
        have = ", ".join(getattr(hardware, "peak_tflops", {}))
        raise PerfModelError(
            f"{hardware.name} has no peak for {dtype} (nor a wider format); it lists: {have}. "
            "Choose a quant format the chip supports"
        )
    return value


def comm_roofline(op: Op, hardware) -> np.ndarray:
    """Alpha-beta time of ``op.count`` collectives of ``bytes_act / count`` bytes each."""
    bandwidth, latency = link(hardware, op.ranks)
    message = op.bytes_act / op.count
    if op.collective == "all_reduce":
        one = all_reduce_time(message, op.ranks, bandwidth, latency)
    elif op.collective == "p2p":
        one = p2p_time(message, bandwidth, latency)
    else:
        one = all_to_all_time(message, op.ranks, bandwidth, latency)
    return op.count * one


def time_ops(ops: list[Op], hardware, calibration) -> list[TimedOp]:
    """Roofline time of every op under ``calibration``."""
    bandwidth = hardware.mem_bandwidth
    overhead = getattr(calibration, "kernel_overhead_s", {}) or {}
    timed = []
    for op in ops:
        nbytes = op.bytes_weight + op.bytes_act + op.bytes_kv
        if op.kind == "comm":
            roof = comm_roofline(op, hardware)
            compute_bound = np.zeros(roof.shape, dtype=bool)
        else:
            t_compute = op.flops / peak(hardware, op.dtype)
            t_memory = nbytes / bandwidth
            roof = np.maximum(t_compute, t_memory)
            compute_bound = t_compute >= t_memory
        eff = calibration.efficiency(
            op.kind, op.dtype, op.flops / op.count, nbytes / op.count, op=op.name, shape=op.shape()
        )
        eff = np.clip(np.nan_to_num(np.asarray(eff, dtype=float), nan=1.0), MIN_EFFICIENCY, None)
        active = (op.flops + nbytes) > 0
        time = np.where(active, roof / eff + op.count * overhead.get(op.kind, 0.0), 0.0)
        timed.append(TimedOp(op, time, compute_bound))
    return timed


def check_device(calibration, hardware) -> None:
    """Warn when a measured profile belongs to another device than ``hardware``."""
    device = getattr(calibration, "device", None)
    names = {hardware.name.lower(), *(a.lower() for a in getattr(hardware, "aliases", []))}
    if device and device.lower() not in names:
        warnings.warn(
            f"calibration {getattr(calibration, 'name', '?')!r} was measured on {device!r} "
            f"but is applied to {hardware.name!r}; efficiencies may not transfer",
            CalibrationDeviceWarning,
            stacklevel=3,
        )
