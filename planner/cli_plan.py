"""`capplan plan PLAN.yaml`: the cheapest GPU mix for a traffic mix under an SLO, with a
self-contained HTML report (plus Markdown, JSON and CSV).

Wire it into the app with ``cli_plan.register(app)``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from planner.outdir import check_out_dir
from planner.output import console, err_console, guarded, strict_json


class PlanFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command to ``app``."""

    @app.command("plan")
    @guarded
    def plan_command(
        plan_file: Annotated[Path, typer.Argument(help="Plan file (YAML) or a Mélange JSON.")],
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Report folder (default: <plan>-report/)."),
        ] = None,
        sweeps: Annotated[
            bool, typer.Option(help="Cost-vs-rate and cost-vs-SLO curves in the report.")
        ] = True,
        fmt: Annotated[
            PlanFormat, typer.Option("--format", "-f", help="stdout: rich summary or JSON.")
        ] = PlanFormat.table,
    ) -> None:
        """Cheapest GPU types, counts, configurations and routing that meet the SLO."""
        from planner.mix import as_spec, cost_vs_rate, cost_vs_slo, make_provider, plan
        from planner.report import print_summary, write_report

        if not plan_file.exists():
            raise FileNotFoundError(f"{plan_file}: no such plan file")
        folder = check_out_dir(out or Path(f"{plan_file.stem}-report"))  # before any work
        spec = as_spec(plan_file)
        if spec.over_time:
            _plan_over_time(spec, folder, fmt)
            return
        provider = make_provider(spec)
        alloc = plan(spec, provider=provider)
        rate_curve = slo_curve = None
        if sweeps:
            rate_curve = cost_vs_rate(spec, provider=provider)
            if any(spec.slo_of(m) is not None for m in spec.models):
                slo_curve = cost_vs_slo(spec, provider=provider)
        files = write_report(alloc, folder, rate_curve, slo_curve)
        if fmt is PlanFormat.json:
            print(strict_json(alloc.to_dict()))
        else:
            print_summary(alloc, console)
            console.print(f"report: {files['html']} (+ plan.md, plan.json, CSV)", highlight=False)
        if getattr(files, "note", None):
            err_console.print(f"[yellow]note:[/] {escape(files.note)}", highlight=False)
        if not alloc.feasible:
            err_console.print("[bold red]no feasible plan[/]; see the issues above")
            raise typer.Exit(1)


def _plan_over_time(spec, folder: Path, fmt: PlanFormat) -> None:
    """A plan whose models have rate curves: the fleet per period and its report."""
    from planner.mix import plan_over_time
    from planner.report.timeplan import headline, write_time_report

    tp = plan_over_time(spec)
    files = write_time_report(tp, folder)
    if fmt is PlanFormat.json:
        print(strict_json(tp.to_dict()))
    else:
        console.print(f"[bold]GPU-mix plan over time: {escape(tp.name)}[/]", highlight=False)
        for label, value in headline(tp):
            console.print(f"  {label}: {escape(value)}", highlight=False)
        for issue in tp.issues:
            err_console.print(f"[yellow]{issue.kind}:[/] {escape(issue.message)}", highlight=False)
            if issue.suggestion:
                err_console.print(f"  [green]fix[/]: {escape(issue.suggestion)}", highlight=False)
        console.print(
            f"report: {files['html']} (+ timeplan.md, timeplan.json, CSV)", highlight=False
        )
    if getattr(files, "note", None):
        err_console.print(f"[yellow]note:[/] {escape(files.note)}", highlight=False)
    if not tp.feasible:
        err_console.print("[bold red]no feasible plan over time[/]")
        raise typer.Exit(1)
