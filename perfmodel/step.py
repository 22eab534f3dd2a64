"""estimate_step: time, FLOPs, bytes, bound and memory of one engine step, with a per-operator
breakdown; estimate_grid: the same for many homogeneous steps at once (numpy-vectorized).

Pipeline parallelism: the step's batch is split into m micro-batches; each of the pp stages
takes 1/pp of the (micro-batch) time, so a step lasts (m + pp - 1) * t_stage (GPipe, Huang et
al. 2019), i.e. the sum over ops of the micro-batch time times (m + pp - 1) / pp.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import calibration as calib
from .errors import PerfModelError
from .memory import MemoryFootprint, memory_footprint
from .model import ModelSpec
from .ops import OP_ORDER, build_ops
from .parallel import Parallelism
from .plan_checks import check_context, check_fits, check_plan, numbers_of
from .quant import Quant
from .roofline import check_device, time_ops
from .shape import StepShape

BOUNDS = ("compute", "memory", "comm")


def resolve_hardware(hardware):
    """An Accelerator from a catalog name or an Accelerator."""
    if isinstance(hardware, str):
        import hardware_specs

        return hardware_specs.get(hardware)
    return hardware


def resolve_model(model) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    from .catalog import get_model

    return get_model(str(model))


def default_quant(model: ModelSpec) -> Quant:
    """The checkpoint's own formats: fp8 checkpoints run W8A8, int4 ones W4A16."""
    if model.weight_quant == "fp8":
        return Quant("fp8", "fp8", "bf16")
    if model.weight_quant:
        return Quant(model.weight_quant, model.dtype, model.dtype)
    return Quant(model.dtype, model.dtype, model.dtype)


def weight_quant(model: ModelSpec, weights: str | None) -> Quant:
    """The checkpoint's formats with other weights: fp8 runs W8A8, 16-bit weights run in
    their own format throughout, int8 / int4 keep the checkpoint's activations and KV."""
    base = default_quant(model)
    if weights is None:
        return base
    if weights in ("bf16", "fp16"):
        return Quant(weights, weights, weights)
    return Quant(weights, "fp8" if weights == "fp8" else base.activations, base.kv)


@dataclass(frozen=True)
class _Setup:
    model: ModelSpec
    hardware: Any
    par: Parallelism
    quant: Quant
    calibration: Any


def _setup(model, hardware, parallelism, quant, calibration) -> _Setup:
    model, hardware = resolve_model(model), resolve_hardware(hardware)
    par = parallelism or Parallelism()
    if isinstance(par, dict):
        par = Parallelism(**par)
    quant = Quant.parse(quant) if quant is not None else default_quant(model)
    cal = calib.resolve(calibration)
    if hasattr(cal, "for_hardware"):  # curves that need the target's peaks (learned)
        cal = cal.for_hardware(hardware)
    check_plan(model, hardware, par)
    check_device(cal, hardware)
    return _Setup(model, hardware, par, quant, cal)


def _timed(setup: _Setup, shape: StepShape):
    """Ops and their step-latency share for ``shape`` under the setup's pipeline."""
    m, pp = setup.par.microbatches, setup.par.pp
    ops = build_ops(setup.model, shape.scaled(1.0 / m), setup.par, setup.quant)
    timed = time_ops(ops, setup.hardware, setup.calibration)
    return timed, (m + pp - 1) / pp, m


def _bound(timed, factor) -> np.ndarray:
    """Binding resource per point: the class (compute/memory/comm) holding most of the time."""
    share = np.zeros((3, timed[0].time_s.size))
    for t in timed:
        row = 2 if t.op.kind == "comm" else np.where(t.compute_bound, 0, 1)
        np.add.at(share, (row, np.arange(share.shape[1])), t.time_s * factor)
    return np.asarray(BOUNDS, dtype=object)[np.argmax(share, axis=0)]


