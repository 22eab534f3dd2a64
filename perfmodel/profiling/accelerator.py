"""A `hardware_specs.Accelerator` for the measured machine, from its profile.

Measured fields: ``peak_tflops[dtype]`` = best GEMM throughput measured in that dtype
(max over rows of 2·m·n·k / time); ``hbm_gb_s`` = best copy/triad rate over rows whose
working set is ≥ 4× the last-level cache (STREAM rule; the largest sizes if none is);
``memory_gib`` = device memory (system RAM for a CPU); with collectives measured, the
interconnect bandwidth = best all-reduce bus bandwidth 2(n−1)/n·M/t and latency = smallest
all-reduce time / (2(n−1)).

Fields a single CPU lacks (documented placeholders, listed in ``sources``): no scale-up link,
so ``interconnect`` is a shared-memory copy (bandwidth = the measured memory bandwidth,
latency = the smallest measured copy time); ``nic_gbit_s`` is the speed of the first network
interface /sys reports (10 Gbit/s if unreadable); ``tdp_w`` 10 W per thread; ``price`` a
typical on-demand $0.04 per vCPU-hour. A GPU profile takes these from the catalog entry of
the same device when there is one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.provenance import Provenance

PLACEHOLDER_NOTE = (
    "placeholders (not measured): interconnect = shared-memory copy, tdp_w = 10 W/thread, "
    "price = $0.04/vCPU-hour, nic = first interface speed from /sys"
)


def best_gemm_tflops(table: pd.DataFrame) -> dict[str, float]:
    """Best measured GEMM TFLOP/s per dtype: max(flops / time_s) / 1e12."""
    rows = table[table["op"] == "gemm"]
    rate = rows["flops"] / rows["time_s"] / 1e12
    return {str(k): float(v) for k, v in rate.groupby(rows["dtype"]).max().items()}


def stream_bandwidth(table: pd.DataFrame, cache_bytes: int | None) -> float:
    """Best copy/triad bytes/s at working sets ≥ 4× ``cache_bytes`` (else at the largest size)."""
    rows = table[table["op"].isin(["copy", "triad"])]
    if rows.empty:
        raise ProfileError("the profile has no copy/triad rows: cannot derive memory bandwidth")
    big = rows[rows["bytes"] >= 4 * cache_bytes] if cache_bytes else rows.iloc[0:0]
    if big.empty:
        big = rows[rows["numel"] == rows["numel"].max()]
    return float((big["bytes"] / big["time_s"]).max())


def link_from_collectives(table: pd.DataFrame) -> tuple[float, float] | None:
    """(bandwidth bytes/s, latency s) from all-reduce rows, or None without any."""
    rows = table[table["op"] == "all_reduce"]
    if rows.empty:
        return None
    n = rows["world_size"].clip(lower=2).to_numpy(float)
    t = rows["time_s"].to_numpy(float)
    busbw = 2 * (n - 1) / n * rows["bytes"].to_numpy(float) / t
    return float(busbw.max()), float(np.min(t / (2 * (n - 1))))


def derive_accelerator(table: pd.DataFrame, prov: Provenance):
    """The Accelerator of the profiled machine (name = ``prov.accelerator``)."""
    from hardware_specs import Accelerator

    peaks = best_gemm_tflops(table)
    if not peaks:
        raise ProfileError("the profile has no GEMM rows: cannot derive peak FLOP/s")
    base = catalog_entry(prov)
    copies = table["op"].isin(["copy", "triad"]).any()
    if not copies and base is not None:  # published kernel tables: no STREAM rows
        bandwidth = base.mem_bandwidth
    else:
        bandwidth = stream_bandwidth(table, prov.last_level_cache_bytes)
    threads = prov.threads or 1
    interconnect = _interconnect(table, bandwidth, base, link_from_collectives(table))
    return Accelerator(
        name=prov.accelerator if base is None else f"{base.name}-measured",
        vendor=_vendor(prov.device),
        aliases=[f"{prov.device} ({threads} threads)"] if prov.device_type == "cpu" else [],
        memory_gib=(prov.memory_bytes or 2**30) / 2**30,
        hbm_gb_s=bandwidth / 1e9,
        peak_tflops=peaks,
        interconnect=interconnect,
        nic_gbit_s=base.nic_gbit_s if base is not None else _nic_gbit_s(),
        nic_latency_us=base.nic_latency_us if base is not None else 5.0,
        gpus_per_node=base.gpus_per_node if base is not None else 1,
        tdp_w=base.tdp_w if base is not None else 10.0 * threads,
        price=base.price if base is not None else _placeholder_price(threads),
        sources=_sources(prov, base),
        kind="cpu" if prov.device_type == "cpu" else "gpu",
    )


def _interconnect(table: pd.DataFrame, bandwidth: float, base, measured):
    """Measured all-reduce link, else the catalog entry's, else a shared-memory copy."""
    from hardware_specs import Interconnect

    if measured:
        bw, latency = measured
        return Interconnect(
            kind="measured all-reduce", bandwidth_gb_s=bw / 1e9, latency_us=max(latency * 1e6, 1e-3)
        )
    if base is not None:
        return base.interconnect
    return Interconnect(
        kind="none (single device; shared-memory copy)",
        bandwidth_gb_s=bandwidth / 1e9,
        latency_us=max(_smallest_copy_s(table) * 1e6, 1e-3),
    )


def catalog_entry(prov: Provenance):
    """The catalog Accelerator of a GPU profile's device, or None (CPU, or not in the
    catalog)."""
    if prov.device_type == "cpu":
        return None
    import hardware_specs

    try:
        return hardware_specs.get(prov.accelerator)
    except hardware_specs.HardwareSpecError:
        return None


def _sources(prov: Provenance, base) -> list[str]:
    measured = f"measured: {prov.source}, {prov.date}, {prov.device}"
    if base is not None:
        return [measured, f"unmeasured fields from catalog entry {base.name}"]
    return [measured, PLACEHOLDER_NOTE]


def _smallest_copy_s(table: pd.DataFrame) -> float:
    rows = table[table["op"] == "copy"]
    return float(rows["time_s"].min()) if len(rows) else 1e-6


def _vendor(device: str) -> str:
    for vendor in ("AMD", "Intel", "NVIDIA", "Apple", "Arm", "Ampere"):
        if vendor.lower() in device.lower():
            return vendor
    return device.split()[0] if device.strip() else "unknown"


def _nic_gbit_s() -> float:
    """Speed (Gbit/s) of the first non-loopback interface /sys reports, else 10."""
    for path in sorted(Path("/sys/class/net").glob("*/speed")):
        if path.parent.name == "lo":
            continue
        try:
            mbit = float(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if mbit > 0:
            return mbit / 1000
    return 10.0


def _placeholder_price(threads: int):
    from hardware_specs import Price

    return Price(usd_per_hour=0.04 * threads, source="placeholder: typical $0.04 per vCPU-hour",
                 date=dt.date.today())  # fmt: skip
