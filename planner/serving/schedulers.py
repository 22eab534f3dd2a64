"""Scheduler configurations of one replica (pydantic, validated at the boundary).

- ContinuousBatching: vLLM's default scheduler (prefill-first): waiting prompts are admitted
  while a sequence slot (max_num_seqs) and free KV blocks remain and are prefilled in their own
  iteration (up to max_num_batched_tokens); otherwise every running sequence decodes one token.
  When KV blocks run out, the newest running sequence is preempted (recomputed later).
- ChunkedPrefill: Sarathi-Serve's stall-free batching (vLLM chunked prefill): each iteration
  holds every running decode plus prefill chunks filling the token budget.
- StaticBatching: a batch of up to batch_size waiting requests is prefilled together and
  decodes until its longest request ends; arrivals wait for the next batch.
- Disaggregated: separate prefill and decode replicas (DistServe / Splitwise); the KV cache of
  each prompt moves over the link from a prefill to a decode replica.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Sched(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    block_size: Annotated[int, Field(ge=1)] = 16


class ContinuousBatching(_Sched):
    kind: Literal["continuous"] = "continuous"
    max_num_seqs: Annotated[int, Field(ge=1)] = 256
    max_num_batched_tokens: Annotated[int, Field(ge=1)] = 8192


class ChunkedPrefill(_Sched):
    kind: Literal["chunked"] = "chunked"
    max_num_seqs: Annotated[int, Field(ge=1)] = 256
    token_budget: Annotated[int, Field(ge=2)] = 512


class StaticBatching(_Sched):
    kind: Literal["static"] = "static"
    batch_size: Annotated[int, Field(ge=1)] = 8


class Disaggregated(_Sched):
    kind: Literal["disaggregated"] = "disaggregated"
    prefill_replicas: Annotated[int, Field(ge=1)] = 1
    decode_replicas: Annotated[int, Field(ge=1)] = 1
    max_num_seqs: Annotated[int, Field(ge=1)] = 256
    max_num_batched_tokens: Annotated[int, Field(ge=1)] = 8192
    same_node: bool = True  # KV moves over NVLink/PCIe when true, else over the NIC
    # the prefill replicas' own tp x pp (DistServe's per-phase parallelism); None: the
    # decode replicas' plan
    prefill_tp: Annotated[int, Field(ge=1)] | None = None
    prefill_pp: Annotated[int, Field(ge=1)] | None = None


Scheduler = ContinuousBatching | ChunkedPrefill | StaticBatching | Disaggregated
NAMES = {
    "continuous": ContinuousBatching,
    "vllm": ContinuousBatching,
    "chunked": ChunkedPrefill,
    "sarathi": ChunkedPrefill,
    "static": StaticBatching,
    "disaggregated": Disaggregated,
    "distserve": Disaggregated,
}


def parse_scheduler(spec) -> Scheduler:
    """A scheduler from an instance, a name ('continuous', 'chunked', 'static',
    'disaggregated') or a dict with a 'kind'."""
    if isinstance(spec, ContinuousBatching | ChunkedPrefill | StaticBatching | Disaggregated):
        return spec
    if spec is None:
        return ContinuousBatching()
    if isinstance(spec, str):
        spec = {"kind": spec}
    kind = str(spec.get("kind", "continuous")).lower()
    if kind not in NAMES:
        from perfmodel.errors import unknown

        raise unknown("scheduler", kind, sorted(NAMES))
    return NAMES[kind](**{k: v for k, v in spec.items() if k != "kind"})


def engine_scheduler(profile, hardware, spec):
    """``spec`` with the fields it leaves unset taken from an engine profile's defaults on
    ``hardware`` (hardware_specs.engines.EngineProfile.scheduler_for); an instance or a
    missing profile passes through."""
    if profile is None or isinstance(spec, _Sched):
        return spec
    base = profile.scheduler_for(hardware)
    spec = {"kind": spec} if isinstance(spec, str) else dict(spec or {})
    kind = str(spec.get("kind", base["kind"])).lower()
    cls = NAMES.get(kind)
    if cls is None:
        return spec | {"kind": kind}  # parse_scheduler names the unknown kind
    fields = set(cls.model_fields) - {"kind"}
    return {k: v for k, v in base.items() if k in fields} | spec | {"kind": kind}
