"""The `capplan` command line: hardware and model catalogs, step estimates."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import pandas as pd
import typer

import hardware_specs
import perfmodel
from perfmodel.plan_checks import check_context
from planner import cli_fit, cli_plan, cli_profiling, cli_schema, cli_search, cli_serve
from planner.output import Format, console, emit, fail, guarded

app = typer.Typer(
    help="Analytic performance modeling and capacity planning for LLM inference.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
hardware_app = typer.Typer(help="The accelerator catalog.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")
app.add_typer(models_app, name="models")

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
GIB = 2**30
MAX_STEP_BATCH = 1_000_000  # sequences in one estimated step (a list of this many is built)


@hardware_app.command("list")
@guarded
def hardware_list(fmt: FormatOpt = Format.table) -> None:
    """List the accelerators in the catalog."""
    cat = hardware_specs.catalog()
    cols = [
        "name",
        "vendor",
        "memory_gib",
        "hbm_gb_s",
        "bf16_tflops",
        "fp8_tflops",
        "interconnect_kind",
        "price_usd_per_hour",
    ]
    emit(cat[[c for c in cols if c in cat]], fmt, "Accelerators (dense peaks)")


@hardware_app.command("show")
@guarded
def hardware_show(name: str, fmt: FormatOpt = Format.table) -> None:
    """Show one accelerator's full spec."""
    acc = hardware_specs.get(name)
    data = acc.to_dict()
    flat = pd.json_normalize(data, sep=".").T.reset_index()
    flat.columns = ["field", "value"]
    emit(flat, fmt, acc.name, payload=data)


@models_app.command("list")
@guarded
def models_list(fmt: FormatOpt = Format.table) -> None:
    """List the bundled models."""
    emit(perfmodel.model_catalog(), fmt, "Models (bundled config.json)")


@models_app.command("show")
@guarded
def models_show(name: str, fmt: FormatOpt = Format.table) -> None:
    """Show one model's shapes and parameter counts."""
    model = perfmodel.get_model(name)
    pc = model.param_count()
    data = model.to_dict() | {"params_total": pc.total, "params_active": pc.active}
    flat = pd.json_normalize(data, sep=".").T.reset_index()
    flat.columns = ["field", "value"]
    emit(flat, fmt, model.name, payload=data | {"params_breakdown": pc.breakdown})


class Phase(StrEnum):
    prefill = "prefill"
    decode = "decode"
    mixed = "mixed"


def step_batch(phase: Phase, batch: int, prompt_len: int, context_len: int, chunk: int):
    """The (new, context) pairs of a step: decode [(1, ctx)]*b, prefill [(prompt, 0)]*b, mixed:
    b decodes at ctx plus one prefill chunk of ``chunk`` tokens (Sarathi-style)."""
    if phase is Phase.prefill:
        return [(prompt_len, 0)] * batch
    if phase is Phase.decode:
        return [(1, context_len)] * batch
    return [(1, context_len)] * batch + [(chunk, 0)]


@app.command()
@guarded
def estimate(
    model: Annotated[str, typer.Option(help="Model name (capplan models list) or config.json.")],
    hardware: Annotated[str, typer.Option(help="Accelerator (capplan hardware list).")],
    phase: Annotated[Phase, typer.Option(help="Step kind.")] = Phase.decode,
    batch: Annotated[int, typer.Option(help="Sequences in the step.")] = 1,
    prompt_len: Annotated[int, typer.Option(help="Prompt tokens (prefill).")] = 1024,
    context_len: Annotated[int, typer.Option(help="Cached tokens per sequence (decode).")] = 1024,
    chunk: Annotated[int, typer.Option(help="Prefill chunk tokens (mixed).")] = 512,
    tp: Annotated[int, typer.Option(help="Tensor parallel size.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline parallel size.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert parallel size.")] = 1,
    weights: Annotated[str | None, typer.Option(help="Weight dtype (default: checkpoint).")] = None,
    activations: Annotated[str | None, typer.Option(help="Activation dtype.")] = None,
    kv: Annotated[str | None, typer.Option(help="KV-cache dtype.")] = None,
    calibration: Annotated[
        str, typer.Option(help="ideal | default | a measured profile (shipped name or dir).")
    ] = "default",
    engine: Annotated[
        str,
        typer.Option(
            help="Serving engine whose host time and graphs the step adds "
            "(capplan engines list; 'none' for GPU time only)."
        ),
    ] = "vllm-v1",
    fmt: FormatOpt = Format.table,
) -> None:
    """Time, FLOPs, bytes, bound and memory of one engine step, per operator."""
    for name, value in (
        ("batch", batch),
        ("prompt-len", prompt_len),
        ("context-len", context_len if phase is not Phase.prefill else 1),
        ("chunk", chunk),
    ):
        if value < 1:
            fail(f"--{name} must be >= 1, got {value}")
    if batch > MAX_STEP_BATCH:
        fail(
            f"--batch must be at most {MAX_STEP_BATCH:,} sequences per step, got {batch:,} "
            "(engines run at most a few thousand; use capplan serve for load)"
        )
    spec = perfmodel.get_model(model)
    if phase is not Phase.prefill:
        check_context(spec, context_len, "--context-len", extra=1)
    if phase is Phase.prefill:
        check_context(spec, prompt_len, "--prompt-len")
    if phase is Phase.mixed:
        check_context(spec, chunk, "--chunk")
    base = perfmodel.step.default_quant(spec)
    quant = perfmodel.Quant(weights or base.weights, activations or base.activations, kv or base.kv)
    seqs = step_batch(phase, batch, prompt_len, context_len, chunk)
    par = perfmodel.Parallelism(tp=tp, pp=pp, ep=ep)
    est = perfmodel.estimate_step(
        spec, hardware, seqs, parallelism=par, quant=quant, calibration=calibration
    )
    served = engine_step(spec, hardware, par, quant, calibration, engine, seqs)
    if fmt is not Format.table:
        emit(est.to_frame(), fmt, payload=est.to_dict() | {"engine_step": served})
        return
    _print_estimate(est, phase)
    if served:
        console.print(
            f"with engine {served['engine']}: {served['time_s'] * 1e3:.3f} ms per step "
            f"(GPU {served['gpu_s'] * 1e3:.3f} ms incl. graph padding, host "
            f"{served['host_s'] * 1e3:.3f} ms)"
        )


