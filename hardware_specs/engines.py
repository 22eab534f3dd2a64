"""Serving-engine profiles: what a real engine adds to the GPU's step time, as validated data.

One YAML file per engine version in ``data/engines/`` (user directories in
``$CAPPLAN_ENGINE_PATH`` override by name). A profile holds
- the scheduler defaults the engine ships with (kind, max_num_seqs, token budget, memory
  share, block size) and hardware-dependent overrides (vLLM V1 raises its limits on GPUs of
  at least 70 GiB other than the A100);
- the admission policy: ``prompt`` (vLLM, SGLang: admit while the prompt's KV fits, preempt
  later) or ``prompt_and_output`` (TensorRT-LLM's GUARANTEED_NO_EVICT: reserve the prompt and
  the maximum output up front);
- CUDA graphs: pure-decode steps (``decode``) or any step up to a token count (``piecewise``)
  are padded up to the next captured size; larger steps run eagerly;
- the host-time model: per iteration the host adds the time it does not hide behind the GPU,
  ``step_s + per_seq_s * sequences + per_token_s * tokens`` plus ``eager_step_s`` when the
  step is not a captured graph (kernel launches), plus ``per_collective_s`` per tensor-parallel
  collective of the step (the engine's all-reduce: NCCL's small-message latency is many
  times the link latency that capplan's alpha-beta model charges). These are fitted to cited
  measurements (``fit`` records how); engines that overlap scheduling with the GPU fit
  smaller values;
- ``multi_step``: decode steps per scheduler invocation (vLLM 0.5-0.6
  ``--num-scheduler-steps``): the host terms of pure-decode steps are paid once per k steps;
- ``gpu_time_scale``: an optional multiplier of the GPU time per accelerator (fitted where
  an engine's kernels on a vendor differ from the kernel data capplan has).
Every value carries a source in ``sources`` (field -> citation).
"""

from __future__ import annotations

import difflib
import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, ValidationError

from hardware_specs.errors import HardwareSpecError
from hardware_specs.loader import read_mapping

ENGINE_DIR = Path(__file__).parent / "data" / "engines"
ENGINE_ENV = "CAPPLAN_ENGINE_PATH"
DEFAULT_ENGINE = "vllm-v1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SchedulerDefaults(_Frozen):
    """The engine's shipped scheduler settings (planner.serving.schedulers field names)."""

    kind: Literal["continuous", "chunked", "static"] = "continuous"
    max_num_seqs: PositiveInt = 256
    max_num_batched_tokens: PositiveInt = 8192
    token_budget: Annotated[int, Field(ge=2)] = 512
    memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    block_size: PositiveInt = 16


class Override(_Frozen):
    """Scheduler values that replace the defaults on matching accelerators."""

    min_memory_gib: NonNegativeFloat = 0.0
    exclude: tuple[str, ...] = ()  # accelerator names (substring, case-insensitive)
    scheduler: dict[str, float | int | str] = Field(default_factory=dict)

    def applies(self, hardware) -> bool:
        name = hardware.name.lower()
        big = hardware.memory_bytes >= self.min_memory_gib * 2**30
        return big and not any(x.lower() in name for x in self.exclude)


class Graphs(_Frozen):
    """CUDA-graph capture: sizes 1, 2, 4, then every ``step`` up to ``step_until``, then every
    ``step_large`` up to ``max_size`` (vLLM's pattern)."""

    mode: Literal["none", "decode", "piecewise"] = "decode"
    max_size: PositiveInt = 256
    step: PositiveInt = 8
    step_until: PositiveInt = 256
    step_large: PositiveInt = 16

    def sizes(self) -> list[int]:
        small = [s for s in (1, 2, 4) if s <= self.max_size]
        mid = range(self.step, min(self.step_until, self.max_size) + 1, self.step)
        big = range(self.step_until + self.step_large, self.max_size + 1, self.step_large)
        return sorted({*small, *mid, *big})


class Host(_Frozen):
    """Exposed host time per iteration (seconds): see the module docstring."""

    step_s: NonNegativeFloat = 0.0
    per_seq_s: NonNegativeFloat = 0.0
    per_token_s: NonNegativeFloat = 0.0
    eager_step_s: NonNegativeFloat = 0.0
    per_collective_s: NonNegativeFloat = 0.0


class EngineProfile(_Frozen):
    """One serving engine at one version (see the module docstring)."""

    name: Annotated[str, Field(min_length=1)]
    engine: Literal["vllm", "sglang", "trtllm", "ideal"]
    version: str
    description: str = ""
    scheduler: SchedulerDefaults = SchedulerDefaults()
    overrides: tuple[Override, ...] = ()
    admission: Literal["prompt", "prompt_and_output"] = "prompt"
    graphs: Graphs = Graphs()
    host: Host = Host()
    multi_step: PositiveInt = 1  # decode steps per scheduler call (vLLM --num-scheduler-steps)
    gpu_time_scale: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict)
    fit: dict[str, object] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.engine} {self.version})"

    def scheduler_for(self, hardware) -> dict:
        """The scheduler settings on ``hardware``: defaults, then matching overrides."""
        out = self.scheduler.model_dump()
        for o in self.overrides:
            if o.applies(hardware):
                out |= o.scheduler
        return out

    def time_scale(self, hardware) -> float:
        """GPU-time multiplier on ``hardware`` (by name, then vendor; 1 when unlisted)."""
        scale = {k.lower(): v for k, v in self.gpu_time_scale.items()}
        return scale.get(hardware.name.lower(), scale.get(hardware.vendor.lower(), 1.0))


def load_engine_file(path: str | os.PathLike) -> EngineProfile:
    """Read and validate one engine YAML file (errors name the file and the field)."""
    path = Path(path)
    data = read_mapping(path, "engine")
    try:
        return EngineProfile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise HardwareSpecError(f"{path}: field '{field}': {err['msg']}") from None


@functools.cache
def _bundled() -> dict[str, EngineProfile]:
    return {p.name: p for p in map(load_engine_file, sorted(ENGINE_DIR.glob("*.yaml")))}


def engines() -> dict[str, EngineProfile]:
    """Every visible profile by name: bundled, then $CAPPLAN_ENGINE_PATH directories."""
    out = dict(_bundled())
    for d in filter(None, os.environ.get(ENGINE_ENV, "").split(os.pathsep)):
        out |= {p.name: p for p in map(load_engine_file, sorted(Path(d).glob("*.y*ml")))}
    return out


def get_engine(spec: str | EngineProfile | None = None) -> EngineProfile:
    """A profile by name (None: the default, current vLLM), a YAML path, or itself."""
    if isinstance(spec, EngineProfile):
        return spec
    name = DEFAULT_ENGINE if spec is None else str(spec)
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_engine_file(name)
    known = engines()
    lower = {k.lower(): k for k in known}
    key = lower.get(name.lower())
    if key is None:
        near = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.3)
        raise HardwareSpecError(
            f"unknown engine {name!r}; closest: {', '.join(lower[n] for n in near) or 'none'} "
            f"(known: {', '.join(sorted(known))})"
        )
    return known[key]


def engine_names() -> list[str]:
    return sorted(engines())
