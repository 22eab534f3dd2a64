"""Bring your own measurements: a CSV of kernel times from any machine → a Profile.

Schema (one row per measured kernel; extra columns are ignored):

- ``op`` (required): one of `ops.OPS` (gemm, attn_prefill, attn_decode, copy, triad, add,
  silu_mul, add_rmsnorm, rope, all_reduce, all_gather, all_to_all, send_recv);
- ``dtype`` (required): fp32, bf16, fp16 or fp8 (aliases float32, bfloat16, float16 accepted);
- ``device`` (required): the device string, identical on every row;
- ``time_s`` (required): median time of one kernel call, seconds;
- shape columns the op needs (required for that op): gemm m, n, k; attention batch, heads,
  kv_heads, head_dim, q_len, kv_len; memory ops numel (add_rmsnorm also n = hidden);
  collectives numel, world_size;
- ``repeats`` (optional, default 1).

FLOPs and bytes are computed from the shapes with the suite's own formulas (`ops`), so imported
and measured profiles calibrate the same way.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.ops import OPS, fill_counts, unknown_op_message
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.provenance import Provenance, catalog_name_for, slugify

REQUIRED = ("op", "dtype", "device", "time_s")
DTYPE_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}


def import_csv(
    path: str | Path,
    accelerator: str | None = None,
    device_type: str | None = None,
    threads: int | None = None,
) -> Profile:
    """Read a measurements CSV (schema above) and return a validated Profile.

    ``accelerator``: hardware_specs name the profile calibrates (default: the catalog entry
    matching the device string, else a slug of it); ``device_type``: ``cpu`` or ``cuda``
    (default: cuda when the device string matches a catalog entry, else cpu).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read CSV: {exc}") from None
    table = normalize(raw, str(path))
    device = str(table["device"].iloc[0])
    prov = _provenance(path, device, accelerator, device_type, threads)
    return Profile(table, prov, source=str(path)).check_usable(str(path))


def normalize(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the schema of a measurements table and add op_class, flops, bytes."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise ProfileError(f"{source}: missing column(s) {missing}; required: {list(REQUIRED)}")
    if raw.empty:
        raise ProfileError(f"{source}: no rows")
    table = raw.copy()
    table["dtype"] = table["dtype"].astype(str).str.strip().str.lower().replace(DTYPE_ALIASES)
    for i, op in enumerate(table["op"]):
        if op not in OPS:
            raise ProfileError(f"{source}: row {i}, field 'op': {unknown_op_message(str(op))}")
    _check_shape_columns(table, source)
    devices = table["device"].astype(str).unique()
    if len(devices) > 1:
        raise ProfileError(
            f"{source}: field 'device' must be the same on every row, got {list(devices)}"
        )
    if "repeats" not in table:
        table["repeats"] = 1
    return fill_counts(table)


def _check_shape_columns(table: pd.DataFrame, source: str) -> None:
    for op, rows in table.groupby("op"):
        for col in OPS[op].shape:
            if col not in table.columns:
                raise ProfileError(f"{source}: op {op!r} needs column {col!r} (missing)")
            bad = rows[~(pd.to_numeric(rows[col], errors="coerce") > 0)]
            if len(bad):
                raise ProfileError(
                    f"{source}: row {int(bad.index[0])}, field {col!r}: op {op!r} needs a "
                    f"positive integer, got {bad[col].iloc[0]!r}"
                )


def _provenance(
    path: Path, device: str, accelerator: str | None, device_type: str | None, threads: int | None
) -> Provenance:
    catalog = catalog_name_for(device)
    in_catalog = catalog != slugify(device)
    return Provenance(
        device=device,
        accelerator=accelerator or catalog,
        device_type=device_type or ("cuda" if in_catalog else "cpu"),
        threads=threads,
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        timing_method="user-supplied measurements (imported CSV)",
        source=f"imported from {path.name}",
    )
