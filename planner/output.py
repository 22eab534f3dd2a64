"""Rendering of result tables for the CLI: rich table, JSON or CSV on stdout."""

from __future__ import annotations

import functools
import json
import math
import shutil
from enum import StrEnum

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

WIDTH = max(100, shutil.get_terminal_size((160, 24)).columns)
console = Console(width=WIDTH)
err_console = Console(stderr=True, width=WIDTH)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def table(frame: pd.DataFrame, title: str | None = None) -> Table:
    t = Table(title=title, header_style="bold")
    for col in frame.columns:
        t.add_column(str(col), justify="right" if frame[col].dtype.kind in "if" else "left")
    for row in frame.itertuples(index=False):
        t.add_row(*(_cell(v) for v in row))
    return t


def emit(frame: pd.DataFrame, fmt: Format, title: str | None = None, payload=None) -> None:
    """Print ``frame`` as a table or CSV, or ``payload`` (default: the frame's records) as JSON."""
    if fmt is Format.json:
        data = payload if payload is not None else frame.to_dict(orient="records")
        print(json.dumps(data, indent=2, default=str))
    elif fmt is Format.csv:
        print(frame.to_csv(index=False), end="")
    else:
        console.print(table(frame, title))


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with status 2."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def guarded(func):
    """Turn input errors (ValueError subclasses of the packages) and a missing optional
    dependency (ImportError, e.g. torch for profiling) into one-line errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, FileNotFoundError, ImportError) as exc:
            fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))

    return wrapper
