"""`capplan search`: the best deployment plans of a model for a workload under an SLO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from planner.cli_serve import load_workload
from planner.outdir import check_out_dir
from planner.output import Format, console, emit, err_console, strict_json
from planner.search import OBJECTIVES, SearchSpace, search
from planner.serving import SLO

Opt = typer.Option
#: the table's columns: (header, column or callable of the ranked frame)
SHOW = {
    "plan": lambda f: f.apply(plan_label, axis=1),
    "gpu": "gpu",
    "quant": "quant",
    "seqs": "max_num_seqs",
    "budget": "token_budget",
    "gpus": "gpus",
    "req/s": "rate_rps",
    "tok/s/gpu": "tokens_per_s_per_gpu",
    "tok/s/user": "tokens_per_s_per_user",
    "ttft ms": lambda f: f["ttft_s"] * 1e3,
    "tpot ms": lambda f: f["tpot_s"] * 1e3,
    "$/Mtok": "usd_per_mtok",
    "binding": "binding",
}


def plan_label(row) -> str:
    """'tp4 pp1' for a replica, '3P tp2 + 4D tp4' for a disaggregated unit."""
    own = f"tp{row['tp']}" + (f" pp{row['pp']}" if row["pp"] > 1 else "")
    own += f" ep{row['ep']}" if row["ep"] > 1 else ""
    if row["mode"] == "aggregated":
        return own
    pre = f"tp{row['prefill_tp']}" + (f" pp{row['prefill_pp']}" if row["prefill_pp"] > 1 else "")
    return f"{row['prefill_replicas']}P {pre} + {row['decode_replicas']}D {own}"


def _ints(text: str | None, option: str) -> list[int] | None:
    """'1,2,4' -> [1, 2, 4]; one line naming the option otherwise."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{option}: give integers separated by commas, e.g. 1,2,4") from None


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [v.strip() for v in text.split(",") if v.strip()]


def _space(**fields) -> SearchSpace:
    """The SearchSpace of the CLI's options (unset ones keep the defaults); pydantic errors
    name the option."""
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        return SearchSpace(**given)
    except ValueError as exc:
        errs = getattr(exc, "errors", lambda: [])()
        if errs:
            e = errs[0]
            opt = "--" + str(e["loc"][0]).replace("_", "-") if e["loc"] else "the space"
            raise ValueError(f"{opt}: {e['msg']}") from None
        raise


def register(app: typer.Typer, guarded) -> None:
    @app.command("search")
    @guarded
    def search_cmd(
        model: Annotated[str, typer.Argument(help="Model name (capplan models list).")],
        workload: Annotated[str, Opt(help="chat | summarization | code | a trace file.")] = "chat",
        slo_ttft: Annotated[float | None, Opt(help="TTFT target, seconds.")] = None,
        slo_tpot: Annotated[float | None, Opt(help="TPOT target, seconds.")] = None,
        slo_tbt: Annotated[float | None, Opt(help="Time-between-tokens target, s.")] = None,
        slo_e2e: Annotated[float | None, Opt(help="End-to-end target, seconds.")] = None,
        percentile: Annotated[float, Opt(help="SLO percentile (0.5, 0.9, 0.99; 0 = mean).")] = 0.9,
        gpus: Annotated[str | None, Opt(help="GPU types, comma-separated (default: all).")] = None,
        tp: Annotated[str | None, Opt(help="tp degrees, e.g. 1,2,4,8.")] = None,
        pp: Annotated[str | None, Opt(help="pp degrees, e.g. 1,2,4.")] = None,
        quant: Annotated[str | None, Opt(help="e.g. bf16,fp8,w4a16,fp8/fp8/fp8.")] = None,
        max_num_seqs: Annotated[str | None, Opt(help="e.g. 64,128,256.")] = None,
        token_budget: Annotated[str | None, Opt(help="e.g. 2048,8192.")] = None,
        modes: Annotated[str | None, Opt(help="aggregated,disaggregated.")] = None,
        max_instances: Annotated[int | None, Opt(help="xPyD: x and y up to this.")] = None,
        max_gpus: Annotated[int | None, Opt(help="Most GPUs of one unit.")] = None,
        cross_node_tp: Annotated[bool, Opt(help="Allow tp beyond one node.")] = False,
        objective: Annotated[str, Opt(help=", ".join(OBJECTIVES))] = "tokens_per_gpu",
        target_rate: Annotated[float | None, Opt(help="req/s (objective min_gpus).")] = None,
        top: Annotated[int, Opt(help="Plans re-evaluated with the full model.")] = 50,
        rows: Annotated[int, Opt(help="Plans shown.")] = 15,
        engine: Annotated[str, Opt(help="Serving engine profile ('none': GPU only).")] = "vllm-v1",
        calibration: Annotated[str, Opt(help="ideal | default | a profile.")] = "default",
        jobs: Annotated[int | None, Opt(help="Processes for the full model (all CPUs).")] = None,
        out: Annotated[Path | None, Opt(help="Write the HTML/JSON/CSV report here.")] = None,
        fmt: Annotated[Format, Opt("--format", "-f")] = Format.table,
    ) -> None:
        """Search GPU type, tp/pp/ep, quantization, engine limits and aggregated vs
        disaggregated serving; rank by OBJECTIVE; print the best plans and how to deploy."""
        slo = _slo(slo_ttft, slo_tpot, slo_tbt, slo_e2e, percentile)
        space = _space(
            gpus=_names(gpus), tp=_ints(tp, "--tp"), pp=_ints(pp, "--pp"), quant=_names(quant),
            max_num_seqs=_ints(max_num_seqs, "--max-num-seqs"),
            token_budget=_ints(token_budget, "--token-budget"), modes=_names(modes),
            max_instances=max_instances, max_gpus_per_unit=max_gpus, cross_node_tp=cross_node_tp,
        )  # fmt: skip
        if out is not None:
            check_out_dir(out)  # before the search: a bad --out fails in a second
        res = _run(model, load_workload(workload), slo, space, objective, top, target_rate,
                   engine, calibration, jobs, fmt)  # fmt: skip
        files = {}
        if out is not None:
            from planner.search.report import write_search

            files = write_search(res, out)
            if getattr(files, "note", None):
                err_console.print(f"note: {files.note}", highlight=False, markup=False)
        _emit(res, rows, fmt, files)


