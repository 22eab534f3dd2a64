"""Per-replica capacity: the max request rate (req/s) one replica of a pool sustains under the
SLO for requests of one bucket, from a capacity provider.

A provider implements :class:`CapacityProvider`. A zero capacity makes the (bucket, pool) pair
ineligible and carries its reason (not measured, context too long, out of memory, no rate meets
the SLO); the planner never divides by it. A capacity below ``NEAR_ZERO_SHARE`` (0.1%) of the
bucket's best pool is taken as "cannot serve" too (:func:`drop_near_zero`): a pool a thousand
times slower than another for the same requests is a placeholder (Mélange's profiles write
1e-6 req/s for "cannot serve"), and its 1/κ coefficients of 10^6 make the MILP ill-conditioned.

:class:`TableCapacity` reads a measured CSV. Columns: ``gpu`` (or ``pool``), ``input_tokens``,
``output_tokens``, ``max_rate_rps`` (or ``max_rate``); optional ``tp``, ``pp`` (default 1),
``model`` (blank = every model) and SLO columns ``ttft_s``, ``tpot_s``, ``e2e_s``: a row
measured under targets at least as tight as the plan's is valid for it (the max rate only grows
as the SLO loosens). A table without SLO columns is taken as measured at the plan's SLO.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

import hardware_specs
from planner.cells import csv_row, numeric_cells
from planner.mix.errors import PlanSpecError
from planner.mix.pools import Pool
from planner.mix.spec import SLOSpec
from planner.mix.traffic import Buckets

SLO_COLUMNS = ("ttft_s", "tpot_s", "e2e_s")
REL_TOL = 1e-9
NEAR_ZERO_SHARE = 1e-3  # a capacity below this share of the bucket's best pool: cannot serve


@dataclass(frozen=True)
class PoolCapacity:
    """Capacity of one pool for each bucket (req/s per replica) and why zeros are zero."""

    rate: np.ndarray
    reasons: tuple[str | None, ...]


@runtime_checkable
class CapacityProvider(Protocol):
    """Source of per-replica capacities (a measured table, a profile, the serving model)."""

    name: str

    def capacity(
        self, model: str, pool: Pool, buckets: Buckets, slo: SLOSpec | None
    ) -> PoolCapacity:
        """Max req/s of one replica of ``pool`` for each bucket of ``model`` under ``slo``."""
        ...


@dataclass(frozen=True)
class CapacityMatrix:
    """Capacities of every (bucket, pool) pair of one model: ``rate[b, p]`` req/s per replica;
    ``reasons[(b, p)]`` says why an ineligible pair (rate 0) is ineligible."""

    rate: np.ndarray
    reasons: dict[tuple[int, int], str] = field(default_factory=dict)
    near_zero: int = 0  # pairs dropped by drop_near_zero

    @property
    def eligible(self) -> np.ndarray:
        """Boolean (B, P): the pool can serve the bucket."""
        return self.rate > 0


def drop_near_zero(cap: CapacityMatrix) -> CapacityMatrix:
    """``cap`` with every rate below ``NEAR_ZERO_SHARE`` x its bucket's best set to 0 (cannot
    serve), the reason and the count of such pairs recorded."""
    best = cap.rate.max(axis=1, initial=0.0)
    tiny = (cap.rate > 0) & (cap.rate < NEAR_ZERO_SHARE * best[:, None])
    if not tiny.any():
        return cap
    reasons = dict(cap.reasons)
    for b, p in zip(*np.nonzero(tiny), strict=True):
        reasons[(int(b), int(p))] = (
            f"capacity {cap.rate[b, p]:.3g} req/s is below {NEAR_ZERO_SHARE:.1%} of the "
            f"bucket's best pool ({best[b]:.3g} req/s): treated as cannot serve"
        )
    rate = np.where(tiny, 0.0, cap.rate)
    return CapacityMatrix(rate, reasons, cap.near_zero + int(tiny.sum()))


def capacity_matrix(
    provider: CapacityProvider,
    model: str,
    pools: Sequence[Pool],
    buckets: Buckets,
    slo: SLOSpec | None,
) -> CapacityMatrix:
    """Ask ``provider`` once per pool; non-finite, non-positive and near-zero rates become
    ineligible."""
    rate = np.zeros((len(buckets), len(pools)))
    reasons: dict[tuple[int, int], str] = {}
    for p, pool in enumerate(pools):
        cap = provider.capacity(model, pool, buckets, slo)
        r = np.asarray(cap.rate, dtype=float)
        ok = np.isfinite(r) & (r > 0)
        rate[:, p] = np.where(ok, r, 0.0)
        for b in np.flatnonzero(~ok):
            reasons[(int(b), p)] = cap.reasons[b] or f"capacity {r[b]:g} req/s"
    return drop_near_zero(CapacityMatrix(rate, reasons))


def canonical_gpu(name: str) -> str:
    """The catalog spelling of a GPU name, or the name itself when it is not in the catalog."""
    try:
        return hardware_specs.get(str(name)).name
    except hardware_specs.HardwareSpecError:
        return str(name).strip()


class TableCapacity:
    """Capacities from a measured table (see the module docstring for the columns)."""

    name = "table"

    def __init__(self, frame: pd.DataFrame, source: str = "<table>") -> None:
        self.source = source
        self.frame = normalize_table(frame, source)
        self.slo_columns = [c for c in SLO_COLUMNS if c in self.frame]

    @classmethod
    def from_csv(cls, path: str | Path) -> TableCapacity:
        """Read a CSV table; errors name the file and the column."""
        try:
            frame = pd.read_csv(path, dtype={"model": str, "gpu": str, "pool": str})
        except (
            OSError,
            UnicodeDecodeError,
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
        ) as exc:
            raise PlanSpecError(
                f"{path}: cannot read capacity table (a UTF-8 CSV): {exc}"
            ) from None
        return cls(frame, str(path))

    def capacity(
        self, model: str, pool: Pool, buckets: Buckets, slo: SLOSpec | None
    ) -> PoolCapacity:
        """Exact (input, output) match, else the best measured shape at least as large in
        both (a conservative bound when capacity falls with request size)."""
        f = self.frame
        rows = f[
            (f.gpu == pool.gpu)
            & (f.tp == pool.tp)
            & (f.pp == pool.pp)
            & ((f.model == "") | (f.model == model))
        ]
        if rows.empty:
            reason = f"{pool.name} is not in the capacity table {self.source}"
            return PoolCapacity(np.zeros(len(buckets)), (reason,) * len(buckets))
        return self._lookup(rows, self._meets(rows, slo), buckets)

    def _meets(self, rows: pd.DataFrame, slo: SLOSpec | None) -> np.ndarray:
        """Rows whose measured SLO is at least as tight as ``slo`` on every set target."""
        ok = np.ones(len(rows), dtype=bool)
        if slo is None:
            return ok
        for col in self.slo_columns:
            target = getattr(slo, col)
            measured = rows[col].to_numpy(float)
            if target is None:
                continue
            ok &= ~np.isnan(measured) & (measured <= target * (1 + REL_TOL))
        return ok

    @staticmethod
    def _lookup(rows: pd.DataFrame, valid: np.ndarray, buckets: Buckets) -> PoolCapacity:
        """Vectorized over buckets x rows: exact rows first, then larger measured shapes."""
        a, b = buckets.input_tokens[:, None], buckets.output_tokens[:, None]
        ri, ro = rows.input_tokens.to_numpy(float), rows.output_tokens.to_numpy(float)
        rr = rows.max_rate_rps.to_numpy(float)
        measured = (a == ri) & (b == ro)
        exact = np.where(measured & valid, rr, -1.0).max(axis=1)
        larger = np.where((ri >= a) & (ro >= b) & valid, rr, -1.0).max(axis=1)
        rates, reasons = np.zeros(len(buckets)), []
        for k in range(len(buckets)):
            why = None
            if np.isnan(a[k, 0]) or np.isnan(b[k, 0]):
                why = "bucket has no token sizes; a CSV table needs them (use a Mélange grid)"
            elif exact[k] >= 0:
                rates[k] = exact[k]
                why = None if exact[k] > 0 else "capacity table gives 0 req/s (ineligible)"
            elif measured[k].any():
                why = "no row of the capacity table meets the SLO for this bucket"
            elif larger[k] > 0:
                rates[k] = larger[k]
            else:
                why = (
                    f"no measured shape >= ({a[k, 0]:g}, {b[k, 0]:g}) tokens in the capacity table"
                )
            reasons.append(why)
        return PoolCapacity(rates, tuple(reasons))


def normalize_table(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rename aliases, fill defaults, canonicalize GPU names and parse every numeric cell
    strictly (text, non-finite, fractional or negative tp/pp, bad rates: one error naming the
    file, row and column; rates >= 0, token counts > 0, SLO targets > 0 s or blank)."""
    f = frame.rename(columns={c: c.strip().lower() for c in frame.columns})
    f = f.rename(columns={"pool": "gpu", "max_rate": "max_rate_rps"})
    need = ["gpu", "input_tokens", "output_tokens", "max_rate_rps"]
    missing = [c for c in need if c not in f]
    if missing:
        raise PlanSpecError(
            f"{source}: capacity table lacks column(s) {', '.join(missing)}; needs gpu (or pool), "
            "input_tokens, output_tokens, max_rate_rps (or max_rate); optional model, tp, pp, "
            + ", ".join(SLO_COLUMNS)
        )
    f = f.copy()
    cells = functools.partial(numeric_cells, source=source, error=PlanSpecError)
    for col in ("tp", "pp"):
        if col in f:
            v = cells(
                f[col],
                col,
                integer=True,
                minimum=1,
                blank_ok=True,
                fix="use a whole number of GPUs >= 1 (blank = 1)",
            )
            f[col] = np.where(np.isnan(v), 1, v).astype(int)
        else:
            f[col] = 1
    blank_gpu = f["gpu"].isna() | f["gpu"].astype(str).str.strip().eq("")
    if blank_gpu.any():
        row = int(np.flatnonzero(blank_gpu.to_numpy())[0])
        raise PlanSpecError(
            f"{source}: row {csv_row(row)}, column 'gpu': the cell is blank; name the GPU type"
        )
    f["model"] = (
        f["model"].astype(object).fillna("").astype(str).str.strip() if "model" in f else ""
    )
    names = {g: canonical_gpu(g) for g in f["gpu"].unique()}
    f["gpu"] = f["gpu"].map(names)
    f["max_rate_rps"] = cells(
        f["max_rate_rps"],
        "max_rate_rps",
        minimum=0,
        fix="use a number >= 0 (req/s; 0 marks the pool ineligible for that bucket)",
    )
    for col in ("input_tokens", "output_tokens"):
        f[col] = cells(f[col], col, minimum=0, above=True, fix="use a token count > 0")
    for col in SLO_COLUMNS:
        if col in f:
            f[col] = cells(
                f[col],
                col,
                minimum=0,
                above=True,
                blank_ok=True,
                fix="use an SLO target > 0 s, or leave the cell blank",
            )
    return f
