"""Parallelism plan and the alpha-beta cost of the collectives it needs.

Collectives over n ranks with message M bytes per rank, link bandwidth beta (bytes/s per
direction) and latency alpha (s) (Thakur, Rabenseifner & Gropp 2005; NCCL's ring algorithms):
- ring all-reduce:  2(n-1)/n * M/beta + 2(n-1) * alpha
- all-gather, all-to-all: (n-1)/n * M/beta + (n-1) * alpha
- point-to-point: alpha + M/beta
A group that spans more GPUs than one node holds uses the scale-out NIC instead of the
intra-node link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import PerfModelError


@dataclass(frozen=True)
class Parallelism:
    """tp x pp GPUs per replica; dp replicas. MoE experts are split over ep ranks of the
    tp*dp group (each expert sharded over tp*dp/ep ranks), as in vLLM / SGLang expert
    parallelism. ``microbatches`` splits a step's batch for the pipeline."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    microbatches: int = 1

    def __post_init__(self) -> None:
        for field in ("tp", "pp", "ep", "dp", "microbatches"):
            value = getattr(self, field)
            if not isinstance(value, int | np.integer) or value < 1:
                raise PerfModelError(f"parallelism.{field} must be an integer >= 1, got {value!r}")
        if (self.tp * self.dp) % self.ep:
            raise PerfModelError(
                f"parallelism.ep={self.ep} must divide tp*dp={self.tp * self.dp} "
                "(experts are spread over the tp*dp ranks)"
            )

    @property
    def gpus_per_replica(self) -> int:
        return self.tp * self.pp

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def expert_tp(self) -> int:
        """Ranks each expert's FFN is sharded over: tp*dp/ep."""
        return self.tp * self.dp // self.ep

    def pipeline_bubble(self) -> float:
        """Idle fraction of a pipeline with m micro-batches: (pp-1)/(m+pp-1) (GPipe)."""
        return (self.pp - 1) / (self.microbatches + self.pp - 1)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def link(hardware, ranks: int) -> tuple[float, float]:
    """(bandwidth bytes/s, latency s) of a group of ``ranks`` GPUs: NVLink/PCIe within a node,
    the NIC beyond."""
    if ranks <= hardware.gpus_per_node:
        return hardware.link_bandwidth, hardware.link_latency_s
    return hardware.nic_bandwidth, hardware.nic_latency_s


def all_reduce_time(message, ranks: int, bandwidth: float, latency: float):
    """Ring all-reduce: 2(n-1)/n * M/beta + 2(n-1) * alpha; zero for one rank."""
    if ranks <= 1:
        return np.zeros_like(np.asarray(message, dtype=float))
    n = ranks
    return 2 * (n - 1) / n * np.asarray(message) / bandwidth + 2 * (n - 1) * latency


def all_to_all_time(message, ranks: int, bandwidth: float, latency: float):
    """All-to-all (and all-gather): (n-1)/n * M/beta + (n-1) * alpha; zero for one rank."""
    if ranks <= 1:
        return np.zeros_like(np.asarray(message, dtype=float))
    n = ranks
    return (n - 1) / n * np.asarray(message) / bandwidth + (n - 1) * latency


def p2p_time(message, bandwidth: float, latency: float):
    """Point-to-point send: alpha + M/beta."""
    return latency + np.asarray(message) / bandwidth
