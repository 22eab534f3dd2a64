"""The bundled catalog: every file validates, and datasheet figures are right.

Spot-checked numbers come from the vendors' datasheets/whitepapers (dense figures),
an independent source from the YAML files under test.
"""

from __future__ import annotations

import math

import pytest

import hardware_specs
from hardware_specs import loader

REQUIRED = [
    "A100-SXM4-40GB", "A100-SXM4-80GB", "A100-PCIe-80GB", "H100-SXM", "H100-PCIe",
    "H100-NVL", "H200-SXM", "GH200", "B200", "L4", "L40S", "A10G", "A10", "RTX-4090",
    "MI300X", "MI325X", "Gaudi3", "TPU-v5e", "TPU-v6e",
]  # fmt: skip

ALL = list(loader.bundled())


def test_every_bundled_file_validates():
    files = sorted(loader.BUNDLED_DIR.glob("*.yaml"))
    assert len(files) >= 19
    for path in files:
        assert isinstance(hardware_specs.load_file(path), hardware_specs.Accelerator)


def test_catalog_has_every_required_accelerator():
    assert set(REQUIRED) <= set(hardware_specs.names())


def test_names_are_unique_even_ignoring_case_and_separators():
    keys = [loader.normalize(a.name) for a in ALL]
    assert len(keys) == len(set(keys))


def test_aliases_are_unique_across_entries():
    owners: dict[str, str] = {}
    for acc in ALL:
        for label in (acc.name, *acc.aliases):
            key = loader.normalize(label)
            assert owners.setdefault(key, acc.name) == acc.name, f"{label!r} is ambiguous"


@pytest.mark.parametrize(
    ("name", "dtype", "tflops"),
    [
        ("A100-SXM4-80GB", "bf16", 312),
        ("A100-SXM4-80GB", "tf32", 156),
        ("A100-SXM4-80GB", "fp32", 19.5),
        ("A100-SXM4-80GB", "int8", 624),
        ("H100-SXM", "bf16", 989.4),
        ("H100-SXM", "fp8", 1978.9),
        ("H100-SXM", "fp32", 67),
        ("H200-SXM", "bf16", 989.4),
        ("L4", "bf16", 121),
        ("MI300X", "bf16", 1307.4),
        ("MI300X", "fp8", 2614.9),
        ("B200", "bf16", 2250),
        ("TPU-v5e", "bf16", 197),
        ("TPU-v6e", "bf16", 918),
    ],
)
def test_dense_peaks_match_datasheets(name, dtype, tflops):
    assert hardware_specs.get(name).peak_tflops[dtype] == pytest.approx(tflops)


@pytest.mark.parametrize(
    ("name", "hbm_gb_s", "memory_gib"),
    [
        ("A100-SXM4-40GB", 1555, 40),
        ("A100-SXM4-80GB", 2039, 80),
        ("H100-SXM", 3350, 80),
        ("H100-PCIe", 2000, 80),
        ("H100-NVL", 3900, 94),
        ("H200-SXM", 4800, 141),
        ("MI300X", 5300, 192),
        ("L4", 300, 24),
    ],
)
def test_memory_figures_match_datasheets(name, hbm_gb_s, memory_gib):
    acc = hardware_specs.get(name)
    assert (acc.hbm_gb_s, acc.memory_gib) == (hbm_gb_s, memory_gib)


def test_h100_sxm_interconnect_is_nvlink4_450_per_direction():
    link = hardware_specs.get("H100-SXM").interconnect
    assert (link.kind, link.bandwidth_gb_s) == ("NVLink 4", 450)


@pytest.mark.parametrize("acc", ALL, ids=lambda a: a.name)
def test_peaks_are_dense_not_sparse(acc):
    """fp8 runs at most ~2x bf16 when dense; a sparse figure would show up as 4x."""
    peaks = acc.peak_tflops
    bf16 = peaks["bf16"]
    if "fp8" in peaks:
        assert bf16 <= peaks["fp8"] <= 2.1 * bf16
    if "fp32" in peaks:
        assert peaks["fp32"] < bf16


@pytest.mark.parametrize("acc", ALL, ids=lambda a: a.name)
def test_every_entry_is_plausible(acc):
    assert acc.sources and acc.price.source
    assert 1 <= acc.gpus_per_node <= 72
    assert 10 <= acc.memory_gib <= 300
    assert acc.interconnect.bandwidth_gb_s < acc.hbm_gb_s


def test_catalog_frame_has_one_row_per_entry():
    df = hardware_specs.catalog()
    assert len(df) == len(ALL) == df["name"].nunique()
    for column in ["name", "vendor", "memory_gib", "hbm_gb_s", "bf16_tflops", "fp8_tflops",
                   "interconnect_kind", "interconnect_gb_s", "nic_gbit_s", "tdp_w",
                   "price_usd_per_hour", "price_source"]:  # fmt: skip
        assert column in df.columns
    tpu = df.set_index("name").loc["TPU-v5e"]
    assert math.isnan(tpu["fp8_tflops"])
