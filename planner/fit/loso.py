"""Leave-one-source-out check of the engine fit, and the error bands it yields.

For every source s of a dataset, the engine profiles are fitted on the rows of the other
sources only (engines no other source measured keep their unfitted prior) and s's rows are
predicted: the held-out ratio predicted / measured of every row. The 80% band of a metric
class (throughput, latency) is the 10th-90th percentile of those held-out ratios r: a
prediction P then brackets the measurement by [P / r90, P / r10]. Coverage is checked the
same way, nested: the band used for source s comes from the other sources' ratios only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hardware_specs.engines import EngineProfile

from .fit import FitError, fit, points, residual_table
from .records import Measurement
from .validate import metric_class, summarize

BAND = (0.1, 0.9)


@dataclass(frozen=True)
class Loso:
    """Held-out ratio per row, the summary per class, bands and their nested coverage."""

    table: pd.DataFrame
    summary: pd.DataFrame
    bands: dict[str, tuple[float, float]]
    coverage: dict[str, float]

    def to_frame(self) -> pd.DataFrame:
        return self.table


def bands_of(table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """{class: (r10, r90)} of the finite held-out ratios."""
    out = {}
    for cls, g in table.assign(cls=table.metric.map(metric_class)).groupby("cls"):
        r = g.ratio[np.isfinite(g.ratio)]
        out[cls] = tuple(float(r.quantile(q)) for q in BAND)
    return out


def held_out(rows, source: str, priors, fit_scale: bool) -> pd.DataFrame | None:
    """The residual table of ``source``'s rows under a fit on every other source."""
    train = [r for r in rows if r.source != source]
    test = [r for r in rows if r.source == source]
    try:
        res = fit(train, engines=priors, fit_scale=fit_scale)
        profs, scales = priors | res.profiles, res.scales
    except FitError:
        profs, scales = dict(priors), {}
    pts, _ = points(test, profs)
    return residual_table(pts, profs, scales) if pts else None


def leave_one_source_out(
    rows: list[Measurement],
    priors: dict[str, EngineProfile],
    fit_scale: bool = False,
    jobs: int = 1,
) -> Loso:
    """Held-out predictions of every source (module docstring); ``priors`` are the unfitted
    profiles (host terms the fit starts from and engines without data keep). The folds run
    in ``jobs`` processes."""
    sources = sorted({r.source for r in rows})
    args = [(rows, s, priors, fit_scale) for s in sources]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(held_out, *zip(*args)))
    else:
        parts = [held_out(*a) for a in args]
    table = pd.concat([p for p in parts if p is not None], ignore_index=True)
    return Loso(table, summarize(table), bands_of(table), nested_coverage(table))


def nested_coverage(table: pd.DataFrame) -> dict[str, float]:
    """Share of each class's held-out rows inside the band built from the other sources."""
    inside = pd.Series(False, index=table.index)
    for s in table.source.unique():
        own = table.source == s
        bands = bands_of(table[~own])
        for i in table.index[own]:
            lo, hi = bands.get(metric_class(table.metric[i]), (math.nan, math.nan))
            inside[i] = bool(lo <= table.ratio[i] <= hi)
    cls = table.metric.map(metric_class)
    return {c: float(inside[cls == c].mean()) for c in sorted(cls.unique())}
