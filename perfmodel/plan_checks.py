"""Checks of a (model, hardware, parallelism) plan that give one-line errors with a fix."""

from __future__ import annotations

from numbers import Number

from .errors import ModelDoesNotFitError, PerfModelError

GIB = 2**30


def check_plan(model, hardware, par) -> None:
    """tp must divide the attention heads (and kv heads, or be a multiple of them); pp at most
    the layer count; ep must divide the expert count and needs a MoE model."""
    h, kv = model.num_heads, model.num_kv_heads
    if h % par.tp:
        ok = [t for t in (1, 2, 4, 8, 16, 32, 64) if h % t == 0 and _kv_ok(kv, t)]
        raise PerfModelError(
            f"tp={par.tp} does not divide {model.name}'s {h} attention heads; "
            f"valid tp: {', '.join(map(str, ok))}"
        )
    if not model.mla and not _kv_ok(kv, par.tp):
        raise PerfModelError(
            f"tp={par.tp} and {model.name}'s {kv} kv heads: tp must divide them or be a "
            "multiple of them"
        )
    if par.pp > model.num_layers:
        raise PerfModelError(f"pp={par.pp} exceeds {model.name}'s {model.num_layers} layers")
    if par.ep > 1 and not model.moe:
        raise PerfModelError(f"ep={par.ep} needs a MoE model; {model.name} is dense (use ep=1)")
    if model.moe and model.moe.num_experts % par.ep:
        raise PerfModelError(
            f"ep={par.ep} does not divide {model.name}'s {model.moe.num_experts} experts"
        )


def numbers_of(value, field: str):
    """``value`` (a number or an array of numbers) as a float array; text, None, booleans or
    ragged lists are one PerfModelError naming ``field``."""
    import numpy as np

    try:
        if isinstance(value, bool | str) or value is None:
            raise TypeError
        arr = np.asarray(value, dtype=float)
        if arr.dtype == bool:
            raise TypeError
    except (TypeError, ValueError):
        msg = f"{field} must be a number or an array of numbers, got {value!r}"
        raise PerfModelError(msg) from None
    return arr


def check_context(model, tokens, field: str = "context_len", extra: int = 0) -> None:
    """Refuse sequences longer than the model's maximum context (max_position_embeddings):
    ``tokens`` (one length or an array) plus ``extra`` tokens the step adds (e.g. the one
    decoded token), naming ``field``, its largest value and the model's limit."""
    import numpy as np

    arr = numbers_of(tokens, field)
    if arr.size == 0:
        return
    if not np.isfinite(arr).all():
        raise PerfModelError(f"{field} must be a finite number of tokens, got {arr.max()!r}")
    longest, limit = float(arr.max()), model.max_position_embeddings
    if longest + extra > limit:
        plus = f" plus {extra} new token{'s' * (extra != 1)}" if extra else ""
        raise PerfModelError(
            f"{field} {longest:,.0f}{plus} exceeds {model.name}'s maximum context of "
            f"{limit:,} tokens (max_position_embeddings); use {field} at most "
            f"{limit - extra:,} or a model with a longer context"
        )


def _kv_ok(kv: int, tp: int) -> bool:
    return kv % tp == 0 or tp % kv == 0


def check_fits(model, hardware, par, quant, memory, memory_utilization: float) -> None:
    """Raise when weights + workspace + reserve exceed the GPU's budget, naming the bytes
    needed vs available and the smallest tp x pp plan that fits."""
    if memory.kv_capacity_bytes > 0:
        return
    need = (memory.weights_bytes + memory.activation_bytes + memory.reserve_bytes) / GIB
    have = memory.budget_bytes / GIB
    hint = smallest_fitting_plan(model, hardware, quant, memory_utilization)
    raise ModelDoesNotFitError(
        f"{model.name} does not fit on {hardware.name} with tp={par.tp} pp={par.pp} "
        f"({quant.weights} weights): needs {need:.1f} GiB per GPU (weights "
        f"{memory.weights_bytes / GIB:.1f}) but {have:.1f} GiB is usable "
        f"({memory_utilization:.0%} of {hardware.memory_gib:g} GiB); {hint}"
    )


def smallest_fitting_plan(model, hardware, quant, memory_utilization: float) -> str:
    """'smallest plan that fits: tp=.. pp=..' over tp in powers of two up to a node's GPUs
    (dividing the heads) and pp in powers of two; fewest GPUs first, then larger tp."""
    from .memory import memory_footprint
    from .parallel import Parallelism

    tps = [
        t
        for t in (1, 2, 4, 8, 16)
        if t <= hardware.gpus_per_node
        and model.num_heads % t == 0
        and (model.mla or _kv_ok(model.num_kv_heads, t))
    ]
    pps = [p for p in (1, 2, 4, 8, 16, 32, 64) if p <= model.num_layers]
    plans = sorted(
        ((t, p) for t in tps for p in pps), key=lambda tp_pp: (tp_pp[0] * tp_pp[1], -tp_pp[0])
    )
    for tp, pp in plans:
        fp = memory_footprint(model, hardware, Parallelism(tp=tp, pp=pp), quant, memory_utilization)
        if fp.kv_capacity_bytes > 0:
            return f"smallest plan that fits: tp={tp} pp={pp} ({tp * pp} GPUs)"
    return "no tp x pp plan up to 64 stages fits; use a lower-precision quant or a larger GPU"


def max_batch(
    model,
    hardware,
    context_len: int,
    parallelism=None,
    quant=None,
    memory_utilization: float = 0.9,
    block_size: int = 16,
) -> int:
    """Largest number of sequences of ``context_len`` tokens whose paged KV blocks fit in what
    the budget leaves after weights, workspace and reserve (0 if none fit)."""
    from .memory import kv_bytes_per_sequence, memory_footprint
    from .step import _setup

    if (
        isinstance(context_len, bool | str)
        or not isinstance(context_len, Number)
        or not context_len >= 1
    ):
        raise PerfModelError(f"context_len must be a number of tokens >= 1, got {context_len!r}")
    s = _setup(model, hardware, parallelism, quant, "ideal")
    check_context(s.model, context_len)
    fp = memory_footprint(s.model, s.hardware, s.par, s.quant, memory_utilization)
    check_fits(s.model, s.hardware, s.par, s.quant, fp, memory_utilization)
    per_seq = kv_bytes_per_sequence(s.model, s.par, s.quant, context_len, block_size)
    return int(fp.kv_capacity_bytes // per_seq)
