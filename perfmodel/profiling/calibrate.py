"""Calibration from measurements: efficiency = roofline bound / measured time, interpolated
over operator size and held at the edge value outside the measured range.

For every measured kernel i of class c and dtype t, against a reference accelerator with peak
P(t) FLOP/s and memory bandwidth B bytes/s:

    roofline_i = max(flops_i / P(t), bytes_i / B)        (comm: alpha-beta time of the message)
    eff_i      = roofline_i / time_i

and a query (flops, bytes) gets:

- gemm, attn_prefill, attn_decode: piecewise-linear interpolation of eff over the measured
  points in (log10 intensity, log10 bytes), intensity = flops / bytes (Delaunay
  triangulation, `scipy.interpolate.LinearNDInterpolator`); outside their convex hull the
  value at the nearest point of the hull's boundary (the edge value). These coordinates make
  a GEMM grid (token counts m × weight shapes) nearly rectangular: while m ≪ n, k the bytes are the
  weight's and the intensity ≈ 2m/e, so a shape's points lie on a line of constant bytes and
  an unmeasured m between two measured ones interpolates between them. If the points do not
  span two dimensions, the 1-D curve below.
- memory, comm: 1-D over log10 bytes. Points are pooled in bins of 1/4 decade, each bin's
  efficiency is Σ roofline / Σ time (the time-weighted mean), then `numpy.interp` between bin
  centres, efficiency held above the last bin and time held below the first. The memory
  class pools the decoder's own ops (add_rmsnorm, silu_mul, rope, add) when present, else
  every memory op.
- collectives use the 1-D curve of the same collective at the same number of ranks; between
  two measured numbers, the time log-linear in log(ranks) (`between_ranks`); beyond them the
  nearest measured number (by ratio); else all collectives pooled (`comm_key`): a one-shot
  all-reduce among 8 GPUs and a ring among 2 have different latency floors.
- attn_decode, when perfmodel passes the op's shape (batch, KV length, head shape): over
  (log10 batch, log10 KV length) of the same measured head shape, else over (log10 units,
  log10 bytes per unit), units = batch × KV heads (`decode_curves`). In (intensity, bytes) one
  sequence of 16k tokens and 16 of 1k coincide, yet a decode kernel without split-KV runs the
  first 6x slower on an H200 (one thread block per sequence and KV head walks the whole KV).
- attn_prefill, when perfmodel passes the head dimension: the (intensity, bytes) curve of the
  rows measured at that head dimension; between two measured ones, log10 efficiency linear in
  log2(head_dim); outside them the nearest (`prefill_curves`). At equal FLOPs a smaller head
  has fewer bytes and a higher intensity, yet runs slower (its softmax work per matmul FLOP
  doubles): pooled, AIConfigurator's vLLM tables put d = 64 prefill 9–15% fast and d = 128
  9–12% slow (H100, H200, L40S, B200).
- memory ops that perfmodel names (norm, act, rope) use the 1-D curve of their own measured
  kernel (add_rmsnorm, silu_mul, rope; ``OP_KERNELS``) when the profile has it: at one byte
  count these differ by up to 10x (RoPE runs ~14 small kernels, a fused norm two), so a pooled
  curve is wrong for each of them. Other ops, and profiles without the kernel, use the class.

Efficiencies are clipped to [1e-6, 1.5] (collectives: 10, see EFF_MAX_COMM) and are never
NaN. A class/dtype the profile lacks falls back to its GPU sibling (fp16 ↔ bf16, GPU profiles)
and along perfmodel's dtype chain (fp8 → bf16 → fp16 → fp32), then to perfmodel's documented
DEFAULT efficiency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfmodel.calibration import MIN_EFFICIENCY
from perfmodel.profiling.interpolate import Curve, make_curve, plane_interpolator

EFF_MIN, EFF_MAX = MIN_EFFICIENCY, 1.5
#: Collectives are measured against the ring alpha-beta time, which one-shot all-reduce
#: kernels beat by ~5x on small messages (2(n−1)α is 28 µs among 8 H100s at α = 2 µs; vLLM's
#: custom all-reduce of 16 kB measures 5.3 µs there): their efficiency may exceed 1 that much.
EFF_MAX_COMM = 10.0
DECODER_MEMORY_OPS = ("add_rmsnorm", "silu_mul", "rope", "add")
#: Curve key of decode attention over (units, bytes per unit); see `decode_curves`.
UNITS_KEY = "attn_decode@units"
#: Prefix of the curve key of prefill attention measured at one head dimension.
PREFILL_PREFIX = "attn_prefill@d"
#: perfmodel operator name → the profiled kernel that implements it (own efficiency curve).
OP_KERNELS = {"norm": "add_rmsnorm", "act": "silu_mul", "rope": "rope"}


@dataclass(frozen=True)
class Roofline:
    """Reference peaks of an efficiency: FLOP/s per dtype, bytes/s, and the comm link."""

    peak_flops: Callable[[str], float | None]
    bandwidth: float
    link_bandwidth: float = 0.0
    link_latency_s: float = 0.0

    @classmethod
    def of(cls, accelerator) -> Roofline:
        """The roofline of a `hardware_specs.Accelerator` (as perfmodel's estimate uses it)."""
        from perfmodel.dtypes import supported

        def peak(dtype: str) -> float | None:
            return accelerator.peak_flops(supported(dtype, accelerator.peak_flops))

        return cls(
            peak, accelerator.mem_bandwidth, accelerator.link_bandwidth, accelerator.link_latency_s
        )

    def time(self, table: pd.DataFrame) -> np.ndarray:
        """Roofline time (s) of every row of a profile table."""
        out = np.empty(len(table))
        comm = table["op_class"].to_numpy() == "comm"
        peaks = table["dtype"].map(lambda t: self.peak_flops(t) or np.inf).to_numpy(dtype=float)
        flops, nbytes = table["flops"].to_numpy(float), table["bytes"].to_numpy(float)
        out[~comm] = np.maximum(flops[~comm] / peaks[~comm], nbytes[~comm] / self.bandwidth)
        out[comm] = self._comm_time(table[comm])
        return out

    def _comm_time(self, rows: pd.DataFrame) -> np.ndarray:
        """alpha-beta time of each collective row (perfmodel.parallel formulas)."""
        if rows.empty:
            return np.full(len(rows), np.nan)
        return self.collective_time(
            rows["op"].to_numpy(), rows["world_size"].to_numpy(float), rows["bytes"].to_numpy(float)
        )

    def collective_time(self, op, ranks, nbytes) -> np.ndarray:
        """alpha-beta time of collectives ``op`` (profiled names) of ``nbytes`` among ``ranks``
        (arrays broadcast together; NaN without a link)."""
        nbytes = np.asarray(nbytes, dtype=float)
        if self.link_bandwidth <= 0:
            return np.full(np.broadcast(op, ranks, nbytes).shape, np.nan)
        n = np.maximum(np.asarray(ranks, dtype=float), 2.0)
        m = nbytes / self.link_bandwidth
        a = self.link_latency_s
        op = np.asarray(op)
        ring = np.where(op == "all_reduce", 2.0, 1.0)
        hops = np.where(op == "send_recv", 1.0, ring * (n - 1))
        share = np.where(op == "send_recv", 1.0, ring * (n - 1) / n)
        return share * m + hops * a


def measured_efficiency(table: pd.DataFrame, roofline: Roofline) -> np.ndarray:
    """eff_i = roofline_i / time_i for every row (NaN where no roofline is defined)."""
    return roofline.time(table) / table["time_s"].to_numpy(float)


def build_curves(table: pd.DataFrame, roofline: Roofline) -> dict[tuple[str, str], Curve]:
    """One interpolating curve per (op_class, dtype) present in ``table``, plus one per
    (profiled kernel of ``OP_KERNELS``, dtype) keyed by the kernel's name."""
    data = table.assign(eff=measured_efficiency(table, roofline))
    data = data[np.isfinite(data["eff"]) & (data["eff"] > 0)]
    curves: dict[tuple[str, str], Curve] = {}
    for (op_class, dtype), rows in data.groupby(["op_class", "dtype"]):
        if op_class == "memory":
            for kernel in set(OP_KERNELS.values()) & set(rows["op"]):
                curves[(kernel, dtype)] = make_curve(op_class, rows[rows["op"] == kernel])
            decoder = rows[rows["op"].isin(DECODER_MEMORY_OPS)]
            rows = decoder if len(decoder) else rows
        if op_class == "attn_decode":
            curves.update(decode_curves(rows, dtype))
        if op_class == "attn_prefill":
            curves.update(prefill_curves(rows, dtype))
        if op_class == "comm":
            for (op, ranks), group in rows.groupby(["op", "world_size"]):
                curves[(comm_key(op, ranks), dtype)] = make_curve(op_class, group)
        curves[(op_class, dtype)] = make_curve(op_class, rows)
    return curves


def curve_class(name: str) -> str:
    """The op class whose rows build the curve keyed ``name`` (see build_curves)."""
    if name in OP_KERNELS.values():
        return "memory"
    if "@" in name:
        head = name.split("@")[0]
        return head if head in ("attn_decode", "attn_prefill") else "comm"
    return name


class LazyCurves(Mapping):
    """:func:`build_curves` of a table, one (op_class, dtype) group at a time, on first use: an
    estimate needs a few of a profile's dozens of curves (a 45k-row imported profile builds
    them all in ~0.45 s)."""

    def __init__(self, table: pd.DataFrame, roofline: Roofline) -> None:
        self._table, self._roofline = table, roofline
        self._rows = dict(table.groupby(["op_class", "dtype"]).indices)
        self._curves: dict[tuple[str, str], Curve] = {}
        self._built: set[tuple[str, str]] = set()

    def _build(self, group: tuple[str, str]) -> None:
        if group in self._built or group not in self._rows:
            return
        self._built.add(group)
        rows = self._table.iloc[self._rows[group]]
        self._curves.update(build_curves(rows, self._roofline))

    def of_class(self, op_class: str) -> dict[tuple[str, str], Curve]:
        """Every curve built from ``op_class`` rows (all dtypes), among those built so far."""
        for group in self._rows:
            if group[0] == op_class:
                self._build(group)
        return {k: c for k, c in self._curves.items() if curve_class(k[0]) == op_class}

    def __getitem__(self, key: tuple[str, str]) -> Curve:
        self._build((curve_class(key[0]), key[1]))
        return self._curves[key]

    def __contains__(self, key: object) -> bool:
        if not (isinstance(key, tuple) and len(key) == 2):
            return False
        self._build((curve_class(str(key[0])), str(key[1])))
        return key in self._curves

    def __iter__(self):
        for group in self._rows:
            self._build(group)
        return iter(self._curves)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def decode_curves(rows: pd.DataFrame, dtype: str) -> dict[tuple[str, str], Callable]:
    """Shape-keyed decode-attention curves of one dtype; each takes a perfmodel attention
    shape (`perfmodel.ops.Op.shape`) and the bytes per kernel:

    - per measured head shape (heads, kv_heads, head_dim): linear over (log10 batch, log10 KV
      length), where the suite's grid is rectangular, held at the edge (key ``head_key``);
    - across head shapes (``UNITS_KEY``): over (log10 units, log10 bytes per unit) with
      units = batch × kv_heads, the thread blocks of a kernel without split-KV.

    Both interpolate log10 efficiency: below the GPU's parallelism a decode kernel's time is
    flat in batch (efficiency ∝ batch), which a power law between grid points keeps and a
    linear blend does not (batch 2 between measured 1 and 4 would read 20% fast)."""
    curves: dict[tuple[str, str], Callable] = {}
    eff = rows["eff"].to_numpy(float)
    units = (rows["batch"] * rows["kv_heads"]).to_numpy(float)
    plane = plane_interpolator(units_coords(units, rows["bytes"].to_numpy(float)), eff, log=True)
    if plane is not None:
        curves[(UNITS_KEY, dtype)] = lambda shape, b, p=plane: p(
            units_coords(shape["batch"] * shape["kv_heads"], b)
        )
    across = curves.get((UNITS_KEY, dtype))
    for heads, group in rows.groupby(["heads", "kv_heads", "head_dim"]):
        curves[(head_key(*heads), dtype)] = HeadCurve(
            np.log10(group[["batch", "kv_len"]].to_numpy(float)),
            group["eff"].to_numpy(float),
            across,
        )
    return curves


def prefill_curves(rows: pd.DataFrame, dtype: str) -> dict[tuple[str, str], Curve]:
    """One (intensity, bytes) curve per measured head dimension (key ``prefill_key``), when
    the rows measure more than one; see `prefill_by_head_dim`."""
    dims = rows["head_dim"].unique() if "head_dim" in rows else []
    dims = [d for d in dims if np.isfinite(d) and d > 0]
    if len(dims) < 2:
        return {}
    return {
        (prefill_key(d), dtype): make_curve("attn_prefill", rows[rows["head_dim"] == d])
        for d in dims
    }


def prefill_by_head_dim(curves: dict[float, Curve], head_dim: float, flops, nbytes) -> np.ndarray:
    """Prefill efficiency at ``head_dim`` from the curves measured per head dimension
    ({head_dim: curve}): the measured one; between two, log10 eff linear in log2(head_dim);
    outside, the nearest (held at the edge)."""
    dims = np.array(sorted(curves))
    d = float(np.clip(head_dim, dims[0], dims[-1]))
    hi = int(np.searchsorted(dims, d))
    if dims[hi] == d:
        return curves[dims[hi]](flops, nbytes)
    lo = hi - 1
    w = np.log2(d / dims[lo]) / np.log2(dims[hi] / dims[lo])
    low, high = curves[dims[lo]](flops, nbytes), curves[dims[hi]](flops, nbytes)
    return 10.0 ** ((1.0 - w) * np.log10(low) + w * np.log10(high))


class HeadCurve:
    """Decode efficiency of one head shape over (log10 batch, log10 KV length), triangulated
    on first use (a published table holds ~100 head shapes; a model queries one or two).
    A head shape measured at too few or collinear points uses ``across`` (the curve across
    head shapes), else NaN (the class curve's value is kept)."""

    def __init__(self, coords: np.ndarray, eff: np.ndarray, across=None) -> None:
        self.coords, self.eff, self.across = coords, eff, across
        self._plane = None
        self._built = False

    def __call__(self, shape: dict, nbytes: np.ndarray) -> np.ndarray:
        if not self._built:
            self._plane = plane_interpolator(self.coords, self.eff, log=True)
            self._built = True
        if self._plane is None:
            return self.across(shape, nbytes) if self.across else np.full(len(nbytes), np.nan)
        q = np.log10(np.column_stack([shape["batch"], shape["kv_len"]]).clip(1.0))
        return self._plane(q)


#: perfmodel's collective names → the profiled collective.
COLLECTIVES = {"all_reduce": "all_reduce", "all_gather": "all_gather",
               "all_to_all": "all_to_all", "p2p": "send_recv"}  # fmt: skip


def predicted_times(calibration, roofline: Roofline, rows: pd.DataFrame) -> np.ndarray:
    """Time ``calibration`` gives each row of a profile table: its roofline / the efficiency
    at its flops and bytes, with the shape perfmodel would pass for such an op (decode
    attention: batch, KV length, heads; prefill attention: heads; a collective: its name and
    ranks). Rows are evaluated in groups of one class, dtype, op and head shape, so a table
    costs a few vectorized calls."""
    eff = np.empty(len(rows))
    by_profiled = {profiled: name for name, profiled in COLLECTIVES.items()}
    keys = ["op_class", "dtype", "op", "heads", "kv_heads", "head_dim", "world_size"]
    for (op_class, dtype, op, h, h_kv, d, ranks), idx in rows.groupby(keys).indices.items():
        group = rows.iloc[idx]
        shape = None
        if op == "attn_decode":
            shape = {"batch": group["batch"].to_numpy(float), "heads": h, "kv_heads": h_kv,
                     "kv_len": group["kv_len"].to_numpy(float), "head_dim": d}  # fmt: skip
        elif op == "attn_prefill":
            shape = {"heads": h, "kv_heads": h_kv, "head_dim": d}
        elif op_class == "comm":
            shape = {"collective": by_profiled.get(op, op), "ranks": ranks}
        eff[idx] = calibration.efficiency(
            op_class, dtype, group["flops"].to_numpy(float), group["bytes"].to_numpy(float),
            op=None, shape=shape,
        )  # fmt: skip
    return roofline.time(rows) / eff


def between_ranks(roofline: Roofline, op: str, ranks: int, measured, curves) -> Curve:
    """Efficiency of ``op`` among ``ranks`` from the curves measured at the rank counts
    ``measured`` = (lo, hi) around it: at each message size the time t_r = roof_r / eff_r of
    both, log t linear in log(ranks) between them, as an efficiency against roof_ranks. A
    one-shot kernel's time barely grows with the ranks where the ring model's latency term
    2(n − 1)α does; scaling the nearest table by the ring model made 6 H100s 25-28% fast."""
    (lo, hi), (c_lo, c_hi) = measured, curves
    w = np.log(ranks / lo) / np.log(hi / lo)

    def curve(f: np.ndarray, b: np.ndarray) -> np.ndarray:
        t_lo = roofline.collective_time(op, lo, b) / c_lo(f, b)
        t_hi = roofline.collective_time(op, hi, b) / c_hi(f, b)
        time = np.exp((1.0 - w) * np.log(t_lo) + w * np.log(t_hi))
        return roofline.collective_time(op, ranks, b) / time

    return curve


def comm_key(op: str, ranks: int) -> str:
    """Curve key of one collective measured at one number of ranks."""
    return f"{op}@{int(ranks)}"


def head_key(heads: int, kv_heads: int, head_dim: int) -> str:
    """Curve key of decode attention measured at one head shape."""
    return f"attn_decode@{int(heads)},{int(kv_heads)},{int(head_dim)}"


def prefill_key(head_dim: float) -> str:
    """Curve key of prefill attention measured at one head dimension."""
    return f"{PREFILL_PREFIX}{int(head_dim)}"


def units_coords(units: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """(log10 units, log10 bytes per unit) of each kernel, shape (n, 2)."""
    units = np.maximum(np.asarray(units, dtype=float), 1.0)
    return np.column_stack([np.log10(units), np.log10(np.maximum(nbytes, 1.0) / units)])


def clip(eff: np.ndarray, op_class: str = "") -> np.ndarray:
    """Efficiencies clipped into [EFF_MIN, EFF_MAX] (comm: EFF_MAX_COMM); NaN (none expected)
    becomes 1."""
    top = EFF_MAX_COMM if op_class == "comm" else EFF_MAX
    return np.clip(np.nan_to_num(np.asarray(eff, dtype=float), nan=1.0), EFF_MIN, top)
