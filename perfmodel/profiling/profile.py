"""A measured profile: a tidy table (``profile.csv``) plus provenance (``provenance.yaml``).

It implements perfmodel's calibration protocol (``name``, ``device``, ``efficiency``), so
``perfmodel.estimate_step(..., calibration=profile)`` uses measured efficiencies, and derives
the measured machine's `hardware_specs.Accelerator` (``to_accelerator``, ``register``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hardware_specs.yaml_strict import DuplicateKeyError, load_yaml
from perfmodel.profiling import calibrate
from perfmodel.profiling._torch import TORCH_DTYPES
from perfmodel.profiling.accelerator import catalog_entry, derive_accelerator
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.ops import OP_CLASSES, OPS, SHAPE_COLUMNS
from perfmodel.profiling.provenance import Provenance

PROFILE_CSV = "profile.csv"
PROVENANCE_YAML = "provenance.yaml"
MAX_SHIPPED_BYTES = 5 * 2**20
TABLE_COLUMNS: tuple[str, ...] = (
    "op", "op_class", "dtype", "device", *SHAPE_COLUMNS, "flops", "bytes", "time_s", "repeats",
)  # fmt: skip
DTYPE_FALLBACK = {"fp8": "bf16", "bf16": "fp16", "fp16": "fp32", "tf32": "fp32"}
#: On a GPU fp16 and bf16 run at one tensor-core rate: a GPU profile measured in one of them
#: (published tables are bf16) serves the other before falling back to fp32.
GPU_SIBLING = {"fp16": "bf16", "bf16": "fp16"}


def serving_dtype(measured: Callable[[str], bool], dtype: str, gpu: bool = True) -> str:
    """The dtype whose curve serves ``dtype``, given which dtypes were ``measured``: itself,
    else its GPU sibling (fp16 ↔ bf16, one tensor-core rate; ``gpu`` only), else along
    DTYPE_FALLBACK (fp8 → bf16 → fp16 → fp32); the last tried when none was measured."""
    sibling = GPU_SIBLING.get(dtype) if gpu else None
    if not measured(dtype) and sibling is not None and measured(sibling):
        return sibling
    key = dtype
    while not measured(key) and key in DTYPE_FALLBACK:
        key = DTYPE_FALLBACK[key]
    return key


DTYPES = tuple(TORCH_DTYPES)  # fp32, bf16, fp16, fp8


class ProfileRow(BaseModel):
    """One measured kernel: op, shape, dtype, device and its median time."""

    model_config = ConfigDict(extra="forbid")

    op: Literal[tuple(OPS)]  # type: ignore[valid-type]
    op_class: Literal[OP_CLASSES]  # type: ignore[valid-type]
    dtype: Literal[DTYPES]  # type: ignore[valid-type]
    device: str = Field(min_length=1)
    m: int = Field(ge=0)
    n: int = Field(ge=0)
    k: int = Field(ge=0)
    batch: int = Field(ge=0)
    heads: int = Field(ge=0)
    kv_heads: int = Field(ge=0)
    head_dim: int = Field(ge=0)
    q_len: int = Field(ge=0)
    kv_len: int = Field(ge=0)
    numel: int = Field(ge=0)
    world_size: int = Field(ge=0)
    flops: float = Field(ge=0, allow_inf_nan=False)
    bytes: float = Field(gt=0, allow_inf_nan=False)
    time_s: float = Field(gt=0, allow_inf_nan=False)
    repeats: int = Field(ge=1)


_ROWS = TypeAdapter(list[ProfileRow])


class Profile:
    """Measured kernel times of one device with provenance; a perfmodel Calibration."""

    kernel_overhead_s: ClassVar[
        dict[str, float]
    ] = {}  # launch overhead is inside the measured times

    def __init__(
        self,
        table: pd.DataFrame,
        provenance: Provenance,
        source: str = "profile",
        reference: Any = None,
    ) -> None:
        """Validate ``table`` against ``provenance``; ``reference`` (an Accelerator) fixes the
        roofline the efficiencies are relative to (default: see `reference`)."""
        self.provenance = provenance
        self.table = validate_table(table, provenance, source)
        self._reference = reference

    # ---- calibration protocol ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"profile:{self.provenance.accelerator}"

    @property
    def description(self) -> str:
        """Which data: 'measured profile of DEVICE (suite, torch, date)' for the suite's own
        measurements, else 'imported profile of DEVICE (its source)'."""
        prov = self.provenance
        if prov.source == "capplan profile":
            torch = f", torch {prov.torch_version}" if prov.torch_version else ""
            return (f"measured profile of {prov.device} (capplan profile {prov.suite_version}"
                    f"{torch}, {prov.date[:10]})")  # fmt: skip
        return f"imported profile of {prov.device} ({prov.source})"

    @property
    def device(self) -> str:
        """Name of the accelerator whose roofline the efficiencies are relative to."""
        return self.reference.name

    def efficiency(self, op_class: str, dtype: str, flops, nbytes, op=None, shape=None):
        """Measured efficiency interpolated at per-instance (flops, nbytes); see `calibrate`.
        ``op`` (perfmodel's operator name) selects the op's own kernel curve where measured;
        decode attention with a ``shape`` (`perfmodel.ops.Op.shape`) uses the shape curves."""
        flops = np.asarray(flops, dtype=float)
        nbytes = np.broadcast_to(np.asarray(nbytes, dtype=float), flops.shape)
        kernel = calibrate.OP_KERNELS.get(op or "")
        curve = (kernel and self._curve(kernel, dtype)) or self._comm_curve(dtype, shape)
        curve = curve or self._curve(op_class, dtype)
        if curve is None:
            from perfmodel import DEFAULT

            return DEFAULT.efficiency(op_class, dtype, flops, nbytes)
        eff = curve(flops.ravel(), nbytes.ravel())
        if op_class == "attn_decode" and shape is not None:
            eff = self._decode_by_shape(dtype, shape, nbytes.ravel(), eff)
        head_dim = float((shape or {}).get("head_dim") or 0.0)
        if op_class == "attn_prefill" and np.isfinite(head_dim) and head_dim > 0:
            eff = self._prefill_by_head_dim(dtype, head_dim, flops.ravel(), nbytes.ravel(), eff)
        return calibrate.clip(eff.reshape(flops.shape), op_class)

    def _comm_curve(self, dtype: str, shape: dict | None):
        """The curve of the same collective at the measured number of ranks: that number, else
        between the two measured around it the time log-linear in log(ranks) at each message
        size (`calibrate.between_ranks`), else the nearest (by ratio); None if unmeasured."""
        op = calibrate.COLLECTIVES.get((shape or {}).get("collective", ""))
        if op is None:
            return None
        comm = self.curves.of_class("comm")
        measured = {int(k.split("@")[1]) for k, _ in comm if k.startswith(f"{op}@")}
        if not measured:
            return None
        ranks = max(int(shape["ranks"]), 1)
        lower = [n for n in measured if n < ranks]
        upper = [n for n in measured if n > ranks]
        if ranks not in measured and lower and upper:
            lo, hi = max(lower), min(upper)
            curves = (
                self._curve(calibrate.comm_key(op, lo), dtype),
                self._curve(calibrate.comm_key(op, hi), dtype),
            )
            if all(c is not None for c in curves):
                roofline = calibrate.Roofline.of(self.reference)
                return calibrate.between_ranks(roofline, op, ranks, (lo, hi), curves)
        nearest = min(measured, key=lambda n: (abs(np.log(n / ranks)), n))
        return self._curve(calibrate.comm_key(op, nearest), dtype)

    def _decode_by_shape(self, dtype: str, shape: dict, nbytes, eff) -> np.ndarray:
        """Decode efficiency at points with a batch from the curve of the same head shape,
        else the curve across head shapes; ``eff`` where neither exists."""
        key = calibrate.head_key(shape["heads"], shape["kv_heads"], shape["head_dim"])
        curve = self._curve(key, dtype) or self._curve(calibrate.UNITS_KEY, dtype)
        batch = np.broadcast_to(np.asarray(shape["batch"], dtype=float), nbytes.shape)
        keyed = batch > 0
        if curve is None or not keyed.any():
            return eff
        points = {
            **shape,
            "batch": batch[keyed],
            "kv_len": np.broadcast_to(shape["kv_len"], nbytes.shape)[keyed],
        }
        eff = eff.copy()
        keyed_eff = curve(points, nbytes[keyed])
        eff[keyed] = np.where(np.isfinite(keyed_eff), keyed_eff, eff[keyed])
        return eff

    def _prefill_by_head_dim(self, dtype: str, head_dim, flops, nbytes, eff) -> np.ndarray:
        """Prefill efficiency from the curves measured per head dimension, at the dtype whose
        class curve serves ``dtype``; ``eff`` (the class curve's) where none was measured."""
        key = self._dtype_key("attn_prefill", dtype)
        prefix = calibrate.PREFILL_PREFIX
        by_dim = {
            float(name[len(prefix) :]): curve
            for (name, t), curve in self.curves.of_class("attn_prefill").items()
            if t == key and name.startswith(prefix)
        }
        if not by_dim:
            return eff
        return calibrate.prefill_by_head_dim(by_dim, float(head_dim), flops, nbytes)

    def _curve(self, op_class: str, dtype: str):
        """The curve of ``dtype``, else of its GPU sibling (fp16/bf16, GPU profiles), else
        along DTYPE_FALLBACK."""
        return self.curves.get((op_class, self._dtype_key(op_class, dtype)))

    def _dtype_key(self, op_class: str, dtype: str) -> str:
        """The dtype whose ``op_class`` curve serves ``dtype`` (see `_curve`)."""
        gpu = self.provenance.device_type == "cuda"
        return serving_dtype(lambda t: (op_class, t) in self.curves, dtype, gpu)

    @cached_property
    def curves(self) -> calibrate.LazyCurves:
        """Efficiency curves by (op class or kernel or shape key, dtype), built on first use."""
        return calibrate.LazyCurves(self.table, calibrate.Roofline.of(self.reference))

    # ---- accelerators -------------------------------------------------------------------------
    @property
    def reference(self):
        """Roofline reference: the catalog entry of a profiled GPU, else the derived machine."""
        if self._reference is None:
            self._reference = catalog_entry(self.provenance) or self.to_accelerator()
        return self._reference

    def check_usable(self, source: str) -> Profile:
        """Derive now what a later command needs (the roofline reference, the efficiency
        curves), so a profile that cannot calibrate anything is refused when it is imported,
        naming ``source``, not when it is first used. Returns ``self``."""
        try:
            _ = self.reference
            _ = len(self.curves)  # build every curve now
        except ProfileError as exc:
            raise ProfileError(
                f"{source}: the profile cannot be used: {exc} (a machine outside the "
                "hardware_specs catalog needs gemm and copy/triad rows; a catalog GPU needs "
                "device_type cuda and its catalog name as accelerator)"
            ) from None
        return self

    def calibration_for(self, accelerator) -> Profile:
        """This profile with efficiencies relative to ``accelerator``'s peaks (e.g. a datasheet
        entry of the same device), so estimate_step(hardware=accelerator) reproduces the
        measured times."""
        return Profile(self.table, self.provenance, reference=accelerator)

    def to_accelerator(self):
        """The measured machine as a `hardware_specs.Accelerator` (see `accelerator`)."""
        return derive_accelerator(self.table, self.provenance)

    def register(self):
        """Register the derived Accelerator with hardware_specs and return it."""
        import hardware_specs

        acc = self.to_accelerator()
        hardware_specs.register(acc)
        return acc

    # ---- views ----------------------------------------------------------------------------------
    def measured_efficiency(self) -> pd.DataFrame:
        """The table with ``roofline_s`` and ``efficiency`` columns against the reference."""
        roof = calibrate.Roofline.of(self.reference).time(self.table)
        return self.table.assign(roofline_s=roof, efficiency=roof / self.table["time_s"])

    def summary(self) -> dict[str, Any]:
        """Counts per class, achieved peaks and bandwidth (JSON-safe)."""
        acc = self.to_accelerator()
        return {
            "device": self.provenance.device,
            "accelerator": acc.name,
            "rows": len(self.table),
            "rows_per_class": self.table["op_class"].value_counts().to_dict(),
            "peak_tflops": dict(acc.peak_tflops),
            "mem_bandwidth_gb_s": acc.hbm_gb_s,
            "notes": list(self.provenance.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        return {"provenance": self.provenance.model_dump(mode="json"), "summary": self.summary()}

    # ---- files ----------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``profile.csv`` and ``provenance.yaml`` into ``directory`` (created)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # counts are whole numbers: written exactly; times to 6 significant digits
        counts = {c: self.table[c].round().astype("int64") for c in ("flops", "bytes")}
        table = self.table.assign(**counts)
        table.to_csv(directory / PROFILE_CSV, index=False, float_format="%.6g")
        text = yaml.safe_dump(self.provenance.model_dump(mode="json"), sort_keys=False)
        (directory / PROVENANCE_YAML).write_text(text)
        return directory

    @classmethod
    def load(cls, directory: str | Path, expected_device: str | None = None) -> Profile:
        """Read and validate a profile directory; ``expected_device`` (a device string or
        accelerator name) rejects a profile of another machine."""
        directory = Path(directory)
        prov = load_provenance(directory / PROVENANCE_YAML)
        if expected_device and expected_device not in (prov.device, prov.accelerator):
            raise ProfileError(
                f"{directory / PROVENANCE_YAML}: field 'device' is {prov.device!r} "
                f"({prov.accelerator}), expected {expected_device!r}"
            )
        path = directory / PROFILE_CSV
        try:
            table = pd.read_csv(path)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise ProfileError(f"{path}: cannot read profile table: {e}") from None
        return cls(table, prov, source=str(path))


def load_provenance(path: Path) -> Provenance:
    """Validated provenance YAML; errors name the file and the field."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read provenance: {exc}") from None
    try:
        return Provenance.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_format(path, exc)) from None


def validate_table(table: pd.DataFrame, prov: Provenance, source: str) -> pd.DataFrame:
    """Check columns, row values and that every row belongs to ``prov.device``."""
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ProfileError(
            f"{source}: missing column(s) {missing}; a profile table has {list(TABLE_COLUMNS)}"
        )
    table = table.loc[:, list(TABLE_COLUMNS)].reset_index(drop=True)
    if not _plainly_valid(table):  # row-by-row pydantic only to name the first bad row
        try:
            _ROWS.validate_python(table.to_dict(orient="records"))
        except ValidationError as exc:
            raise ProfileError(_format(source, exc, row_offset=True)) from None
    foreign = table.loc[table["device"] != prov.device, "device"]
    if len(foreign):
        raise ProfileError(
            f"{source}: field 'device' of row {int(foreign.index[0])} is {foreign.iloc[0]!r}, "
            f"but the profile's provenance device is {prov.device!r}"
        )
    return table


INT_COLUMNS = (*SHAPE_COLUMNS, "repeats")


def _plainly_valid(table: pd.DataFrame) -> bool:
    """The `ProfileRow` rules checked column-wise (a 45 k-row published table in ~10 ms,
    where validating each row takes ~1.5 s); False sends the table to pydantic for the
    error message."""
    ints = table[list(INT_COLUMNS)]
    if not all(pd.api.types.is_integer_dtype(t) for t in ints.dtypes) or (ints < 0).any().any():
        return False
    floats = table[["flops", "bytes", "time_s"]]
    if not all(pd.api.types.is_numeric_dtype(t) for t in floats.dtypes):
        return False
    values = floats.to_numpy(float)
    finite = np.isfinite(values).all()
    ranges = (values[:, 0] >= 0).all() and (values[:, 1] > 0).all() and (values[:, 2] > 0).all()
    labels = (
        table["op"].isin(list(OPS)).all()
        and table["op_class"].isin(list(OP_CLASSES)).all()
        and table["dtype"].isin(DTYPES).all()
        and (table["device"].astype(str).str.len() > 0).all()
        and (table["repeats"] >= 1).all()
    )
    return bool(finite and ranges and labels)


def _format(source: Any, exc: ValidationError, row_offset: bool = False) -> str:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    where = (
        f"row {loc[0]}, field '{'.'.join(loc[1:])}'" if row_offset else f"field '{'.'.join(loc)}'"
    )
    got = f" (got {first.get('input')!r})" if first["type"] != "missing" else ""
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {where}: {first['msg']}{got}{more}"