def _slo(ttft, tpot, tbt, e2e, percentile) -> SLO:
    """The SLO of the options; one line naming them when none or a bad one is given."""
    given = {"ttft_s": ttft, "tpot_s": tpot, "tbt_s": tbt, "e2e_s": e2e}
    if all(v is None for v in given.values()):
        raise ValueError(
            "give an SLO: at least one of --slo-ttft, --slo-tpot, --slo-tbt, --slo-e2e"
        )
    for k, v in given.items():
        if v is not None and not v > 0:
            raise ValueError(f"--slo-{k[:-2]}: must be > 0 seconds, got {v}")
    if percentile not in (0, 0.5, 0.9, 0.99):
        raise ValueError(f"--percentile: give 0.5, 0.9, 0.99 or 0 (means), got {percentile}")
    return SLO(**given, percentile=percentile or None)


def _run(model, workload, slo, space, objective, top, target_rate, engine, calibration, jobs, fmt):
    """The search with a progress bar on stderr (tables only)."""
    eng = None if engine == "none" else engine
    kwargs = dict(objective=objective, top=top, target_rate=target_rate, calibration=calibration,
                  engine=eng, jobs=jobs)  # fmt: skip
    if fmt is not Format.table:
        return search(model, workload, slo, space, **kwargs)
    cols = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*cols, console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                name = "screening plans" if stage == "screen" else "full serving model"
                tasks[stage] = bar.add_task(name, total=total)
            bar.update(tasks[stage], completed=done)

        return search(model, workload, slo, space, progress=progress, **kwargs)


def _emit(res, rows: int, fmt: Format, files: dict) -> None:
    frame = res.to_frame()
    if fmt is Format.json:
        print(strict_json(res.to_dict()))
        return
    if fmt is Format.csv:
        emit(frame, fmt)
        return
    title = (
        f"{res.model} on {res.workload}: {res.n_plans:,} plans screened in {res.screen_s:.1f} s, "
        f"top {len(frame)} re-evaluated in {res.full_s:.1f} s (objective {res.objective})"
    )
    head = frame.head(rows)
    shown = pd.DataFrame(
        {k: (v(head) if callable(v) else head[v]) for k, v in SHOW.items()} if len(head) else {}
    )
    emit(shown, fmt, title)
    for note in res.notes:
        console.print(f"note: {note}", highlight=False)
    if res.pruned:
        console.print("pruned: " + ", ".join(f"{k} {v}" for k, v in res.pruned.items()))
    if res.feasible:
        console.print("[bold]deploy the best plan:[/]")
        for line in res.vllm_commands():
            console.print(line, highlight=False, soft_wrap=True)
    else:
        console.print(f"[bold red]{res.infeasible_reason()}[/]")
    for name, path in files.items():
        console.print(f"wrote {path}" if name == "search.html" else f"      {path}")
