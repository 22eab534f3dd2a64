"""Fit engine profiles to measured serving results by robust least squares through the
serving model itself (planner.fit.predict).

Parameters: per engine profile, the exposed host time per iteration (hardware_specs.engines
Host: ``step_s``, ``per_seq_s``, ``per_token_s``, ``per_collective_s``; the last only where
the rows have tensor parallelism); optionally a GPU-time scale per
accelerator shared by all engines. Residual of a row: r = log(predicted / measured), clipped
at ±log 10 (a prediction the model cannot make, e.g. overload, counts as a factor 10).
Loss: soft-L1 with scale 0.1 (Huber-like in log space: rows off by more than ~10% weigh
linearly, so one misread point cannot drag the fit), every source weighing the same in total
(``source_weights``), scipy.optimize.least_squares (TRF, bounds >= 0). A parameter that
ends on its bound is reported; a fit with fewer distinct runs (setup, load, lengths) than
parameters is refused: the metrics of one run cannot separate the host terms.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.optimize._numdiff import approx_derivative  # least_squares' own differences

from hardware_specs.engines import EngineProfile, get_engine
from perfmodel.host import HostCosts

from .predict import build, eager, predict, profile_name, profile_overrides, setup_of
from .records import Measurement

HOST = ("step_s", "per_seq_s", "per_token_s", "per_collective_s", "eager_step_s")
UNIT = {"step_s": 1e-3, "per_seq_s": 1e-6, "per_token_s": 1e-6, "per_collective_s": 1e-6,
        "eager_step_s": 1e-3}  # fmt: skip
UPPER = {"step_s": 200.0, "per_seq_s": 2000.0, "per_token_s": 200.0, "per_collective_s": 500.0,
         "eager_step_s": 200.0}  # fmt: skip
START = {"step_s": 1.0, "per_seq_s": 10.0, "per_token_s": 1.0, "per_collective_s": 5.0,
         "eager_step_s": 1.0}  # fmt: skip
CLIP = math.log(10.0)
F_SCALE = 0.1
RESTARTS, RESTART_GAIN = 2, 0.01  # restarts from the solution while the cost falls by > 1%
STEP = 0.05  # finite-difference step, relative to max(|x|, the parameter's typical size)


class FitError(ValueError):
    """A fit that cannot be made or trusted (too few rows, no convergence)."""


@dataclass
class Point:
    """A row with its replica (built once; the host model is swapped per evaluation)."""

    row: Measurement
    profile: str
    replica: object
    memo: dict = field(default_factory=dict, repr=False)  # shared by the replica's points
    overrides: dict = field(default_factory=dict)  # profile fields the row's settings set

    def value(self, profile: EngineProfile, scale: float | None = None) -> float:
        """The row's prediction under ``profile`` (GPU-time ``scale``, else the profile's)."""
        profile = profile.model_copy(update=self.overrides) if self.overrides else profile
        costs = HostCosts(profile, self.replica.hardware, self.replica.steps.collectives)
        if scale is not None:
            costs.gpu_scale = scale
        self.replica.steps.host = costs
        try:
            return float(predict(self.row, self.replica, self.memo))
        except (ValueError, ZeroDivisionError):
            return math.inf


def points(rows: list[Measurement], engines: dict[str, EngineProfile] | None = None):
    """(Points of the rows capplan can model, {row index: why skipped})."""
    out, skipped, cache = [], {}, {}
    for i, row in enumerate(rows):
        try:
            name = profile_name(row)
            prof = (engines or {}).get(name) or get_engine(name)
            key = (setup_of(row), name)
            if key not in cache:
                replica = build(key[0], prof)
                replica.steps.gpu_memo = {}  # evaluations change only what applies after it
                cache[key] = (replica, {}, profile_overrides(key[0]))
            out.append(Point(row, name, *cache[key]))
        except ValueError as e:  # UnsupportedRow, or a model / GPU capplan does not know
            skipped[i] = str(e).splitlines()[0]
    return out, skipped


@dataclass
class FitResult:
    """Fitted profiles, per-row residuals and diagnostics."""

    profiles: dict[str, EngineProfile]
    scales: dict[str, float]
    table: pd.DataFrame  # one row per point: source, setup, metric, measured, predicted, ratio
    at_bound: list[str] = field(default_factory=list)
    converged: bool = True
    message: str = ""
    unfitted: dict[str, str] = field(default_factory=dict)  # engine -> why its prior is kept

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {
            "profiles": {k: p.model_dump(mode="json") for k, p in self.profiles.items()},
            "scales": self.scales,
            "at_bound": self.at_bound,
            "converged": self.converged,
            "message": self.message,
            "unfitted": self.unfitted,
            "points": self.table.to_dict(orient="records"),
        }


@dataclass(frozen=True)
class Layout:
    """The fitted parameters: (engine, host field) pairs, then one log scale per GPU."""

    host: list[tuple[str, str]]
    gpus: list[str]

    unfitted: dict[str, str]  # engine -> why its prior is kept

    @classmethod
    def of(cls, pts: list[Point], fit_scale: bool) -> Layout:
        """Every engine's host terms (per_collective_s only where its rows have TP > 1;
        eager_step_s only where some of its runs had CUDA graphs and some did not, the
        contrast that tells it from step_s); an engine with fewer distinct runs than its
        terms keeps its prior."""
        host, unfitted = [], {}
        for n in sorted({p.profile for p in pts}):
            own = [p for p in pts if p.profile == n]
            modes = {eager(p.row) for p in own}
            terms = [h for h in HOST if (h != "per_collective_s" or any(p.row.tp > 1 for p in own))
                     and (h != "eager_step_s" or len(modes) == 2)]  # fmt: skip
            runs = len({run_of(p.row) for p in own})
            if runs < len(terms):
                unfitted[n] = f"{runs} distinct runs for {len(terms)} host terms; prior kept"
                continue
            host += [(n, h) for h in terms]
        gpus = sorted({p.replica.hardware.name for p in pts}) if fit_scale else []
        return cls(host, gpus, unfitted)

    @property
    def labels(self) -> list[str]:
        return [f"{n}.{h}" for n, h in self.host] + [f"scale.{g}" for g in self.gpus]

    def bounds(self):
        """(start, lower, upper) vectors."""
        x0 = [START[h] for _, h in self.host] + [0.0] * len(self.gpus)
        lo = [0.0] * len(self.host) + [-2.0] * len(self.gpus)
        hi = [UPPER[h] for _, h in self.host] + [2.0] * len(self.gpus)
        return np.array(x0), np.array(lo), np.array(hi)

    def unpack(self, x, base: dict[str, EngineProfile]):
        """(every base profile, fitted ones with the host terms of x; GPU-time scales)."""
        vals: dict[str, dict[str, float]] = {n: {} for n, _ in self.host}
        for (n, h), v in zip(self.host, x):
            vals[n][h] = float(v) * UNIT[h]
        profs = {n: base[n].model_copy(update={"host": base[n].host.model_copy(update=v)})
                 for n, v in vals.items()}  # fmt: skip
        off = len(self.host)
        return base | profs, {g: float(math.exp(x[off + k])) for k, g in enumerate(self.gpus)}

    def sparsity(self, pts) -> np.ndarray:
        """Which parameters each row depends on: its engine's host terms and its GPU's scale
        (finite differences then perturb one engine's terms for all engines at once)."""
        out = np.zeros((len(pts), len(self.host) + len(self.gpus)), dtype=int)
        for i, p in enumerate(pts):
            out[i, [j for j, (n, _) in enumerate(self.host) if n == p.profile]] = 1
            if p.replica.hardware.name in self.gpus:
                out[i, len(self.host) + self.gpus.index(p.replica.hardware.name)] = 1
        return out


def run_of(row: Measurement) -> tuple:
    """What makes a run distinct: setup, load and lengths (its metrics share one run)."""
    return (setup_of(row), row.load, row.load_value, row.dataset, row.input_tokens,
            row.output_tokens)  # fmt: skip


def residuals(pts, profs, scales) -> np.ndarray:
    """log(predicted / measured) per point, clipped at ±log 10."""
    r = np.empty(len(pts))
    for i, p in enumerate(pts):
        pred = p.value(profs[p.profile], scales.get(p.replica.hardware.name))
        ok = math.isfinite(pred) and pred > 0
        r[i] = np.clip(math.log(pred / p.row.value), -CLIP, CLIP) if ok else CLIP
    return r


def source_weights(pts) -> np.ndarray:
    """sqrt of each row's weight so that every source weighs the same in total (a paper with
    150 profiled batches counts as much as one with 5 rows): w = N / (S n_source)."""
    sources = pd.Series([p.row.source for p in pts])
    n = sources.map(sources.value_counts()).to_numpy(float)
    return np.sqrt(len(pts) / (sources.nunique() * n))


def fit(
    rows: list[Measurement],
    engines: dict[str, EngineProfile] | None = None,
    fit_scale: bool = False,
    max_nfev: int = 60,
) -> FitResult:
    """Fit the host terms of every engine profile the rows use (module docstring)."""
    pts, skipped = points(rows, engines)
    layout = Layout.of(pts, fit_scale)
    labels = layout.labels
    runs = {run_of(p.row) for p in pts}
    if pts and not layout.host:
        why = "; ".join(f"{n}: {w}" for n, w in layout.unfitted.items())
        raise FitError(f"no engine has enough distinct runs (setup, load, lengths) to fit: {why}")
    if len(runs) < len(labels):
        raise FitError(
            f"{len(runs)} distinct runs (setup, load, lengths) for {len(labels)} parameters "
            f"({', '.join(labels)}); need at least {len(labels)}: add runs at other loads or "
            "lengths" + (f" ({len(skipped)} rows skipped)" if skipped else "")
        )
    base = {n: (engines or {}).get(n) or get_engine(n) for n in {p.profile for p in pts}}
    x0, lo, hi = layout.bounds()
    w = source_weights(pts)

    last: dict = {}
    sparsity, typical = layout.sparsity(pts), np.maximum(x0, 1.0)

    def fun(x):
        last["x"], last["f"] = x.copy(), w * residuals(pts, *layout.unpack(x, base))
        return last["f"]

    def jac(x):
        """Forward differences of 5% of max(|x|, typical size), one engine's terms and the
        GPU scales perturbed together (``sparsity``). scipy's relative step falls back to
        1.5e-8 at x = 0, where the scales start (log 1): the model's discrete parts (search
        tolerances, whole sequences) then read as slopes of ~1,000."""
        f0 = last["f"] if "x" in last and np.array_equal(last["x"], x) else None
        return approx_derivative(fun, x, abs_step=STEP * np.maximum(np.abs(x), typical),
                                 f0=f0, bounds=(lo, hi), sparsity=sparsity)  # fmt: skip

    sol = _solve(fun, jac, x0, lo, hi, max_nfev)
    for _ in range(RESTARTS):  # a fresh trust region: the objective is not smooth
        again = _solve(fun, jac, sol.x, lo, hi, max_nfev)
        better = again.cost < (1 - RESTART_GAIN) * sol.cost
        sol = again if again.cost < sol.cost else sol
        if not better:
            break
    profs, scales = layout.unpack(sol.x, base)  # engines without enough runs keep the prior
    at_bound = [lab for lab, v, a, b in zip(labels, sol.x, lo, hi) if v >= b - 1e-9 * max(1, b)]
    table = residual_table(pts, profs, scales)
    return FitResult(profs, scales, table, at_bound, bool(sol.success), sol.message,
                     layout.unfitted)  # fmt: skip


def _solve(fun, jac, x0, lo, hi, max_nfev: int):
    """One run of scipy's trust-region least squares with the module's robust loss."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return optimize.least_squares(
            fun,
            x0,
            jac=jac,
            bounds=(lo, hi),
            loss="soft_l1",
            f_scale=F_SCALE,
            x_scale=np.maximum(x0, 1),
            max_nfev=max_nfev,
        )


def residual_table(pts, profs, scales) -> pd.DataFrame:
    """Per point: its setup, measured and predicted value and their ratio (GPU-time scales
    from ``scales``, or each profile's own with ``own_scale``)."""
    rows = []
    for p in pts:
        hw = p.replica.hardware
        prof = profs[p.profile]
        scale = scales.get(hw.name)  # None: the profile's own
        pred = p.value(prof, scale)
        r = p.row
        rows.append(
            {
                "source": r.source,
                "where": r.where,
                "engine": p.profile,
                "model": r.model,
                "hardware": r.hardware,
                "tp": r.tp,
                "load": r.load,
                "load_value": r.load_value,
                "dataset": r.dataset,
                "input": r.input_tokens,
                "output": r.output_tokens,
                "metric": r.metric,
                "measured": r.value,
                "predicted": pred,
                "ratio": pred / r.value if math.isfinite(pred) else math.inf,
            }
        )
    return pd.DataFrame(rows)
