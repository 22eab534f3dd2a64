"""Strict parsing of numeric cells of a user's CSV or JSONL (capacity tables, traces): a cell
that is text, non-finite, fractional where a count is meant, or out of range is named by file,
row and column in one line, never coerced to NaN, truncated or silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def csv_row(position: int) -> int:
    """Line of the file of data row ``position`` (0-based) of a CSV with one header line."""
    return position + 2


def numeric_cells(
    values: pd.Series,
    column: str,
    source: str,
    *,
    error: type[Exception] = ValueError,
    fix: str = "use a number",
    integer: bool = False,
    minimum: float | None = None,
    above: bool = False,
    blank_ok: bool = False,
    row_of: Callable[[int], int] = csv_row,
) -> np.ndarray:
    """The column as floats (NaN only for blank cells when ``blank_ok``).

    Raises ``error`` on the first bad cell: ``{source}: row R, column 'C': 'x' is not a
    number; {fix}``. ``minimum`` is inclusive unless ``above`` (then values must exceed it).
    """
    raw = values.reset_index(drop=True)
    blank = raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.strip())
    as_bool = raw.map(lambda v: isinstance(v, bool | np.bool_))
    parsed = pd.to_numeric(raw.where(~blank & ~as_bool), errors="coerce").to_numpy(float)
    problems = (
        ((~blank & np.isnan(parsed)) | as_bool, "is not a number"),
        (blank, "is blank") if not blank_ok else (np.zeros(len(raw), bool), ""),
        (np.isinf(parsed), "is not finite"),
        (np.isfinite(parsed) & (parsed != np.round(parsed)), "is not a whole number")
        if integer
        else (np.zeros(len(raw), bool), ""),
    )
    if minimum is not None:
        low = parsed <= minimum if above else parsed < minimum
        problems += ((low, f"must be {'>' if above else '>='} {minimum:g}"),)
    first: tuple[int, str] | None = None
    bad = np.zeros(len(raw), bool)
    for mask, what in problems:
        bad |= np.asarray(mask, bool)
        hits = np.flatnonzero(np.asarray(mask, bool))
        if hits.size and (first is None or hits[0] < first[0]):
            first = (int(hits[0]), what)
    if first is not None:
        pos, what = first
        value = raw.iloc[pos]
        if isinstance(value, str):
            shown = repr(value.strip())
        elif isinstance(value, bool | np.bool_) or pd.isna(value):
            shown = "the cell" if pd.isna(value) else repr(bool(value))
        else:
            shown = f"{float(value):g}"
        more = f" ({int(bad.sum())} rows bad in all)" if bad.sum() > 1 else ""
        raise error(f"{source}: row {row_of(pos)}, column '{column}': {shown} {what}; {fix}{more}")
    return parsed
