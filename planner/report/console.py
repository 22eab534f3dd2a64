"""The rich console summary of a plan (what `capplan plan` prints)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from planner.mix.result import Allocation
from planner.output import table
from planner.report.tables import (
    baselines_table,
    headline,
    headroom_table,
    pools_table,
    routing_table,
)


def print_summary(alloc: Allocation, console: Console, routes: int = 20) -> None:
    """Headline figures, allocation, baselines and the first ``routes`` routing rows; or the
    issues when infeasible."""
    title = f"[bold]GPU-mix plan: {alloc.name}[/]"
    console.print(title)
    for label, value in headline(alloc):
        console.print(f"  {label}: {value}", highlight=False)
    if not alloc.feasible:
        console.print("[bold red]No feasible plan.[/]")
        for i in alloc.issues:
            console.print(f"  [red]{i.kind}[/]: {i.message}", highlight=False)
            if i.suggestion:
                console.print(f"    [green]fix[/]: {i.suggestion}", highlight=False)
        return
    for i in alloc.issues:  # warnings of a feasible plan
        console.print(f"  [bold yellow]{i.kind}[/]: {escape(i.message)}", highlight=False)
        if i.suggestion:
            console.print(f"    [green]check[/]: {escape(i.suggestion)}", highlight=False)
    console.print(table(pools_table(alloc), "Allocation"))
    if alloc.baselines:
        console.print(table(baselines_table(alloc), "Single-GPU-type baselines"))
    if alloc.headroom_costs:
        console.print(table(headroom_table(alloc), "Stated headroom and its cost"))
    r = routing_table(alloc)
    more = f" (first {routes} of {len(r)})" if len(r) > routes else ""
    console.print(table(r.head(routes), "Routing" + more))
