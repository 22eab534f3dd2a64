"""`capplan serve`: one replica under load — latency percentiles, capacity, max rate under an
SLO, an optional simulation beside the analytic model, and a rate sweep chart."""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from pydantic import ValidationError

from planner.output import Format, console, emit, err_console, strict_json
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
    kind,
    max_num_seqs,
    token_budget,
    batch_size,
    prefill_replicas,
    decode_replicas,
    memory_utilization=None,
) -> dict:
    """The scheduler options given on the command line; what is left unset (None) comes from
    the engine profile (hardware_specs.engines) or the scheduler's defaults."""
    spec = {"kind": kind, "memory_utilization": memory_utilization}
    if kind in (None, "continuous", "chunked", "disaggregated"):
        spec["max_num_seqs"] = max_num_seqs
    if kind in (None, "chunked"):
        spec["token_budget"] = token_budget
    if kind == "static":
        spec["batch_size"] = batch_size
    if kind == "disaggregated":
        spec |= {"prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas}
    return {k: v for k, v in spec.items() if v is not None}


# scheduler fields of planner.serving's pydantic models that are CLI options of the same name
SCHEDULER_OPTIONS = (
    "max_num_seqs",
    "token_budget",
    "batch_size",
    "memory_utilization",
    "prefill_replicas",
    "decode_replicas",
)


@contextmanager
def scheduler_options():
    """Turn a pydantic error of the scheduler's fields into one line naming the CLI option."""
    try:
        yield
    except ValidationError as exc:
        e = exc.errors()[0]
        field = next((str(x) for x in e["loc"] if str(x) in SCHEDULER_OPTIONS), None)
        opt = "--" + field.replace("_", "-") if field else "--scheduler"
        got = f", got {e['input']!r}" if "input" in e and not isinstance(e["input"], dict) else ""
        raise ValueError(f"{opt}: {e['msg'].lower()}{got}") from None


def check_counts(**counts) -> None:
    """Integer options that must be >= 1 (None: not given)."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")


def serve_slo(ttft, tpot, e2e, tbt, percentile) -> SLO | None:
    """The SLO of the options (None when no target is given); a target must be a finite
    number of seconds > 0 (0 is not "no SLO": leave the option out for that)."""
    targets = {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "tbt_s": tbt}
    for name, value in targets.items():
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(
                f"--slo-{name[:-2]} must be a finite number of seconds > 0, got {value} "
                "(leave the option out for no target)"
            )
    if percentile not in (0, 0.5, 0.9, 0.99):
        raise ValueError(f"--percentile: give 0.5, 0.9, 0.99 or 0 (means), got {percentile}")
    if all(v is None for v in targets.values()):
        return None
    return SLO(**targets, percentile=percentile or None)


def check_servable(prep, workload: str, warn_share: float = 0.5) -> None:
    """Refuse a workload none of whose requests the engine can serve (longer than the model
    context or the KV cache), naming why; warn on stderr when most are set aside."""
    share = sum(prep.rejected.values())
    why = "; ".join(f"{v:.0%} {k}" for k, v in prep.rejected.items())
    if prep.I.size == 0:
        raise ValueError(
            f"no request of workload {workload!r} can be served: {why}; use shorter "
            "requests, a model with a longer context or more memory (--tp)"
        )
    if share >= warn_share:
        err_console.print(
            f"warning: {share:.0%} of workload {workload!r} cannot be served and is left out "
            f"of every number below: {why}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


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
        engine: Annotated[
            str, Opt(help="Serving engine profile (capplan engines list; 'none': GPU only).")
        ] = "vllm-v1",
        scheduler: Annotated[
            str | None,
            Opt(help="continuous | chunked | static | disaggregated (default: the engine's)."),
        ] = None,
        max_num_seqs: Annotated[int | None, Opt(help="Sequence slots (engine default).")] = None,
        token_budget: Annotated[
            int | None, Opt(help="Chunked prefill token budget (engine default).")
        ] = None,
        batch_size: Annotated[int | None, Opt(help="Static batch size.")] = None,
        memory_utilization: Annotated[
            float | None, Opt(help="Share of GPU memory the engine may use (engine default).")
        ] = None,
        quant: Annotated[
            str | None, Opt(help="Weight dtype, e.g. fp8 (W8A8) or int4 (default: checkpoint).")
        ] = None,
        concurrency: Annotated[
            int | None, Opt(help="Closed loop of this many clients instead of an open rate.")
        ] = None,
        replicas: Annotated[int, Opt(help="Replicas sharing the rate (round robin).")] = 1,
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

        check_counts(replicas=replicas, tp=tp, pp=pp, requests=requests, concurrency=concurrency)
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"--rate must be a positive number of requests/s, got {rate}")
        slo = serve_slo(slo_ttft, slo_tpot, slo_e2e, slo_tbt, percentile)
        with scheduler_options():
            engine = Engine.build(
                model,
                hardware,
                perfmodel.Parallelism(tp=tp, pp=pp),
                scheduler_spec(
                    scheduler,
                    max_num_seqs,
                    token_budget,
                    batch_size,
                    prefill_replicas,
                    decode_replicas,
                    memory_utilization,
                ),
                quant=None
                if quant is None
                else perfmodel.step.weight_quant(perfmodel.get_model(model), quant),
                calibration=calibration,
                engine=None if engine.lower() == "none" else engine,
            )
        prep = prepare(engine, load_workload(workload))
        check_servable(prep, workload)
        if concurrency is not None:
            _emit_closed(engine, prep, concurrency, replicas, fmt)
            return
        capacity = analyze(engine, prep, 1e-9).capacity
        rate = (rate if rate is not None else 0.7 * capacity * replicas) / replicas
        reports = {"analytic": analyze(engine, prep, rate, slo)}
        if simulate:
            from planner.serving.simulate import simulate as run_sim

            reports["simulation"] = run_sim(
                engine, prep.workload, rate, n_requests=requests, slo=slo
            )
        best = max_rate_under_slo(engine, None, prep, slo) if slo else None
        if sweep is not None:
            from planner.sweeps import rate_sweep, sweep_figure

            frame = rate_sweep(engine, prep, slo=slo)
            sweep_figure(frame, f"{engine.model.name} on {engine.hardware.name}").write_html(
                sweep, include_plotlyjs=True
            )
        _emit(reports, best, fmt, band_rows(reports["analytic"], best), replicas)


def band_rows(report, best) -> list[dict]:
    """The 80% bands (planner.fit.bands) of the answers a user acts on; [] without an engine
    profile or shipped bands."""
    from planner.fit.bands import bands

    b = bands()
    if b is None or report.engine.startswith("none"):
        return []
    items = [("capacity req/s", report.capacity, "throughput")]
    items += [("max rate under SLO req/s", best.rate, "throughput")] if best else []
    if not report.overloaded:
        items += [("mean TTFT s", report.ttft.mean, "latency"),
                  ("mean TPOT s", report.tpot.mean, "latency")]  # fmt: skip
    rows = []
    for name, value, cls in items:
        lo, hi = b.interval(value, cls)
        rows.append({"answer": name, "capplan": value, "band_lo": lo, "band_hi": hi})
    return rows


def _emit_closed(engine, prep, concurrency: int, replicas: int, fmt: Format) -> None:
    """A closed loop of ``concurrency`` clients spread over the replicas."""
    from planner.serving.loads import closed_loop

    res = closed_loop(engine, prep, concurrency / replicas)
    frame = pd.DataFrame(
        [
            {"metric": "requests/s", "value": res.request_s * replicas},
            {"metric": "output tok/s", "value": res.output_tok_s * replicas},
            {"metric": "mean TTFT ms", "value": res.ttft_mean_s * 1e3},
            {"metric": "mean TPOT ms", "value": res.tpot_mean_s * 1e3},
            {"metric": "mean E2E ms", "value": res.e2e_mean_s * 1e3},
        ]
    )
    title = (
        f"{engine.model.name} on {engine.hardware.name} x{replicas}, engine "
        f"{engine.engine_label}, closed loop of {concurrency} clients"
    )
    emit(frame, fmt, title, payload=res.to_dict() | {"replicas": replicas})


def _emit(reports: dict, best, fmt: Format, bands=None, replicas: int = 1) -> None:
    """Reports are of one replica; with ``replicas`` > 1 (round robin, each sees 1/N of the
    rate) the totals of all replicas are printed beside them."""
    a = reports["analytic"]
    total = {
        "replicas": replicas,
        "offered_rps": a.rate * replicas,
        "capacity_rps": a.capacity * replicas,
        "max_rate_under_slo_rps": best.rate * replicas if best else None,
    }
    if fmt is Format.json:
        payload = {k: r.to_dict() for k, r in reports.items()}
        payload["max_rate_under_slo"] = best.to_dict() if best else None
        payload["bands_80"] = bands or []
        payload["per_replica"] = True
        payload["total"] = total
        print(strict_json(payload))
        return
    frame = report_frame(reports)
    if fmt is Format.csv:
        emit(frame, fmt)
        return
    console.print(
        f"[bold]{a.model}[/] on [bold]{a.hardware}[/], {a.scheduler} scheduler, "
        f"{a.rate:.3g} req/s offered, capacity {a.capacity:.3g} req/s "
        f"(utilization {a.utilization:.0%})\nengine: {a.engine}; kernel data: {a.calibration}"
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
    if replicas > 1:
        console.print(
            f"[bold]the figures above are per replica; {replicas} replicas (round robin):[/] "
            f"{total['offered_rps']:.4g} req/s offered, capacity {total['capacity_rps']:.4g} "
            "req/s"
            + (f", max rate under SLO {total['max_rate_under_slo_rps']:.4g} req/s" if best else "")
        )
    if bands:
        title = "80% band of the measured value (leave-one-source-out residuals of the fit)"
        emit(pd.DataFrame(bands), Format.table, title)
