"""Leave-one-source-out check of the engine fit, and the error bands it yields.

For every source s of a dataset, the engine profiles are fitted on the rows of the other
sources only (engines no other source measured keep their unfitted prior) and s's rows are
predicted: the held-out ratio predicted / measured of every row. The 80% band of a metric
class (throughput, latency) is the 10th-90th percentile of those held-out ratios r: a
prediction P then brackets the measurement by [P / r90, P / r10]. Coverage is checked the
same way, nested: the band used for source s comes from the other sources' ratios only.

With a ``cache`` folder every fold is saved as it finishes (``<key>-<source>.csv``, the key a
digest of the rows, the priors, the fit options and the source code of capplan's packages), so
a run that was stopped resumes with the folds it had finished, and any change of data or code
starts afresh.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

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
    cache: Path | None = None,
) -> Loso:
    """Held-out predictions of every source (module docstring); ``priors`` are the unfitted
    profiles (host terms the fit starts from and engines without data keep). The folds run
    in ``jobs`` processes; with ``cache``, finished folds are saved there and reused."""
    sources = sorted({r.source for r in rows})
    files = FoldFiles(cache, rows, priors, fit_scale) if cache is not None else None
    parts = {s: files.load(s) for s in sources if files and files.has(s)}
    todo = [s for s in sources if s not in parts]
    if jobs > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs) as pool:
            futures = {pool.submit(held_out, rows, s, priors, fit_scale): s for s in todo}
            for done in as_completed(futures):
                parts[futures[done]] = _saved(files, futures[done], done.result())
    else:
        for s in todo:
            parts[s] = _saved(files, s, held_out(rows, s, priors, fit_scale))
    found = [parts[s] for s in sources if parts[s] is not None]
    table = pd.concat(found, ignore_index=True)
    return Loso(table, summarize(table), bands_of(table), nested_coverage(table))


def _saved(files: FoldFiles | None, source: str, part: pd.DataFrame | None):
    if files is not None:
        files.save(source, part)
    return part


def code_files() -> list[Path]:
    """capplan's source and catalog files, but the engine profiles and the fit's own data
    (the priors and rows stand for them: ``--write`` rewrites the profiles and bands)."""
    root = Path(__file__).resolve().parents[2]
    skip = (root / "hardware_specs" / "data" / "engines", root / "planner" / "fit" / "data")
    out = []
    for pkg in ("perfmodel", "hardware_specs", "queueing", "planner"):
        for f in sorted((root / pkg).rglob("*")):
            kept = f.suffix in (".py", ".yaml", ".json", ".csv") and "__pycache__" not in f.parts
            if kept and not any(f.is_relative_to(d) for d in skip):
                out.append(f)
    return out


class FoldFiles:
    """The saved folds of one LOSO run: one CSV per held-out source (empty: nothing to
    predict), named by a digest of the rows, priors, options and `code_files`."""

    def __init__(self, folder: Path, rows, priors, fit_scale: bool) -> None:
        h = hashlib.blake2b(digest_size=8)
        for r in rows:
            h.update(r.model_dump_json().encode())
        for name in sorted(priors):
            h.update(priors[name].model_dump_json().encode())
        h.update(str(fit_scale).encode())
        for f in code_files():
            h.update(f.read_bytes())
        self.folder, self.key = Path(folder), h.hexdigest()

    def path(self, source: str) -> Path:
        return self.folder / f"{self.key}-{re.sub(r'[^A-Za-z0-9_.-]', '_', source)}.csv"

    def has(self, source: str) -> bool:
        return self.path(source).exists()

    def load(self, source: str) -> pd.DataFrame | None:
        p = self.path(source)
        return pd.read_csv(p) if p.stat().st_size else None

    def save(self, source: str, part: pd.DataFrame | None) -> None:
        """Write through a temporary name, so a stopped run leaves no half-written fold."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path(source).with_suffix(".tmp")
        if part is None:
            tmp.write_text("")
        else:
            part.to_csv(tmp, index=False)
        tmp.replace(self.path(source))


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
