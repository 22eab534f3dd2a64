"""Published kernel measurements as a profile: AIConfigurator's per-op tables (NVIDIA,
Apache-2.0; shipped in the ``aiconfigurator-core`` wheel) → a capplan `Profile`.

Layout read (``schema_version: 1`` of its ``collection_meta.yaml``)::

    <systems>/data/<system>/gemm/<framework>/<version>/gemm_perf.parquet
    <systems>/data/<system>/attention/<framework>/<version>/{context,generation}_attention_perf.parquet
    <systems>/data/<system>/comm/<framework>/<version>/custom_allreduce_perf.parquet
    <systems>/data/<system>/comm/nccl/<version>/nccl_perf.parquet

Every table has ``device`` and ``latency`` (milliseconds per call) columns. Conversion:

- gemm (m, n, k, gemm_dtype): bfloat16 / float16 / fp8 (per-tensor scaled) rows; block-scaled
  and 4-bit formats are skipped. Where several kernels were measured for one dtype and shape,
  the fastest (the one an engine would pick). ``thin`` keeps token counts m on the geometric
  grid 2^j and 3·2^j (1, 2, 3, 4, 6, 8, 12, 16, 24, …, steps of 1.5x and 1.33x), which drops the
  collector's m = x + 1 padding probes and dense runs, and m ≤ 16 384, so a profile stays
  under 5 MB.
- context attention → attn_prefill with q_len = kv_len = isl; generation attention →
  attn_decode with q_len = 1 and kv_len = isl + step (the collector decodes the step-th token
  after an isl-token prompt). Only full attention (window_size 0), beam 1, no prefix (context
  step 0), and a KV cache in the attention dtype (fp8 KV is skipped); fastest kernel per shape;
  ``thin`` keeps head sizes 64 and 128 and contexts of 8 tokens or more (below, the launch
  floor: the calibration holds the smallest measured time).
- all-reduce: the engine's custom all-reduce (its CUDA-graph variant where measured) and NCCL's,
  the faster per (ranks, elements), as engines switch between them by message size; NCCL
  all-gather and all-to-all as measured. ``message_size`` is in elements.

Rows with a non-positive or non-finite latency are refused and counted in the notes, as is
everything skipped. The profile's roofline reference is the catalog entry of the device.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hardware_specs.yaml_strict import DuplicateKeyError, load_yaml
from perfmodel.profiling.byo import DTYPE_ALIASES
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.ops import fill_counts
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.provenance import Provenance, catalog_name_for, slugify

SOURCE = "AIConfigurator (github.com/ai-dynamo/aiconfigurator, Apache-2.0)"
DTYPE_NAMES = {**DTYPE_ALIASES, "fp8": "fp8"}  # the tables' dtype names → the profile's
TABLES = {
    "gemm": ("gemm", "gemm_perf"),
    "context": ("attention", "context_attention_perf"),
    "generation": ("attention", "generation_attention_perf"),
    "custom_allreduce": ("comm", "custom_allreduce_perf"),
}
SHAPE = ["batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len"]
#: Attention columns that older tables lack, and the value they then mean.
OPTIONAL = {"kv_cache_dtype": None, "step": 0, "window_size": 0, "beam_width": 1}
#: Head sizes kept by ``thin`` (the dense GQA models; 192/256/512 are MLA- and Gemma-like).
THIN_HEAD_DIMS = (64, 128)
#: Largest GEMM token count kept by ``thin`` (an engine's prefill token budget is ≤ 16 k).
THIN_MAX_M = 16384


def systems_dir(path: str | Path | None = None) -> Path:
    """AIConfigurator's ``systems`` folder: ``path`` (that folder, or one holding it), else
    the one of the installed ``aiconfigurator-core`` package."""
    if path is None:
        spec = importlib.util.find_spec("aiconfigurator_core")
        if spec is None or not spec.submodule_search_locations:
            raise ProfileError(
                "no AIConfigurator tables given: pass the 'systems' folder of an AIConfigurator "
                "checkout, or pip install aiconfigurator-core"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "systems"
    path = Path(path)
    for candidate in (path, path / "systems", path / "src" / "aiconfigurator" / "systems"):
        if (candidate / "data").is_dir():
            return candidate
    raise ProfileError(
        f"{path}: not an AIConfigurator systems folder (expected data/<system>/<op family>/"
        "<framework>/<version>/*.parquet below it)"
    )


def import_aiconfigurator(
    system: str,
    framework: str = "vllm",
    path: str | Path | None = None,
    version: str | None = None,
    nccl_version: str | None = None,
    thin: bool = True,
) -> Profile:
    """The profile of ``system`` (e.g. ``h200_sxm``) under ``framework`` (vllm, sglang,
    trtllm) at ``version`` (default: the newest of each op family), NCCL at ``nccl_version``
    (default newest). See the module docstring for what is converted."""
    root = systems_dir(path)
    data = root / "data" / system
    if not data.is_dir():
        raise _unknown("system", system, _dirs(root / "data"))
    frameworks = {f for family, _ in TABLES.values() for f in _dirs(data / family)} - {"nccl"}
    if framework not in frameworks:
        raise _unknown(f"framework for {system}", framework, sorted(frameworks))
    notes: list[str] = []
    used: dict[str, str] = {}
    tables = {}
    offered = sorted({v for family, _ in TABLES.values() for v in _dirs(data / family / framework)})
    if version is not None and version not in offered:
        raise _unknown(f"{framework} version", version, offered)
    for name, (family, table) in TABLES.items():
        folder = _version_dir(
            data / family / framework, version, f"{family}/{framework}", notes, table
        )
        if folder is None:
            notes.append(f"no {family}/{framework} tables for {system}: {name} not imported")
            continue
        tables[name] = _read(folder / f"{table}.parquet", notes)
        used[family] = folder.name
    nccl = _version_dir(data / "comm" / "nccl", nccl_version, "comm/nccl", notes, "nccl_perf")
    tables["nccl"] = _read(nccl / "nccl_perf.parquet", notes) if nccl else None
    if nccl:
        used["nccl"] = nccl.name
    frames = [
        _gemm(tables.get("gemm"), thin, notes),
        _attention(tables.get("context"), "attn_prefill", thin, notes),
        _attention(tables.get("generation"), "attn_decode", thin, notes),
        _collectives(tables.get("custom_allreduce"), tables.get("nccl"), notes),
    ]
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise ProfileError(f"{data}: no importable rows ({'; '.join(notes) or 'empty tables'})")
    table = pd.concat(frames, ignore_index=True)
    device = _one_device([t for t in tables.values() if t is not None], data)
    prov = _provenance(device, system, framework, used, root, notes)
    table = fill_counts(table.assign(device=device, repeats=1))
    return Profile(table, prov, source=str(data)).check_usable(str(data))


def _read(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        notes.append(f"{path.parent.name}/{path.name} missing")
        return None
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise ProfileError(
            'reading AIConfigurator tables needs pyarrow: pip install "capplan[import]"'
        ) from None
    missing = {"device", "latency"} - set(frame.columns)
    if missing:
        raise ProfileError(f"{path}: unknown layout, no {sorted(missing)} column(s)")
    ok = np.isfinite(frame["latency"]) & (frame["latency"] > 0)
    if not ok.all():
        bad = frame.index[~ok][0]
        notes.append(f"{path.name}: {int((~ok).sum())} row(s) with a latency that is not a "
                     f"positive number refused (first: row {bad})")  # fmt: skip
    return frame[ok].assign(time_s=frame["latency"][ok] / 1e3)


def _gemm(frame: pd.DataFrame | None, thin: bool, notes: list[str]) -> pd.DataFrame | None:
    if frame is None:
        return None
    _need(frame, ["m", "n", "k", "gemm_dtype"], "gemm_perf")
    dtype = frame["gemm_dtype"].map(DTYPE_NAMES)
    if dtype.isna().any():
        kinds = sorted(frame.loc[dtype.isna(), "gemm_dtype"].unique())
        notes.append(f"gemm: {int(dtype.isna().sum())} rows of {kinds} skipped (no such dtype)")
    rows = frame.assign(dtype=dtype, op="gemm").dropna(subset=["dtype"])
    if thin:
        off_grid = ~rows["m"].map(_geometric) | (rows["m"] > THIN_MAX_M)
        notes.append(
            f"gemm: {int(off_grid.sum())} rows with m off the 2^j, 3·2^j grid or over "
            f"{THIN_MAX_M} dropped (held at the edge: large GEMMs run at a flat rate)"
        )
        rows = rows[~off_grid]
    return _fastest(rows, ["op", "dtype", "m", "n", "k"])


def _attention(
    frame: pd.DataFrame | None, op: str, thin: bool, notes: list[str]
) -> pd.DataFrame | None:
    if frame is None:
        return None
    cols = ["batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim", "attn_dtype"]
    _need(frame, cols, f"{op} table")
    frame = frame.assign(**{k: frame.get(k, v) for k, v in OPTIONAL.items()})
    dtype = frame["attn_dtype"].map(DTYPE_NAMES)
    kv_dtype = frame["kv_cache_dtype"].fillna(frame["attn_dtype"])
    keep = (
        dtype.notna()
        & (kv_dtype == frame["attn_dtype"])
        & (frame["window_size"] == 0)
        & (frame["beam_width"] == 1)
    )
    if op == "attn_prefill":
        keep &= (frame["step"] == 0) & (frame["isl"] > 1)
    if thin:
        keep &= frame["head_dim"].isin(THIN_HEAD_DIMS) & (frame["isl"] + frame["step"] >= 8)
    thinned = f", head_dim not in {THIN_HEAD_DIMS}, under 8 tokens" if thin else ""
    notes.append(f"{op}: {int((~keep).sum())} of {len(frame)} rows skipped (fp8 KV cache, "
                 f"sliding window, beam > 1, prefix, 1-token prompts{thinned})")  # fmt: skip
    rows = frame[keep]
    kv_len = rows["isl"] if op == "attn_prefill" else rows["isl"] + rows["step"]
    out = pd.DataFrame({
        "op": op, "dtype": dtype[keep], "batch": rows["batch_size"], "heads": rows["num_heads"],
        "kv_heads": rows["num_key_value_heads"], "head_dim": rows["head_dim"],
        "q_len": rows["isl"] if op == "attn_prefill" else 1, "kv_len": kv_len,
        "time_s": rows["time_s"],
    })  # fmt: skip
    return _fastest(out, ["op", "dtype", *SHAPE])


def _collectives(custom, nccl, notes: list[str]) -> pd.DataFrame | None:
    parts = []
    if custom is not None:
        _need(custom, ["num_gpus", "message_size", "allreduce_dtype"], "custom_allreduce_perf")
        graph = custom["kernel_source"].str.contains("graph", case=False, na=False)
        rows = custom[graph] if graph.any() else custom
        parts.append(rows.assign(op="all_reduce", dtype=rows["allreduce_dtype"].map(DTYPE_NAMES)))
    if nccl is not None:
        _need(nccl, ["num_gpus", "message_size", "nccl_dtype", "op_name"], "nccl_perf")
        ops = {"all_reduce": "all_reduce", "all_gather": "all_gather", "alltoall": "all_to_all"}
        rows = nccl.assign(op=nccl["op_name"].map(ops), dtype=nccl["nccl_dtype"].map(DTYPE_NAMES))
        skipped = rows["op"].isna() | rows["dtype"].isna()
        notes.append(f"nccl: {int(skipped.sum())} rows of other ops or dtypes skipped")
        parts.append(rows[~skipped])
    if not parts:
        return None
    rows = pd.concat(parts, ignore_index=True).dropna(subset=["dtype"])
    rows = rows.assign(numel=rows["message_size"], world_size=rows["num_gpus"])
    return _fastest(rows, ["op", "dtype", "numel", "world_size"])


def _geometric(m: int) -> bool:
    """m = 2^j or 3·2^j."""
    m = int(m)
    odd = m >> ((m & -m).bit_length() - 1) if m > 0 else 0
    return odd in (1, 3)


def _fastest(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per shape: the smallest time over the kernels measured for it."""
    return rows.groupby(keys, as_index=False)["time_s"].min()


