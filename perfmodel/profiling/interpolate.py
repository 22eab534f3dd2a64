"""Interpolation of measured efficiencies (see `perfmodel.profiling.calibrate`): over a plane
of (log10 intensity, log10 bytes) by Delaunay triangulation, held at the convex hull's edge;
along log10 bytes in binned time-weighted means, the time held below the smallest bin."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Curve = Callable[[np.ndarray, np.ndarray], np.ndarray]
TWO_D_CLASSES = ("gemm", "attn_prefill", "attn_decode")
BIN_DECADES = 0.25


def make_curve(op_class: str, rows: pd.DataFrame) -> Curve:
    """The interpolating curve of one class from its rows (columns flops, bytes, eff, time_s)."""
    flops = rows["flops"].to_numpy(float)
    nbytes = rows["bytes"].to_numpy(float)
    eff = rows["eff"].to_numpy(float)
    if op_class in TWO_D_CLASSES:
        curve = plane_curve(flops, nbytes, eff)
        if curve is not None:
            return curve
    x = np.log10(np.maximum(nbytes, 1.0))
    return binned_curve(x, eff, rows["time_s"].to_numpy(float), affine=op_class == "comm")


def plane_curve(flops: np.ndarray, nbytes: np.ndarray, eff: np.ndarray) -> Curve | None:
    """Linear interpolation over (log10 flops/bytes, log10 bytes); outside the convex hull the
    interpolated value at the nearest boundary point; None when the points do not span a
    plane (fewer than 3 or collinear)."""
    plane = plane_interpolator(plane_coords(flops, nbytes), eff)
    if plane is None:
        return None
    return lambda f, b: plane(plane_coords(f, b))


def plane_interpolator(pts: np.ndarray, eff: np.ndarray, log: bool = False):
    """Piecewise-linear eff (``log``: log10 eff) over 2-D points (Delaunay), held at the value
    of the nearest point of the convex hull's boundary outside it; None for fewer than 3 or
    collinear points."""
    if log:
        plane = plane_interpolator(pts, np.log10(eff))
        return None if plane is None else (lambda q: 10.0 ** plane(q))
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.spatial import ConvexHull, QhullError
    from threadpoolctl import threadpool_limits

    pts, eff = _mean_duplicates(pts, eff)
    if len(pts) < 3 or np.linalg.matrix_rank(pts - pts.mean(axis=0), tol=1e-6) < 2:
        return None
    try:
        linear = LinearNDInterpolator(pts, eff)
        edges = pts[ConvexHull(pts).simplices]
    except QhullError:
        return None
    # scipy computes the barycentric transforms (one 2x2 LAPACK call per triangle) on first
    # use; on pooled BLAS threads a busy machine was once seen to take 30-180 s for them,
    # and one thread measured 3-9x faster under load (docs/profiling.md): compute them now.
    with threadpool_limits(1):
        _ = linear.tri.transform
    nearest = NearestNDInterpolator(pts, eff)
    centre = pts.mean(axis=0)

    def curve(q: np.ndarray) -> np.ndarray:
        value = linear(q)
        out = ~np.isfinite(value)
        if out.any():
            edge = project_to_edges(q[out], edges)
            edge += (centre - edge) * 1e-9  # a hair inside, so the triangulation covers it
            held = linear(edge)
            value[out] = np.where(np.isfinite(held), held, nearest(q[out]))
        return value

    return curve


def project_to_edges(q: np.ndarray, edges: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Nearest point to each query q (n, 2) on the segments ``edges`` (E, 2, 2):
    p = a + clip(((q − a)·(b − a)) / |b − a|², 0, 1)·(b − a), minimised over segments."""
    a, ab = edges[:, 0], edges[:, 1] - edges[:, 0]
    length2 = np.maximum((ab * ab).sum(axis=1), 1e-300)
    out = np.empty_like(q)
    for start in range(0, len(q), chunk):
        block = q[start : start + chunk, None, :]
        t = np.clip(((block - a) * ab).sum(axis=2) / length2, 0.0, 1.0)
        points = a + t[..., None] * ab
        best = ((block - points) ** 2).sum(axis=2).argmin(axis=1)
        out[start : start + chunk] = points[np.arange(len(best)), best]
    return out


def plane_coords(flops: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """(log10 arithmetic intensity, log10 bytes) of each kernel, shape (n, 2)."""
    nbytes = np.maximum(nbytes, 1.0)
    return np.column_stack([np.log10(np.maximum(flops, 1.0) / nbytes), np.log10(nbytes)])


def binned_curve(x: np.ndarray, eff: np.ndarray, time_s: np.ndarray, affine: bool = False) -> Curve:
    """1-D curve over x (log10 bytes): bins of BIN_DECADES, time-weighted mean efficiency per
    bin (Σ roofline / Σ time), linear between bin centres. Above the last bin the efficiency is
    held (bandwidth-bound); below the first the *time* is held, eff = eff_0 · roof(bytes) /
    roof(bytes_0): a kernel smaller than any measured one still pays the launch and latency
    floor that the smallest measured one paid (holding its efficiency would make a 1 kB kernel
    64x faster than a measured 64 kB one, where GPUs measure both at a few microseconds).
    roof(b) is b / bandwidth for a memory kernel (eff ∝ bytes); with ``affine`` (collectives,
    whose alpha-beta roofline has a latency term) it is s·b + h, fitted to the rows' rooflines
    (exact: one collective at one rank count is affine in its bytes)."""
    bins = np.floor(x / BIN_DECADES).astype(int)
    roof_rows = eff * time_s
    frame = pd.DataFrame({"bin": bins, "x": x, "roof": roof_rows, "time": time_s})
    agg = frame.groupby("bin").agg(x=("x", "mean"), roof=("roof", "sum"), time=("time", "sum"))
    xs, ys = agg["x"].to_numpy(), (agg["roof"] / agg["time"]).to_numpy()
    slope, floor = 1.0, 0.0
    if affine and len(np.unique(x)) > 1:
        slope, floor = np.polyfit(10.0**x, roof_rows, 1)
        slope, floor = max(float(slope), 0.0), max(float(floor), 0.0)

    def roof(q: np.ndarray) -> np.ndarray:
        return slope * 10.0**q + floor

    def curve(f: np.ndarray, b: np.ndarray) -> np.ndarray:
        q = np.log10(np.maximum(b, 1.0))
        held = ys[0] * roof(q) / np.maximum(roof(np.asarray(xs[0])), 1e-300)
        return np.where(q < xs[0], held, np.interp(q, xs, ys))

    return curve


def _mean_duplicates(pts: np.ndarray, eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average the efficiency of identical points (repeated shapes) so Qhull sees each once."""
    frame = pd.DataFrame({"x": pts[:, 0].round(9), "y": pts[:, 1].round(9), "e": eff})
    agg = frame.groupby(["x", "y"], as_index=False)["e"].mean()
    return agg[["x", "y"]].to_numpy(), agg["e"].to_numpy()