@dataclass(frozen=True)
class StepEstimate:
    """One step's estimate. ``ops``: one row per operator (op, count, flops, bytes_weight,
    bytes_act, bytes_kv, time_s, bound); totals are per GPU."""

    model: str
    hardware: str
    parallelism: Parallelism
    quant: Quant
    calibration: str
    calibration_source: str
    tokens: float
    time_s: float
    flops: float
    bytes: float
    bytes_weight: float
    bytes_act: float
    bytes_kv: float
    bound: str
    pipeline_bubble: float
    memory: MemoryFootprint
    ops: pd.DataFrame = field(repr=False)

    @property
    def tokens_per_s(self) -> float:
        """New tokens processed per second by one replica."""
        return self.tokens / self.time_s

    def to_frame(self) -> pd.DataFrame:
        """The per-operator table with a final 'total' row."""
        total = self.ops.drop(columns=["op", "bound"]).sum(numeric_only=True)
        total_row = pd.DataFrame([{"op": "total", **total.to_dict(), "bound": self.bound}])
        return pd.concat([self.ops, total_row], ignore_index=True)

    def to_dict(self) -> dict:
        scalars = {
            k: getattr(self, k)
            for k in (
                "model",
                "hardware",
                "calibration",
                "calibration_source",
                "tokens",
                "time_s",
                "flops",
                "bytes",
                "bytes_weight",
                "bytes_act",
                "bytes_kv",
                "bound",
                "pipeline_bubble",
            )
        }
        return scalars | {
            "tokens_per_s": self.tokens_per_s,
            "parallelism": self.parallelism.to_dict(),
            "quant": self.quant.to_dict(),
            "memory": self.memory.to_dict(),
            "ops": self.ops.to_dict(orient="records"),
        }