def engine_step(model, hardware, par, quant, calibration, engine: str, seqs) -> dict | None:
    """The step's time under a serving-engine profile: GPU time (graph padding included)
    and exposed host time (perfmodel.host); None for engine 'none'."""
    if engine.lower() == "none":
        return None
    import numpy as np

    from hardware_specs.engines import get_engine
    from perfmodel.compiled import FIELDS, StepTimeModel
    from perfmodel.shape import StepShape

    prof = get_engine(engine)
    steps = StepTimeModel(model, hardware, par, quant, calibration, prof)
    new, cached = zip(*seqs)
    shape = StepShape.from_sequences(list(new), list(cached), steps.model)
    row = np.column_stack([getattr(shape, f) for f in FIELDS])
    total = float(steps.time(row)[0])
    host = float(steps.host.host(row, steps.host.graphed(row))[0]) if steps.host else 0.0
    return {"engine": prof.label, "time_s": total, "gpu_s": total - host, "host_s": host}


def _print_estimate(est: perfmodel.StepEstimate, phase: Phase) -> None:
    f = est.to_frame()
    frame = pd.DataFrame(
        {
            "op": f.op,
            "count": f["count"].astype(int),
            "GFLOP": f.flops / 1e9,
            "weights MB": f.bytes_weight / 1e6,
            "act MB": f.bytes_act / 1e6,
            "KV MB": f.bytes_kv / 1e6,
            "time ms": f.time_s * 1e3,
            "share %": 100 * f.time_s / est.time_s,
            "bound": f.bound,
        }
    )
    console.print(table_title(est, phase))
    emit(frame, Format.table)
    mem = est.memory
    console.print(
        f"time {est.time_s * 1e3:.3f} ms, {est.tokens_per_s:,.0f} tok/s, {est.bound}-bound; "
        f"{est.flops / 1e12:.3f} TFLOP, {est.bytes / 1e9:.3f} GB moved per GPU\n"
        f"memory per GPU: weights {mem.weights_bytes / GIB:.2f} GiB, KV "
        f"{mem.kv_bytes_per_token / 2**10:.1f} KiB/token, capacity "
        f"{mem.kv_capacity_tokens:,} tokens ({mem.kv_capacity_bytes / GIB:.1f} GiB)"
        + ("" if mem.fits else "  [bold red]the step's KV cache does not fit[/]")
    )


def table_title(est, phase: Phase) -> str:
    p = est.parallelism
    return (
        f"[bold]{est.model}[/] on [bold]{est.hardware}[/], {phase.value}, tp={p.tp} pp={p.pp} "
        f"ep={p.ep}, W/A/KV={est.quant.weights}/{est.quant.activations}/{est.quant.kv}, "
        f"calibration={est.calibration}\n{est.calibration_source}"
    )


cli_serve.register(app, guarded)
cli_profiling.register(app)
cli_plan.register(app)
cli_fit.register(app, guarded)
cli_search.register(app, guarded)
cli_schema.register(app, guarded)


def main() -> None:  # pragma: no cover - console entry
    app(sys.argv[1:])