def _need(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ProfileError(f"{what}: unknown layout, missing column(s) {missing}")


def _version_dir(
    base: Path, version: str | None, what: str, notes: list[str], table: str
) -> Path | None:
    """``base/version``, or the newest version folder under ``base`` holding ``table``
    (folders that only point elsewhere with a reuse.yaml are passed over; None if none); a
    family without the requested version uses its newest, and says so in ``notes``."""
    versions = [v for v in _dirs(base) if (base / v / f"{table}.parquet").is_file()]
    if version is not None and version in versions:
        return base / version
    newest = max(versions, key=_version_key) if versions else None
    if version is not None and newest is not None:
        notes.append(f"{what} has no version {version}: its newest, {newest}, used")
    return base / newest if newest else None


def _version_key(name: str) -> tuple:
    """'0.5.6.post2' < '0.5.10' < '1.3.0rc20' < '1.3.0': numbers compare as numbers."""
    parts = re.findall(r"\d+|[a-z]+", name.lower())
    rank = {"rc": -2, "post": 1}
    return tuple((rank.get(p, 0), 0) if not p.isdigit() else (0, int(p)) for p in parts)


def _dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _unknown(kind: str, name: str, choices: list[str]) -> ProfileError:
    from perfmodel.errors import closest

    near = ", ".join(closest(name, choices)) or "none"
    return ProfileError(f"unknown AIConfigurator {kind} {name!r}; closest: {near}")


def _one_device(tables: list[pd.DataFrame], data: Path) -> str:
    devices = sorted({str(d) for t in tables for d in t["device"].unique()})
    if len(devices) != 1:
        raise ProfileError(f"{data}: expected one device string in the tables, got {devices}")
    return devices[0]


def _provenance(device, system, framework, used, root: Path, notes) -> Provenance:
    accelerator = catalog_name_for(device)
    if accelerator == slugify(device):
        raise ProfileError(
            f"device {device!r} of {system} maps to no hardware_specs entry: add it to the "
            "catalog (hardware_specs/data) or register it first"
        )
    versions = ", ".join(f"{family} {framework if family != 'nccl' else 'nccl'} {v}"
                         for family, v in used.items())  # fmt: skip
    meta = _meta(root / "data" / system, used, framework)
    return Provenance(
        device=device,
        accelerator=accelerator,
        device_type="cuda",
        date=meta or "not recorded (AIConfigurator collection_meta: provenance legacy)",
        timing_method="published per-kernel latency (AIConfigurator collector, ms per call)",
        source=f"{SOURCE}{_package_version(root)}: system {system}; {versions}",
        notes=notes,
    )


def _meta(data: Path, used: dict[str, str], framework: str) -> str:
    """A collection date from the gemm table's collection_meta.yaml, if it records one."""
    path = data / "gemm" / framework / used.get("gemm", "") / "collection_meta.yaml"
    try:
        meta = load_yaml(path.read_text(encoding="utf-8")) or {}
    except DuplicateKeyError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    if not isinstance(meta, dict):
        return ""
    for key in ("collected_at", "date", "collection_date"):
        if meta.get(key):
            return str(meta[key])
    return ""


def _package_version(root: Path) -> str:
    """', aiconfigurator-core X' from the wheel's dist-info beside ``root``'s package, else
    from the installed package, else ''."""
    from importlib.metadata import PackageNotFoundError, version

    for info in root.parent.parent.glob("aiconfigurator_core-*.dist-info"):
        return f", aiconfigurator-core {info.name.split('-')[1].removesuffix('.dist')}"
    try:
        return f", aiconfigurator-core {version('aiconfigurator-core')}"
    except PackageNotFoundError:
        return ""
