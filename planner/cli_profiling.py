"""CLI of the profiling suite: `capplan profile`, `capplan validate`, `capplan import-profile`.

The lead wires it in with ``cli_profiling.register(app)``. torch is imported only when a
command measures; without torch those commands print one line:
``torch is not installed: pip install "capplan[profile]"``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from planner.output import console, guarded, strict_json, table

DEFAULT_OUT = Path("capplan-profile")


class SummaryFormat(StrEnum):
    table = "table"
    json = "json"


class ValidateFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _ints(text: str, option: str) -> tuple[int, ...]:
    """'1,4,16' → (1, 4, 16); a one-line error names the option otherwise."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ValueError(f"{option} must be a comma-separated list of integers >= 1, got {text!r}")
    return values


def profile_cmd(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small grid (≤ 2 min on a 2-core CPU).")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for profile.csv + provenance.yaml.")
    ] = DEFAULT_OUT,
    device: Annotated[
        str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda, cuda:N.")
    ] = "auto",
    threads: Annotated[
        int, typer.Option("--threads", help="CPU threads; 0 = torch's default.")
    ] = 1,
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.table,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget", min=1, help="Seconds of timing at most; bf16 first, the rest noted."
        ),
    ] = None,
) -> None:
    """Run the microbenchmark suite and write a profile (CSV + provenance YAML)."""
    from perfmodel.profiling import run_suite

    progress = fmt is SummaryFormat.table
    prof = run_suite(
        quick=quick, device=device, threads=threads or None, progress=progress, budget_s=budget
    )
    path = prof.save(out)
    summary = prof.summary() | {"path": str(path)}
    if fmt is SummaryFormat.json:
        print(strict_json(summary))
        return
    rows = [{"field": k, "value": json.dumps(v, default=str) if isinstance(v, dict | list) else v}
            for k, v in summary.items()]  # fmt: skip
    console.print(table(pd.DataFrame(rows), f"Profile of {prof.provenance.device}"))


def validate_cmd(
    profile: Annotated[
        str | None, typer.Option("--profile", help="Profile dir or shipped name.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="HF config.json of the decoder.")
    ] = None,
    fmt: Annotated[ValidateFormat, typer.Option("--format", "-f")] = ValidateFormat.table,
    html: Annotated[Path | None, typer.Option("--html", help="Write a plotly chart here.")] = None,
    prefill_batches: Annotated[str, typer.Option(help="Prefill batch sizes.")] = "1,4",
    prompts: Annotated[str, typer.Option(help="Prefill prompt lengths.")] = "64,256,1024",
    decode_batches: Annotated[str, typer.Option(help="Decode batch sizes.")] = "1,8,32",
    contexts: Annotated[str, typer.Option(help="Decode context lengths.")] = "128,1024,4096",
    max_prefill_tokens: Annotated[int, typer.Option(help="Skip prefills above this.")] = 1024,
    repeats: Annotated[int, typer.Option(help="Timed repeats per point (median).")] = 3,
    dtype: Annotated[str | None, typer.Option(help="Decoder dtype (CPU fp32, GPU bf16).")] = None,
    measured: Annotated[
        Path | None,
        typer.Option(
            help="A stored validation JSON (--format json output, or the validation-*.json "
            "beside a shipped profile): predict its measured points again, no torch needed."
        ),
    ] = None,
    serving: Annotated[
        Path | None,
        typer.Option(
            help="Serving level: a results file (vLLM bench serve / GuideLLM / genai-perf JSON "
            "or capplan CSV); predicts every point under its engine profile, no torch needed."
        ),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="With --serving: the engine of the runs, if unrecorded.")
    ] = None,
) -> None:
    """Time the reference decoder and compare with ideal / default / calibrated predictions
    (kernel and step level), or predict a serving results file (--serving)."""
    from perfmodel.profiling import run_validation
    from perfmodel.profiling._torch import require_torch
    from perfmodel.profiling.validate import ValidationGrid, revalidate

    if serving:
        from planner.cli_fit import validate_serving_cmd

        validate_serving_cmd(serving, engine, fmt.value, html)
        return
    if measured:
        prof = _load_for_validation(profile)
        if prof.provenance.device_type == "cpu":
            prof.register()
        _show_validation(revalidate(measured, prof, config), fmt, html)
        return
    require_torch()  # the decoder is timed with torch: say so before looking for a profile
    grid = ValidationGrid(
        _ints(prefill_batches, "--prefill-batches"),
        _ints(prompts, "--prompts"),
        _ints(decode_batches, "--decode-batches"),
        _ints(contexts, "--contexts"),
        max_prefill_tokens=max_prefill_tokens,
    )
    prof = _load_for_validation(profile)
    progress = fmt is ValidateFormat.table
    result = run_validation(prof, config, grid, repeats=repeats, dtype=dtype, progress=progress)
    _show_validation(result, fmt, html)


