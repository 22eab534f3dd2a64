"""The space of deployment plans a search covers (pydantic, validated at the boundary).

A plan is a GPU type, a replica's parallelism (tp x pp, ep for MoE), a quantization of weights /
activations / KV, the engine limits (max_num_seqs, the chunked-prefill token budget), and either
one aggregated replica or a disaggregated unit of x prefill and y decode replicas with their own
tp x pp (DistServe's per-phase parallelism).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import hardware_specs
from perfmodel.quant import Quant

PosInt = Annotated[int, Field(ge=1)]
Mode = Literal["aggregated", "disaggregated"]


def parse_quant(spec: str) -> Quant:
    """A Quant from a preset or dtype name ('bf16', 'fp8', 'w4a16') or an explicit
    'weights/activations/kv' triple ('fp8/fp8/fp8': fp8 weights, activations and KV)."""
    parts = str(spec).split("/")
    if len(parts) == 3:
        return Quant(*parts)
    if len(parts) != 1:
        raise ValueError(f"quant {spec!r}: give a name (fp8) or weights/activations/kv")
    return Quant.parse(spec)


class SearchSpace(BaseModel):
    """What a search may choose. Lists are the values tried; ``gpus`` None means every
    accelerator of the catalog; ``ep`` None means 1 for dense models and {1, tp} for MoE."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpus: list[str] | None = None
    tp: list[PosInt] = [1, 2, 4, 8]
    pp: list[PosInt] = [1, 2, 4]
    ep: list[PosInt] | None = None
    quant: list[str] = ["bf16", "fp8", "w4a16", "fp8/fp8/fp8"]
    max_num_seqs: list[PosInt] = [16, 32, 64, 128, 256, 512]
    token_budget: list[Annotated[int, Field(ge=2)]] = [512, 1024, 2048, 4096, 8192]
    modes: list[Mode] = ["aggregated", "disaggregated"]
    max_instances: Annotated[int, Field(ge=1, le=16)] = 4  # x and y of xPyD, each 1..this
    max_gpus_per_unit: PosInt = 64
    cross_node_tp: bool = False  # allow a tp group beyond one node's fast link
    memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9

    @field_validator("gpus")
    @classmethod
    def _known_gpus(cls, v):
        if v is None:
            return v
        if not v:
            raise ValueError("gpus: give at least one accelerator name (or omit for all)")
        return [hardware_specs.get(name).name for name in v]

    @field_validator("quant")
    @classmethod
    def _known_quant(cls, v):
        if not v:
            raise ValueError("quant: give at least one format, e.g. bf16")
        for q in v:
            parse_quant(q)
        return v

    @field_validator("tp", "pp", "max_num_seqs", "token_budget", "modes")
    @classmethod
    def _non_empty(cls, v, info):
        if not v:
            raise ValueError(f"{info.field_name}: give at least one value")
        return sorted(set(v))

    def accelerators(self) -> list:
        """The Accelerator objects the search covers."""
        names = self.gpus if self.gpus is not None else list(hardware_specs.catalog()["name"])
        return [hardware_specs.get(n) for n in names]