def _batch_arrays(batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new, cached, final) arrays from (new_tokens, context_tokens[, final]) tuples; ``final``
    (default true) says the chunk ends its prompt, so its last token goes through lm_head."""
    try:
        rows = [tuple(seq) for seq in batch]
    except TypeError:  # a bare number, or a list of numbers instead of pairs
        rows = []
    if not rows or any(len(r) not in (2, 3) for r in rows):
        raise PerfModelError(
            "batch must be a non-empty list of (new_tokens, context_tokens) pairs, "
            "e.g. [(1, 1024)] * 8 for decode or [(512, 0)] for a prefill"
        )
    try:
        arr = np.array([(*r[:2], r[2] if len(r) == 3 else 1) for r in rows], dtype=float)
    except (TypeError, ValueError):
        raise PerfModelError("batch entries must be numbers (new_tokens, context_tokens)") from None
    return arr[:, 0], arr[:, 1], arr[:, 2]


def estimate_step(
    model: ModelSpec | str,
    hardware,
    batch: Iterable[Sequence[float]],
    parallelism: Parallelism | dict | None = None,
    quant: Quant | str | dict | None = None,
    calibration="ideal",
    memory_utilization: float = 0.9,
) -> StepEstimate:
    """Estimate one engine step holding ``batch``: (new_tokens, context_tokens) per sequence.

    Decode: [(1, ctx)] * b; prefill: [(prompt, 0)]; chunked prefill: [(chunk, done, last)]
    where ``last`` is false for a chunk that does not end its prompt (no lm_head row)."""
    setup = _setup(model, hardware, parallelism, quant, calibration)
    new, cached, final = _batch_arrays(batch)
    check_context(setup.model, new + cached, "new + context tokens of a sequence")
    shape = StepShape.from_sequences(new, cached, setup.model, final)
    kv_tokens = float((new + cached).sum())
    memory = memory_footprint(
        setup.model,
        setup.hardware,
        setup.par,
        setup.quant,
        memory_utilization,
        kv_needed_tokens=kv_tokens,
    )
    check_fits(setup.model, setup.hardware, setup.par, setup.quant, memory, memory_utilization)
    timed, factor, m = _timed(setup, shape)
    ops = _op_table(timed, factor, m)
    return StepEstimate(
        model=setup.model.name,
        hardware=setup.hardware.name,
        parallelism=setup.par,
        quant=setup.quant,
        calibration=setup.calibration.name,
        calibration_source=calib.describe(setup.calibration),
        tokens=float(shape.tokens[0]),
        time_s=float(ops.time_s.sum()),
        flops=float(ops.flops.sum()),
        bytes=float(ops[["bytes_weight", "bytes_act", "bytes_kv"]].to_numpy().sum()),
        bytes_weight=float(ops.bytes_weight.sum()),
        bytes_act=float(ops.bytes_act.sum()),
        bytes_kv=float(ops.bytes_kv.sum()),
        bound=str(_bound(timed, factor)[0]),
        pipeline_bubble=setup.par.pipeline_bubble(),
        memory=memory,
        ops=ops,
    )


def _op_table(timed, factor: float, m: int) -> pd.DataFrame:
    """Per-op rows (point 0), merged by name in catalog order; empty ops dropped."""
    rows: dict[str, dict] = {}
    for t in timed:
        o = t.op
        moved = float(o.bytes_weight[0] + o.bytes_act[0] + o.bytes_kv[0])
        if o.flops[0] + moved <= 0:
            continue
        r = rows.setdefault(
            o.name,
            dict.fromkeys(
                ("count", "flops", "bytes_weight", "bytes_act", "bytes_kv", "time_s"), 0.0
            )
            | {"_split": np.zeros(3)},
        )
        r["count"] += o.count
        for key in ("flops", "bytes_weight", "bytes_act", "bytes_kv"):
            r[key] += float(getattr(o, key)[0]) * m
        time = float(t.time_s[0]) * factor
        r["time_s"] += time
        r["_split"][2 if o.kind == "comm" else (0 if t.compute_bound[0] else 1)] += time
    table = [
        {
            "op": name,
            **{k: v for k, v in r.items() if k != "_split"},
            "bound": BOUNDS[int(np.argmax(r["_split"]))],
        }
        for name, r in sorted(rows.items(), key=lambda kv: OP_ORDER.index(kv[0]))
    ]
    return pd.DataFrame(
        table,
        columns=[
            "op",
            "count",
            "flops",
            "bytes_weight",
            "bytes_act",
            "bytes_kv",
            "time_s",
            "bound",
        ],
    )


@dataclass(frozen=True)
class GridEstimate:
    """Vectorized estimate over points of homogeneous steps (arrays of equal length)."""

    batch: np.ndarray
    new_tokens: np.ndarray
    context: np.ndarray
    time_s: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    bound: np.ndarray

    @property
    def tokens_per_s(self) -> np.ndarray:
        return self.batch * self.new_tokens / self.time_s

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                k: getattr(self, k)
                for k in ("batch", "new_tokens", "context", "time_s", "flops", "bytes", "bound")
            }
            | {"tokens_per_s": self.tokens_per_s}
        )

    def to_dict(self) -> dict:
        return self.to_frame().to_dict(orient="list")


def estimate_grid(
    model: ModelSpec | str,
    hardware,
    batch,
    context,
    new_tokens=1,
    parallelism: Parallelism | dict | None = None,
    quant: Quant | str | dict | None = None,
    calibration="ideal",
) -> GridEstimate:
    """Steps of ``batch`` sequences, each ``new_tokens`` after ``context`` cached tokens, for
    every element of the broadcast arrays (decode: new_tokens=1; prefill: context=0). A raw
    vectorized grid: it does not check the model's maximum context (prefill_time, decode_time,
    estimate_step and max_batch do)."""
    setup = _setup(model, hardware, parallelism, quant, calibration)
    shape = StepShape.from_grid(batch, new_tokens, context, setup.model)
    timed, factor, m = _timed(setup, shape)
    time = sum(t.time_s for t in timed) * factor
    flops = sum(t.op.flops for t in timed) * m
    moved = sum(t.op.bytes_weight + t.op.bytes_act + t.op.bytes_kv for t in timed) * m
    b, q, c = np.broadcast_arrays(
        *(np.asarray(x, dtype=float).ravel() for x in (batch, new_tokens, context))
    )
    return GridEstimate(b, q, c, time, flops, moved, _bound(timed, factor))


def prefill_time(model, hardware, prompt_len, batch=1, **kwargs):
    """Seconds to prefill ``batch`` prompts of ``prompt_len`` tokens (arrays broadcast)."""
    check_context(resolve_model(model), prompt_len, "prompt_len")
    numbers_of(batch, "batch")
    return _scalar_or_array(estimate_grid(model, hardware, batch, 0, prompt_len, **kwargs))


def decode_time(model, hardware, context_len, batch=1, **kwargs):
    """Seconds of one decode step of ``batch`` sequences at ``context_len`` cached tokens."""
    check_context(resolve_model(model), context_len, "context_len", extra=1)
    numbers_of(batch, "batch")
    return _scalar_or_array(estimate_grid(model, hardware, batch, context_len, 1, **kwargs))


def _scalar_or_array(grid: GridEstimate):
    return float(grid.time_s[0]) if grid.time_s.size == 1 else grid.time_s
