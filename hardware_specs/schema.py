"""Pydantic models of one accelerator spec (one YAML file in ``data/``).

Units follow the capplan convention: the YAML carries human units with the unit
in the field name (``hbm_gb_s``, ``memory_gib``, ``nic_gbit_s``); the properties
of :class:`Accelerator` convert to SI (bytes, bytes/s, seconds, FLOP/s).
GB = 1e9 bytes, GiB = 2**30 bytes.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
)

from hardware_specs.errors import HardwareSpecError

Dtype = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "int4"]
DTYPES: tuple[str, ...] = get_args(Dtype)
Kind = Literal["gpu", "tpu", "cpu", "npu"]

GIB = 2**30
GB = 1e9
TERA = 1e12
MICRO = 1e-6


class Interconnect(BaseModel):
    """Intra-node (scale-up) link of one accelerator, for the alpha-beta model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(min_length=1, description='e.g. "NVLink 4", "PCIe Gen4 x16", "ICI"')
    bandwidth_gb_s: PositiveFloat = Field(description="GB/s per direction per GPU")
    latency_us: PositiveFloat = Field(description="one-hop latency (alpha), microseconds")


class PriceQuote(BaseModel):
    """One price class of an accelerator-hour (reserved or spot), with its source and date.

    ``usd_per_hour`` is per GPU (or TPU chip): an instance price divided by the accelerators in
    the instance, which ``source`` says. Infinite and NaN prices are refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    usd_per_hour: PositiveFloat = Field(description="$ per GPU-hour")
    source: str = Field(min_length=1, description="provider / page name (and the per-GPU division)")
    date: datetime.date
    term: str | None = Field(
        default=None, description='commitment of a reserved price, e.g. "1yr" or "3yr"'
    )


class Price(BaseModel):
    """A reference on-demand price of one accelerator-hour, with optional price classes.

    ``reserved`` is a committed (1- or 3-year) price and ``spot`` an interruptible one, both per
    GPU-hour. Either may exceed ``usd_per_hour`` (providers differ; the planner warns about it);
    a missing class means the planner falls back to the on-demand price.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    usd_per_hour: PositiveFloat = Field(description="on-demand $ per GPU-hour")
    source: str = Field(min_length=1, description="provider / page name")
    date: datetime.date
    reserved: PriceQuote | None = Field(
        default=None, description="committed 1yr/3yr $ per GPU-hour (term says which)"
    )
    spot: PriceQuote | None = Field(default=None, description="spot / interruptible $ per GPU-hour")


class Accelerator(BaseModel):
    """Datasheet description of one accelerator.

    ``peak_tflops`` holds DENSE tensor/matrix peaks only (never the 2:4 sparsity
    figure), and only for the dtypes the chip supports.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    aliases: list[str]
    memory_gib: PositiveFloat
    hbm_gb_s: PositiveFloat
    peak_tflops: dict[Dtype, PositiveFloat] = Field(min_length=1)
    interconnect: Interconnect
    nic_gbit_s: PositiveFloat
    nic_latency_us: PositiveFloat = 5.0
    gpus_per_node: PositiveInt
    tdp_w: PositiveFloat
    price: Price
    sources: list[str] = Field(min_length=1)
    kind: Kind = "gpu"

    @field_validator("aliases", "sources")
    @classmethod
    def _no_blank_strings(cls, values: list[str]) -> list[str]:
        """Reject empty or whitespace-only entries."""
        if any(not v.strip() for v in values):
            raise ValueError("entries must be non-empty strings")
        return values

    def __hash__(self) -> int:
        """Hash by content so an Accelerator can key caches (lists are unhashable)."""
        return hash(self.model_dump_json())

    @property
    def memory_bytes(self) -> float:
        """Device memory capacity in bytes (``memory_gib * 2**30``)."""
        return self.memory_gib * GIB

    @property
    def mem_bandwidth(self) -> float:
        """Device memory bandwidth in bytes/s."""
        return self.hbm_gb_s * GB

    @property
    def link_bandwidth(self) -> float:
        """Intra-node link bandwidth in bytes/s per direction."""
        return self.interconnect.bandwidth_gb_s * GB

    @property
    def link_latency_s(self) -> float:
        """Intra-node one-hop latency in seconds."""
        return self.interconnect.latency_us * MICRO

    @property
    def nic_bandwidth(self) -> float:
        """Scale-out NIC bandwidth per GPU in bytes/s (bits / 8)."""
        return self.nic_gbit_s * GB / 8

    @property
    def nic_latency_s(self) -> float:
        """Scale-out one-hop latency in seconds."""
        return self.nic_latency_us * MICRO

    def peak_flops(self, dtype: str) -> float | None:
        """Dense peak FLOP/s for ``dtype``, or None if the chip lacks that dtype.

        Raises:
            HardwareSpecError: ``dtype`` is not one of :data:`DTYPES`.
        """
        key = dtype.lower()
        if key not in DTYPES:
            raise HardwareSpecError(f"unknown dtype {dtype!r}; accepted: {', '.join(DTYPES)}")
        tflops = self.peak_tflops.get(key)  # type: ignore[call-overload]
        return None if tflops is None else tflops * TERA

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the YAML fields (dates as ISO strings)."""
        return self.model_dump(mode="json")
