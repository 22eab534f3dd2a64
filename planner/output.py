"""Rendering of result tables for the CLI: rich table, JSON or CSV on stdout.

JSON is always strict (RFC 8259): :func:`strict_json` turns NaN and ±inf into ``null`` and,
inside a dict, adds ``"<field>_note"`` beside the field with the reason ("infinite",
"infinite: overloaded" when the dict says ``overloaded``, "not a number"), then dumps with
``allow_nan=False`` so no bare ``Infinity``/``NaN`` can ever reach a file or stdout.
"""

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


def _nonfinite_note(value: float, owner: dict | None) -> str:
    kind = "not a number" if math.isnan(value) else "infinite" if value > 0 else "-infinite"
    if owner is not None and kind != "not a number" and owner.get("overloaded") is True:
        kind += ": overloaded"
    return kind


def _as_float(value):
    """``value`` as a Python float if it is a (numpy) floating scalar, else None."""
    if isinstance(value, float):
        return value
    if hasattr(value, "dtype") and getattr(value, "ndim", None) == 0 and value.dtype.kind == "f":
        return float(value)
    return None


def json_safe(value, notes: bool = True):
    """``value`` with every non-finite float replaced by None, recursively (tuples, sets and
    numpy arrays become lists, numpy scalars Python scalars, pandas NA None); with ``notes``,
    a dict field ``k`` that held a non-finite number gets ``k_note`` beside it (unless the dict
    already has that key)."""
    f = _as_float(value)
    if f is not None:
        return f if math.isfinite(f) else None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[str(k)] = json_safe(v, notes)
            fv = _as_float(v)
            note = f"{k}_note"
            if notes and fv is not None and not math.isfinite(fv) and note not in value:
                out[note] = _nonfinite_note(fv, value)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, notes) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return json_safe(value.tolist(), notes)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def strict_json(value, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (see :func:`json_safe`); other objects (paths, enums,
    timestamps) are written as their ``str``."""
    return json.dumps(json_safe(value), indent=indent, default=str, allow_nan=False)


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
        print(strict_json(data))
    elif fmt is Format.csv:
        print(frame.to_csv(index=False), end="")
    else:
        console.print(table(frame, title))


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with status 2."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def guarded(func):
    """Turn input errors (ValueError subclasses of the packages), a missing optional
    dependency (ImportError, e.g. torch for profiling) and a file that cannot be read or
    written (OSError: missing, permission, disk full) into one-line errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, OSError, ImportError) as exc:
            fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))

    return wrapper
