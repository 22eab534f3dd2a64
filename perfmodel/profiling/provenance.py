"""Provenance of a measured profile: which machine, software and method produced it."""

from __future__ import annotations

import datetime as dt
import platform
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SUITE_VERSION = "1.0"


class Provenance(BaseModel):
    """Everything needed to judge whether a profile applies to a machine (YAML sidecar)."""

    model_config = ConfigDict(extra="forbid")

    device: str = Field(description="device string as the driver/OS reports it")
    accelerator: str = Field(description="hardware_specs name the profile calibrates")
    device_type: str = Field(description="'cpu' or 'cuda'")
    device_count: int = 1
    driver: str | None = None
    torch_version: str | None = None
    cuda_version: str | None = None
    cpu_model: str | None = None
    threads: int | None = None
    clocks_mhz: dict[str, float] = Field(default_factory=dict)
    memory_bytes: int | None = None
    last_level_cache_bytes: int | None = Field(
        default=None, description="CPU last-level cache, or the GPU's L2, in bytes"
    )
    date: str
    suite_version: str = SUITE_VERSION
    timing_method: str
    quick: bool | None = None
    source: str = "capplan profile"
    notes: list[str] = Field(default_factory=list)


def slugify(text: str) -> str:
    """Lower-case, [a-z0-9-] only: ``"AMD EPYC (2 threads)"`` → ``"amd-epyc-2-threads"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else `platform.processor()`."""
    info = _read("/proc/cpuinfo")
    match = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    return match.group(1).strip() if match else (platform.processor() or "unknown CPU")


def cpu_clock_mhz() -> float | None:
    """Current clock of the first CPU in MHz (from /proc/cpuinfo), if readable."""
    match = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", _read("/proc/cpuinfo"), re.M)
    return float(match.group(1)) if match else None


def memory_bytes() -> int | None:
    """Physical memory (MemTotal of /proc/meminfo) in bytes, if readable."""
    match = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    return int(match.group(1)) * 1024 if match else None


def last_level_cache_bytes() -> int | None:
    """Largest CPU cache (bytes) from /sys/devices/system/cpu/cpu0/cache, if readable."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        text = _read(str(index / "size")).strip()
        match = re.fullmatch(r"(\d+)([KMG]?)", text)
        if match:
            scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[match.group(2)]
            sizes.append(int(match.group(1)) * scale)
    return max(sizes) if sizes else None


def cpu_accelerator_name(model: str, threads: int) -> str:
    """Catalog name of a measured CPU: ``cpu-<model slug>-<threads>t``."""
    return f"cpu-{slugify(model)}-{threads}t"


def collect(device: Any, timing_method: str, quick: bool | None = None) -> Provenance:
    """Provenance of the current process for the torch ``device`` being profiled."""
    from perfmodel.profiling._torch import require_torch

    torch = require_torch()
    common = {
        "torch_version": torch.__version__,
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "timing_method": timing_method,
        "quick": quick,
        "last_level_cache_bytes": last_level_cache_bytes(),
    }
    if device.type == "cuda":
        return _cuda_provenance(torch, device, common)
    clock = cpu_clock_mhz()
    model = common["cpu_model"]
    return Provenance(
        device=model,
        accelerator=cpu_accelerator_name(model, common["threads"]),
        device_type="cpu",
        driver=f"{platform.system()} {platform.release()}",
        clocks_mhz={"cpu": clock} if clock else {},
        memory_bytes=memory_bytes(),
        **common,
    )


def _cuda_provenance(torch: Any, device: Any, common: dict[str, Any]) -> Provenance:
    props = torch.cuda.get_device_properties(device)
    name = props.name
    return Provenance(
        device=name,
        accelerator=catalog_name_for(name),
        device_type="cuda",
        device_count=torch.cuda.device_count(),
        driver=_nvidia_driver(),
        cuda_version=torch.version.cuda,
        clocks_mhz=_nvidia_clocks(),
        memory_bytes=int(props.total_memory),
        **(common | {"last_level_cache_bytes": int(getattr(props, "L2_cache_size", 0)) or None}),
    )


def catalog_name_for(device: str) -> str:
    """hardware_specs name matching ``device`` (torch's device name, e.g. "NVIDIA H100 80GB
    HBM3"): tried as is, without the vendor word, then its first model word ("H100"); else a
    slug of the device string."""
    import hardware_specs

    words = device.split()
    bare = words[1:] if words and words[0].upper() in ("NVIDIA", "AMD", "INTEL") else words
    for candidate in (device, " ".join(bare), bare[0] if bare else ""):
        try:
            return hardware_specs.get(candidate).name
        except Exception:
            continue
    return slugify(device)


def _nvidia_driver() -> str | None:
    """The kernel module's version from /proc, else NVML's (some VMs have no /proc entry)."""
    text = _read("/proc/driver/nvidia/version")
    match = re.search(r"Kernel Module\s+([\d.]+)", text)
    if match:
        return match.group(1)
    try:
        import pynvml  # optional, ships with nvidia-ml-py

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:
        return None


def _nvidia_clocks() -> dict[str, float]:
    """SM and memory clocks (MHz) from NVML via torch, when available."""
    try:
        import pynvml  # optional, ships with nvidia-ml-py

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        return {
            "sm": float(pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)),
            "memory": float(pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM)),
        }
    except Exception:
        return {}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
