"""capplan's all-reduce times against published measurements from other sources.

    python benchmarks/allreduce_check.py              # every docs/data/external/allreduce_*.csv
    python benchmarks/allreduce_check.py --points     # also one line per measured point

Every row of the bundled CSVs (gpu, n_gpus, bytes, time_us, implementation, source) is
predicted the way `perfmodel.estimate_step` times an ``all_reduce`` op (`perfmodel.roofline.
time_ops` on one comm op of ``bytes`` among ``n_gpus`` ranks):

- ``profile``: the shipped imported profile of that GPU (``<gpu>-aic-vllm``), like with like.
  The importer keeps AIConfigurator's two all-reduce tables apart by dtype: NCCL's table is
  measured in ``half`` (→ the profile's fp16 all_reduce rows), vLLM's graph-captured custom
  all-reduce in ``bfloat16`` (→ its bf16 rows; vLLM falls back to NCCL / symmetric memory
  above the custom kernel's size limit, and the table records what vLLM ran). So an NCCL
  point is predicted from the fp16 curve and a custom-kernel point from the bf16 curve.
- ``engine``: the profile's bf16 curve for every point, which is what a bf16 model's
  ``estimate_step`` uses whatever the measured implementation. Where a source measured several
  implementations at one size, their fastest ("fastest of the row": what an engine that picks
  per size, as vLLM does, runs) is compared with that curve too, as family ``fastest``.
- The headline per GPU pools the NCCL points (fp16 curve) and the fastest-of-row points
  (bf16 curve); single engine kernels (one-shot, two-shot, symmetric memory forced at every
  size) are reported per family only.
- ``default``: the documented constants (ring alpha-beta at the catalog's link, comm 0.80).
- ``learned``: `calibration="learned"` (collectives are not learned: it keeps the default).

These data are the independent check of the kernel-profiles issue: nothing is fitted on them.
"""

from __future__ import annotations

import argparse
import glob
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import hardware_specs
from perfmodel.calibration import resolve
from perfmodel.ops import Op
from perfmodel.profiling.learned import IMPORTED_PROFILES
from perfmodel.roofline import time_ops

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "data" / "external"
COLUMNS = ["gpu", "n_gpus", "bytes", "time_us", "implementation", "source", "notes"]
#: Catalog name → the shipped imported profile of that GPU.
PROFILES = IMPORTED_PROFILES


def load_points(pattern: str = str(DATA / "allreduce_*.csv")) -> pd.DataFrame:
    """Every bundled measurement, checked: known columns, positive finite sizes and times,
    a source on every row."""
    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"no files match {pattern}")
    frames = []
    for path in files:
        frame = pd.read_csv(path)
        missing = set(COLUMNS) - set(frame.columns)
        if missing:
            raise SystemExit(f"{path}: missing column(s) {sorted(missing)}")
        frames.append(frame.assign(file=Path(path).name))
    points = pd.concat(frames, ignore_index=True)
    for col in ("n_gpus", "bytes", "time_us"):
        values = points[col].to_numpy(float)
        if not (np.isfinite(values).all() and (values > 0).all()):
            raise SystemExit(f"{col}: every value must be a positive number")
    if points["source"].fillna("").str.strip().eq("").any():
        raise SystemExit("every row needs a source")
    return points


def family(implementation: str) -> str:
    """'nccl', 'fastest' (the fastest implementation a source measured at one size) or
    'custom' (an engine's one-/two-shot or symmetric-memory kernel)."""
    name = implementation.lower()
    return (
        "nccl" if name.startswith("nccl") else "fastest" if name.startswith("fastest") else "custom"
    )


def with_fastest(points: pd.DataFrame) -> pd.DataFrame:
    """The points plus, where one source measured several implementations at one (GPU, ranks,
    size), a row with the fastest of them."""
    keys = ["file", "gpu", "n_gpus", "bytes"]
    many = points.groupby(keys)["implementation"].transform("nunique") > 1
    best = points[many].loc[lambda f: f.groupby(keys)["time_us"].idxmin()]
    best = best.assign(implementation="fastest of the row (" + best["implementation"] + ")")
    return pd.concat([points, best], ignore_index=True)


def predict_s(calibration, gpu: str, ranks: int, nbytes: float, dtype: str = "bf16") -> float:
    """Seconds capplan gives one all-reduce of ``nbytes`` among ``ranks`` GPUs of ``gpu``."""
    message = np.array([float(nbytes)])
    zero = np.zeros(1)
    op = Op("all_reduce", "comm", 1, zero, zero, message, zero, dtype,
            collective="all_reduce", ranks=int(ranks))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (timed,) = time_ops([op], hardware_specs.get(gpu), resolve(calibration))
    return float(timed.time_s[0])


def predict(points: pd.DataFrame) -> pd.DataFrame:
    """The points with predicted µs under each calibration and pred/meas − 1."""
    rows = []
    for p in points.itertuples():
        fam = family(p.implementation)
        like = "fp16" if fam == "nccl" else "bf16"  # see the module docstring
        profile = PROFILES.get(p.gpu)
        pred = {
            "profile": predict_s(profile, p.gpu, p.n_gpus, p.bytes, like) if profile else np.nan,
            "engine": predict_s(profile, p.gpu, p.n_gpus, p.bytes, "bf16") if profile else np.nan,
            "default": predict_s("default", p.gpu, p.n_gpus, p.bytes),
            "learned": predict_s("learned", p.gpu, p.n_gpus, p.bytes),
        }
        row = {"gpu": p.gpu, "n": int(p.n_gpus), "bytes": int(p.bytes), "family": fam,
               "implementation": p.implementation, "measured_us": p.time_us}  # fmt: skip
        for name, seconds in pred.items():
            row[f"{name}_us"] = seconds * 1e6
            row[f"err_{name}"] = seconds * 1e6 / p.time_us - 1.0
        rows.append(row)
    return pd.DataFrame(rows)


def summary(pred: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: points, median |pred/meas − 1| and the worst signed error per calibration,
    and the direction (median signed error: + = capplan slower than measured)."""
    out = []
    for key, group in pred.groupby(by):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["points"] = len(group)
        for name in ("profile", "engine", "default", "learned"):
            err = group[f"err_{name}"].to_numpy(float)
            if np.isnan(err).all():
                continue
            worst = err[np.nanargmax(np.abs(err))]
            row[f"{name} median %"] = round(100 * float(np.nanmedian(np.abs(err))), 1)
            row[f"{name} worst %"] = round(100 * float(worst), 1)
            row[f"{name} signed %"] = round(100 * float(np.nanmedian(err)), 1)
        out.append(row)
    return pd.DataFrame(out)


def _cell(column: str, value) -> str:
    if not isinstance(value, float):
        return str(value)
    signed = "worst" in column or "signed" in column
    return f"{value:+.1f}" if signed else f"{value:.4g}"


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [_cell(c, v) for c, v in zip(cols, row, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA / "allreduce_*.csv"), help="CSV glob")
    parser.add_argument("--points", action="store_true", help="print every point as well")
    args = parser.parse_args()
    pred = predict(with_fastest(load_points(args.data)))
    if args.points:
        cols = ["gpu", "n", "bytes", "implementation", "measured_us", "profile_us",
                "engine_us", "default_us", "learned_us"]  # fmt: skip
        print(markdown(pred[cols].round(2)), end="\n\n")
    print(markdown(summary(pred, ["gpu", "n", "family"])), end="\n\n")
    headline = pred[pred["family"] != "custom"]
    print(markdown(summary(headline, ["gpu"])))


if __name__ == "__main__":
    main()
