"""Fuzz of the profile readers: a measurements CSV (`capplan import-profile`, import_csv), a
stored profile folder (profile.csv + provenance.yaml, Profile.load) and AIConfigurator's
parquet tables. A profile that imports or loads is usable at once (its roofline reference is
derived and its efficiencies are finite and positive); anything else is one ProfileError
naming the file. Never another exception, and never a profile that fails only later."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fuzz_support import FUZZ, GOOD_INTS, PROPERTY, cell, outcome
from hypothesis import given
from hypothesis import strategies as st

from perfmodel.profiling import Profile, ProfileError, import_csv, load_profile

COLUMNS = ["op", "dtype", "device", "m", "n", "k", "batch", "heads", "kv_heads", "head_dim",
           "q_len", "kv_len", "numel", "world_size", "time_s"]  # fmt: skip
TIMES = st.floats(1e-7, 1.0).map(lambda x: f"{x:.4g}")


@st.composite
def measurement_csvs(draw):
    """Rows of gemm / copy / attn_decode / all_reduce measurements, cells good or corrupted;
    one device per file (sometimes a catalog GPU, sometimes an unknown machine)."""
    device = draw(st.sampled_from(["NVIDIA H100 80GB HBM3", "My CPU", "ü GPU", ""]))
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["gemm", "gemm", "copy", "attn_decode", "all_reduce", "conv"]))
        row = dict.fromkeys(COLUMNS, "")
        row |= {"op": op, "device": device, "time_s": draw(cell(TIMES))}
        row["dtype"] = draw(st.sampled_from(["bf16", "bfloat16", "fp32", "fp8", "int3", "BF16"]))
        shape = {
            "gemm": ("m", "n", "k"),
            "copy": ("numel",),
            "attn_decode": ("batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len"),
            "all_reduce": ("numel", "world_size"),
            "conv": (),
        }[op]
        for col in shape:
            row[col] = draw(cell(GOOD_INTS))
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _usable(prof: Profile) -> None:
    """What a later command does with a profile: derive its reference, calibrate a GEMM."""
    assert prof.reference.name
    for dtype in ("bf16", "fp32"):
        eff = prof.efficiency("gemm", dtype, np.array([1e9, 1e12]), np.array([1e6, 1e8]))
        assert np.all(np.isfinite(eff)) and np.all(eff > 0), eff
    assert np.isfinite(prof.table["time_s"]).all() and (prof.table["time_s"] > 0).all()
    assert np.isfinite(prof.table["flops"]).all() and np.isfinite(prof.table["bytes"]).all()


@PROPERTY
@given(measurement_csvs())
def test_imported_measurements_are_usable_at_once_or_one_profile_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mine.csv"
        path.write_text(text, encoding="utf-8")
        prof, err = outcome(import_csv, path)
        if err is not None:
            assert isinstance(err, ProfileError) and str(path) in str(err)
            return
        _usable(prof)
        # stored and read back (what `capplan import-profile` then `--profile DIR` do)
        again, err = outcome(load_profile, prof.save(Path(tmp) / "out"))
        assert err is None, err
        _usable(again)


@FUZZ
@given(st.one_of(st.text(max_size=60), st.binary(max_size=30)))
def test_any_bytes_as_measurements_are_a_profile_or_a_profile_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mine.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        prof, err = outcome(import_csv, path)
    if err is None:
        _usable(prof)


SHIPPED = load_profile("cpu-amd-epyc-1t")


def _stored(tmp: str, provenance: str, table: pd.DataFrame | None = None) -> Path:
    folder = Path(tmp) / "prof"
    folder.mkdir()
    (table if table is not None else SHIPPED.table).to_csv(folder / "profile.csv", index=False)
    (folder / "provenance.yaml").write_text(provenance, encoding="utf-8")
    return folder


PROV = yaml.safe_dump(SHIPPED.provenance.model_dump(mode="json"), sort_keys=False)


@FUZZ
@given(st.sampled_from(sorted(SHIPPED.provenance.model_dump(mode="json"))), st.text(max_size=8))
def test_provenance_with_a_repeated_key_is_refused_naming_file_and_key(key, value):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _stored(tmp, PROV + yaml.safe_dump({key: value}))
        _, err = outcome(Profile.load, folder)
    assert isinstance(err, ProfileError)
    assert "provenance.yaml" in str(err) and f"duplicate key {key!r}" in str(err)


@FUZZ
@given(st.one_of(st.text(max_size=80), st.binary(max_size=30)))
def test_any_provenance_text_loads_or_gives_a_profile_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _stored(tmp, "")
        raw = content if isinstance(content, bytes) else content.encode()
        (folder / "provenance.yaml").write_bytes(raw)
        prof, err = outcome(Profile.load, folder)
    assert err is not None or prof.provenance.device


@st.composite
def corrupted_tables(draw):
    """The shipped CPU table (5 rows of each op) with a few cells replaced."""
    table = SHIPPED.table.groupby("op").head(5).reset_index(drop=True).astype(object)
    for _ in range(draw(st.integers(1, 3))):
        row = draw(st.integers(0, len(table) - 1))
        col = draw(st.sampled_from(["m", "numel", "flops", "bytes", "time_s", "repeats", "op"]))
        table.loc[row, col] = draw(
            st.sampled_from(["", "nan", "inf", "-1", "0", "1.5", "abc", "1e400", "🙂"])
        )
    return table


@FUZZ
@given(corrupted_tables())
def test_corrupted_profile_table_loads_usable_or_gives_a_profile_error(table):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _stored(tmp, PROV, table)
        prof, err = outcome(Profile.load, folder)
        if err is not None:
            assert "profile.csv" in str(err)
            return
        _usable(prof)


def test_empty_profile_table_is_a_profile_error():
    with tempfile.TemporaryDirectory() as tmp:
        folder = _stored(tmp, PROV)
        (folder / "profile.csv").write_text("")
        with pytest.raises(ProfileError, match=r"profile\.csv"):
            Profile.load(folder)


# ---- AIConfigurator tables ---------------------------------------------------------------------
pytest.importorskip("pyarrow")
from perfmodel.profiling.aiconfigurator import import_aiconfigurator  # noqa: E402

LATENCIES = st.one_of(
    st.floats(1e-4, 10.0), st.sampled_from([0.0, -1.0, math.nan, math.inf, 1e300, 1e-300])
)


@st.composite
def gemm_tables(draw):
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        rows.append(
            {
                "m": draw(st.sampled_from([1, 16, 17, 48, 4096, -8, 0])),
                "n": 4096,
                "k": draw(st.sampled_from([4096, 1, 0])),
                "gemm_dtype": draw(st.sampled_from(["bfloat16", "fp8", "fp8_block", "int4"])),
                "latency": draw(LATENCIES),
                "kernel_source": "torch",
            }
        )
    return pd.DataFrame(rows)


@PROPERTY
@given(gemm_tables(), st.text(max_size=20))
def test_aiconfigurator_gemm_table_imports_usable_or_gives_a_profile_error(gemm, meta_extra):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "systems" / "data" / "h200_sxm" / "gemm" / "vllm" / "0.10.0"
        folder.mkdir(parents=True)
        gemm.assign(device="NVIDIA H200").to_parquet(folder / "gemm_perf.parquet")
        meta = "schema_version: 1\nprovenance: legacy\n" + meta_extra
        (folder / "collection_meta.yaml").write_text(meta, encoding="utf-8")
        prof, err = outcome(import_aiconfigurator, "h200_sxm", path=Path(tmp) / "systems")
    if err is None:
        _usable(prof)
    else:
        assert isinstance(err, ProfileError)


def test_aiconfigurator_collection_meta_with_a_repeated_key_is_refused():
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "systems" / "data" / "h200_sxm" / "gemm" / "vllm" / "0.10.0"
        folder.mkdir(parents=True)
        gemm = pd.DataFrame([{"m": 16, "n": 4096, "k": 4096, "gemm_dtype": "bfloat16",
                              "latency": 0.02, "device": "NVIDIA H200"}])  # fmt: skip
        gemm.to_parquet(folder / "gemm_perf.parquet")
        meta = "schema_version: 1\ndate: 2025-01-01\ndate: 2025-06-01\n"
        (folder / "collection_meta.yaml").write_text(meta)
        with pytest.raises(ProfileError, match=r"collection_meta\.yaml.*duplicate key 'date'"):
            import_aiconfigurator("h200_sxm", path=Path(tmp) / "systems")
