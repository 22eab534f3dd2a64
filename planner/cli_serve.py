"""`capplan serve`: one replica under load — latency percentiles, capacity, max rate under an
SLO, an optional simulation beside the analytic model, and a rate sweep chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from planner.output import Format, console, emit
from planner.serving import SLO, Engine, analyze, max_rate_under_slo, prepare
from planner.workload import Workload

Opt = typer.Option


def load_workload(spec: str) -> Workload:
    """A bundled workload name (chat, summarization, code) or a trace file path."""
    return (
        Workload.from_trace(spec)
        if Path(spec).suffix in (".csv", ".jsonl", ".json")
        else (Workload.bundled(spec))
    )


def scheduler_spec(
    kind, max_num_seqs, token_budget, batch_size, prefill_replicas, decode_replicas
) -> dict:
    spec = {"kind": kind}
    if kind in ("continuous", "chunked", "disaggregated"):
        spec["max_num_seqs"] = max_num_seqs
    if kind == "chunked":
        spec["token_budget"] = token_budget
    if kind == "static":
        spec["batch_size"] = batch_size
    if kind == "disaggregated":
        spec |= {"prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas}
    return spec


def _ms(x: float) -> float:
    return x * 1e3 if math.isfinite(x) else math.inf


def report_frame(reports: dict) -> pd.DataFrame:
    """Rows metric x statistic, one column per source (analytic / simulation), in ms."""
    rows = []
    for metric in ("ttft", "tpot", "e2e", "tbt"):
        if any(getattr(r, metric, None) is None for r in reports.values()):
            continue
        for stat in ("mean", "p50", "p90", "p99"):
            rows.append(
                {
                    "metric": metric,
                    "stat": stat,
                    **{src: _ms(getattr(r, metric).get(stat)) for src, r in reports.items()},
                }
            )
    return pd.DataFrame(rows)


def register(app: typer.Typer, guarded) -> None:
    @app.command()
    @guarded
    def serve(
        model: Annotated[str, Opt(help="Model name or config.json.")],
        hardware: Annotated[str, Opt(help="Accelerator name.")],
        workload: Annotated[
            str, Opt(help="chat | summarization | code | a trace CSV/JSONL.")
        ] = "chat",
        rate: Annotated[
            float | None, Opt(help="Offered requests/s (default: 70% of capacity).")
        ] = None,
        slo_ttft: Annotated[float | None, Opt(help="TTFT target, seconds.")] = None,
        slo_tpot: Annotated[float | None, Opt(help="TPOT target, seconds.")] = None,
        slo_e2e: Annotated[float | None, Opt(help="End-to-end target, seconds.")] = None,
        slo_tbt: Annotated[float | None, Opt(help="Time-between-tokens target, seconds.")] = None,
        percentile: Annotated[float, Opt(help="SLO percentile (0.5, 0.9, 0.99; 0 = mean).")] = 0.9,
        scheduler: Annotated[
            str, Opt(help="continuous | chunked | static | disaggregated.")
        ] = "continuous",
        max_num_seqs: Annotated[int, Opt(help="Sequence slots.")] = 256,
        token_budget: Annotated[int, Opt(help="Chunked prefill token budget.")] = 512,
        batch_size: Annotated[int, Opt(help="Static batch size.")] = 8,
        prefill_replicas: Annotated[int, Opt(help="Disaggregated: prefill replicas.")] = 1,
        decode_replicas: Annotated[int, Opt(help="Disaggregated: decode replicas.")] = 1,
        tp: Annotated[int, Opt(help="Tensor parallel size.")] = 1,
        pp: Annotated[int, Opt(help="Pipeline parallel size.")] = 1,
        calibration: Annotated[
            str, Opt(help="ideal | default | a measured profile (shipped name or dir).")
        ] = "default",
        simulate: Annotated[bool, Opt(help="Also run the iteration-level simulator.")] = False,
        requests: Annotated[int, Opt(help="Simulated requests.")] = 20000,
        sweep: Annotated[
            Path | None, Opt(help="Write a latency-vs-rate chart (HTML) here.")
        ] = None,
        fmt: Annotated[Format, Opt("--format", "-f")] = Format.table,
    ) -> None:
        """Latency percentiles, capacity and max rate under an SLO of one replica."""
        import perfmodel

        engine = Engine.build(
            model,
            hardware,
            perfmodel.Parallelism(tp=tp, pp=pp),
            scheduler_spec(
                scheduler, max_num_seqs, token_budget, batch_size, prefill_replicas, decode_replicas
            ),
            calibration=calibration,
        )
        prep = prepare(engine, load_workload(workload))
        slo = None
        if slo_ttft or slo_tpot or slo_e2e:
            slo = SLO(
                ttft_s=slo_ttft, tpot_s=slo_tpot, e2e_s=slo_e2e, percentile=percentile or None
            )
        capacity = analyze(engine, prep, 1e-9).capacity
        rate = rate if rate is not None else 0.7 * capacity
        reports = {"analytic": analyze(engine, prep, rate, slo)}
        if simulate:
            from planner.serving.simulate import simulate as run_sim

            reports["simulation"] = run_sim(
                engine, prep.workload, rate, n_requests=requests, slo=slo
            )
        best = max_rate_under_slo(engine, None, prep.workload, slo) if slo else None
        if sweep is not None:
            from planner.sweeps import rate_sweep, sweep_figure

            frame = rate_sweep(engine, prep, slo=slo)
            sweep_figure(frame, f"{engine.model.name} on {engine.hardware.name}").write_html(
                sweep, include_plotlyjs=True
            )
        _emit(reports, best, fmt)


def _emit(reports: dict, best, fmt: Format) -> None:
    a = reports["analytic"]
    if fmt is Format.json:
        payload = {k: r.to_dict() for k, r in reports.items()}
        payload["max_rate_under_slo"] = best.to_dict() if best else None
        print(json.dumps(payload, indent=2, default=str))
        return
    frame = report_frame(reports)
    if fmt is Format.csv:
        emit(frame, fmt)
        return
    console.print(
        f"[bold]{a.model}[/] on [bold]{a.hardware}[/], {a.scheduler} scheduler, "
        f"{a.rate:.3g} req/s offered, capacity {a.capacity:.3g} req/s "
        f"(utilization {a.utilization:.0%})\nkernel data: {a.calibration}"
    )
    emit(frame, Format.table, "latency (ms)")
    console.print(
        f"decode batch {a.decode_batch:.1f}; {a.output_tokens_per_s:,.0f} output "
        f"tok/s; {a.total_tokens_per_s:,.0f} total tok/s"
        + (f"; goodput {a.goodput:.3g} req/s" if a.goodput is not None else "")
    )
    rse = {k: r.ttft_mean_rse for k, r in reports.items() if r.ttft_mean_rse is not None}
    if rse:
        console.print(
            "mean TTFT relative standard error (batch means): "
            + ", ".join(f"{k} {v:.1%}" for k, v in rse.items())
        )
    for note in a.notes:
        console.print(f"[bold red]{note}[/]")
    for reason, share in a.rejected.items():
        console.print(f"[yellow]{share:.1%} of requests not servable: {reason}[/]")
    if best:
        console.print(("max rate under SLO: " if best.feasible else "") + best.reason)
