"""`capplan engines` (the serving-engine profiles) and `capplan fit` (engine parameters from
a user's own benchmark results)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml

from planner.output import Format, console, emit, strict_json

Opt = typer.Option
engines_app = typer.Typer(help="Serving-engine profiles (vLLM, SGLang, TensorRT-LLM).",
                          no_args_is_help=True)  # fmt: skip


def engines_list(fmt: Annotated[Format, Opt("--format", "-f")] = Format.table) -> None:
    """List the serving-engine profiles."""
    from hardware_specs.engines import engines

    rows = [
        {
            "name": p.name,
            "engine": p.engine,
            "version": p.version,
            "scheduler": p.scheduler.kind,
            "graphs": p.graphs.mode,
            "host step ms": p.host.step_s * 1e3,
            "per seq us": p.host.per_seq_s * 1e6,
            "per token us": p.host.per_token_s * 1e6,
            "per TP collective us": p.host.per_collective_s * 1e6,
            "fitted on": p.fit.get("rows", "not fitted"),
        }
        for p in engines().values()
    ]
    emit(pd.DataFrame(rows), fmt, "Serving-engine profiles")


def engines_show(name: str) -> None:
    """Show one engine profile (YAML)."""
    from hardware_specs.engines import get_engine

    print(yaml.safe_dump(get_engine(name).model_dump(mode="json"), sort_keys=False), end="")


def read_rows(files: list[Path], **given) -> list:
    """Measurement rows of every results file (planner.fit.readers)."""
    from planner.fit.readers import read_results

    return [row for f in files for row in read_results(f, **given)]


def fit_cmd(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Benchmark result files (vLLM bench serve/throughput JSON, GuideLLM JSON, "
            "genai-perf / AIPerf JSON or CSV, capplan CSV)."
        ),
    ],
    engine: Annotated[str | None, Opt(help="Engine of the runs (vllm, sglang, trtllm).")] = None,
    engine_version: Annotated[str | None, Opt(help="Engine version, e.g. 0.6.3.")] = None,
    model: Annotated[str | None, Opt(help="Model, when the files do not say.")] = None,
    hardware: Annotated[str | None, Opt(help="Accelerator of the runs.")] = None,
    tp: Annotated[int | None, Opt(help="Tensor parallel size of the runs.")] = None,
    quant: Annotated[str | None, Opt(help="Weight dtype of the runs (bf16, fp8, ...).")] = None,
    dataset: Annotated[
        str | None, Opt(help="Length distribution: fixed, sharegpt, or another name.")
    ] = None,
    concurrency: Annotated[float | None, Opt(help="Clients, where a file omits it.")] = None,
    request_rate: Annotated[float | None, Opt(help="Req/s, where a file omits it.")] = None,
    input_tokens: Annotated[float | None, Opt(help="Mean prompt tokens, if omitted.")] = None,
    output_tokens: Annotated[float | None, Opt(help="Mean output tokens, if omitted.")] = None,
    source: Annotated[str | None, Opt(help="Name of the source (default: file name).")] = None,
    gpu_scale: Annotated[bool, Opt(help="Also fit a GPU-time scale per accelerator.")] = False,
    out: Annotated[Path | None, Opt(help="Write the fitted profile (YAML) here.")] = None,
    fmt: Annotated[Format, Opt("--format", "-f")] = Format.table,
) -> None:
    """Fit an engine profile's host-time terms to measured results (robust least squares
    through the serving model); print every point's residual."""
    from planner.fit.fit import FitError, fit

    given = {"engine": engine, "engine_version": engine_version, "model": model,
             "hardware": hardware, "tp": tp, "quant": quant, "dataset": dataset,
             "concurrency": concurrency, "request_rate": request_rate,
             "input_tokens": input_tokens, "output_tokens": output_tokens,
             "source": source}  # fmt: skip
    rows = read_rows(results, **{k: v for k, v in given.items() if v is not None})
    engines_seen = sorted({(r.engine, r.engine_version) for r in rows})
    if len({e for e, _ in engines_seen}) > 1 and engine is None:
        raise FitError(f"the files mix engines {engines_seen}: pass --engine, or fit each apart")
    if out is not None and out.exists() and out.is_dir():
        raise FitError(f"--out {out} is a folder; give a file name such as my-engine.yaml")
    res = fit(rows, fit_scale=gpu_scale)
    if len(res.profiles) > 1 and out is not None:
        raise FitError(f"the rows map to {len(res.profiles)} profiles; write one at a time")
    for name, why in res.unfitted.items():
        console.print(f"[yellow]{name} not fitted: {why}[/]")
    if res.at_bound:
        console.print(f"[yellow]on a bound (not identified by these rows): {res.at_bound}[/]")
    if not res.converged:
        raise FitError(f"the fit did not converge ({res.message}); no profile written")
    if out is not None:
        (prof,) = res.profiles.values()
        write_profile(prof, res, out, [str(f) for f in results])
    if fmt is Format.table:
        show_fit(res)
    else:
        emit(res.table, fmt, payload=res.to_dict())


def write_profile(prof, res, out: Path, files: list[str]) -> None:
    """The fitted profile with its provenance, written whole (temp file, then renamed)."""
    err = float((res.table.ratio - 1).abs().median())
    data = prof.model_dump(mode="json")
    data["name"] = out.stem
    data["fit"] = {"rows": len(res.table), "files": files, "median_abs_error": round(err, 4),
                   "date": datetime.date.today().isoformat(), "at_bound": res.at_bound}  # fmt: skip
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(out)
    console.print(f"wrote {out}")


def show_fit(res) -> None:
    for name, p in res.profiles.items():
        h = p.host
        console.print(
            f"[bold]{name}[/]: host per step {h.step_s * 1e3:.3g} ms + {h.per_seq_s * 1e6:.3g} us"
            f" per sequence + {h.per_token_s * 1e6:.3g} us per token"
        )
    for hw, s in res.scales.items():
        console.print(f"GPU-time scale {hw}: {s:.3g}")
    cols = ["source", "model", "hardware", "load", "load_value", "metric", "measured",
            "predicted", "ratio"]  # fmt: skip
    emit(res.table[cols], Format.table, "residuals")


def validate_serving_cmd(results: Path, engine: str | None, fmt: str, html: Path | None) -> None:
    """`capplan validate --serving FILE`: predicted vs measured under the shipped profiles."""
    from planner.fit.validate import validate_serving

    rows = read_rows([results], **({"engine": engine} if engine else {}))
    val = validate_serving(rows)
    if html:
        val.write_html(html)
    if fmt == "json":
        print(strict_json(val.to_dict()))
    elif fmt == "markdown":
        print(val.to_markdown())
    else:
        emit(val.summary, Format.table, "serving predictions vs measurements")
        emit(val.table, Format.table)
        for i, why in val.skipped.items():
            console.print(f"[yellow]row {i} not modelled: {why}[/]")


def register(app: typer.Typer, guarded) -> None:
    engines_app.command("list")(guarded(engines_list))
    engines_app.command("show")(guarded(engines_show))
    app.add_typer(engines_app, name="engines")
    app.command("fit")(guarded(fit_cmd))