def _show_validation(result, fmt: ValidateFormat, html: Path | None) -> None:
    if html:
        result.write_html(html)
    if fmt is ValidateFormat.json:
        print(strict_json(result.to_dict()))
    elif fmt is ValidateFormat.markdown:
        print(result.to_markdown())
    else:
        _print_validation(result)


def import_profile_cmd(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV of measurements (see docs/profiling.md); with --system, AIConfigurator's "
            "'systems' folder (default: the installed aiconfigurator-core package)."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write the profile to.")
    ] = DEFAULT_OUT,
    accelerator: Annotated[
        str | None, typer.Option(help="hardware_specs name it calibrates.")
    ] = None,
    device_type: Annotated[str | None, typer.Option(help="cpu or cuda (default: guessed).")] = None,
    system: Annotated[
        str | None,
        typer.Option(help="Import AIConfigurator's tables of this system (e.g. h200_sxm)."),
    ] = None,
    framework: Annotated[
        str, typer.Option(help="AIConfigurator framework: vllm, sglang or trtllm.")
    ] = "vllm",
    version: Annotated[
        str | None, typer.Option(help="Framework version (default: newest per op family).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Keep every AIConfigurator row (no thinning).")
    ] = False,
) -> None:
    """Turn your own measurements (CSV) or AIConfigurator's published tables into a profile."""
    from perfmodel.profiling import import_csv
    from perfmodel.profiling.aiconfigurator import import_aiconfigurator

    if system:
        prof = import_aiconfigurator(system, framework, file, version=version, thin=not full)
    elif file is None:
        raise ValueError("give a measurements CSV, or --system NAME for AIConfigurator tables")
    else:
        prof = import_csv(file, accelerator=accelerator, device_type=device_type)
    path = prof.save(out)
    counts = prof.table["op_class"].value_counts().to_dict()
    console.print(
        f"imported {len(prof.table)} rows {counts} for {prof.provenance.device!r} → {path}"
    )
    for note in prof.provenance.notes:
        console.print(f"  note: {note}")


def _load_for_validation(name: str | None):
    """--profile, else ./capplan-profile, else the shipped profile of this machine."""
    from perfmodel.profiling import load_profile
    from perfmodel.profiling.provenance import cpu_accelerator_name, cpu_model

    if name:
        return load_profile(name)
    if (DEFAULT_OUT / "profile.csv").is_file():
        return load_profile(DEFAULT_OUT)
    try:
        return load_profile(cpu_accelerator_name(cpu_model(), 1))
    except ValueError:
        raise ValueError(
            "no profile given: run `capplan profile --quick` first or pass --profile DIR"
        ) from None


def _print_validation(result) -> None:
    cols = ["phase", "batch", "context", "measured_ms", "ideal_ms", "default_ms", "calibrated_ms",
            "err_ideal_pct", "err_default_pct", "err_calibrated_pct"]  # fmt: skip
    title = f"{result.model} on {result.hardware} ({result.threads} thread(s)): step time"
    console.print(table(result.points[cols], title))
    summary = pd.DataFrame([{"model": k, **v} for k, v in result.summary().items()])
    console.print(table(summary, "Error summary (predicted vs measured)"))


def register(app: typer.Typer) -> None:
    """Add `profile`, `validate` and `import-profile` to the capplan app."""
    app.command("profile")(guarded(profile_cmd))
    app.command("validate")(guarded(validate_cmd))
    app.command("import-profile")(guarded(import_profile_cmd))
