"""Loading profiles: pydantic validation names the file and field; the shipped CPU profile."""

from __future__ import annotations

import pandas as pd
import pytest

from perfmodel.profiling import ProfileError, list_profiles, load_profile
from perfmodel.profiling.profile import PROFILE_CSV, PROVENANCE_YAML, Profile


@pytest.fixture()
def saved(synthetic_profile, tmp_path):
    return synthetic_profile.save(tmp_path / "prof")


def test_missing_column_is_rejected_naming_the_column(saved):
    table = pd.read_csv(saved / PROFILE_CSV).drop(columns=["time_s"])
    table.to_csv(saved / PROFILE_CSV, index=False)
    with pytest.raises(ProfileError, match=r"missing column.*time_s"):
        Profile.load(saved)


def test_row_of_a_foreign_device_is_rejected_naming_the_device_field(saved):
    table = pd.read_csv(saved / PROFILE_CSV)
    table.loc[2, "device"] = "NVIDIA H100 80GB HBM3"
    table.to_csv(saved / PROFILE_CSV, index=False)
    with pytest.raises(ProfileError, match=r"field 'device' of row 2 is 'NVIDIA H100"):
        Profile.load(saved)


def test_loading_for_another_expected_device_is_rejected(saved):
    with pytest.raises(ProfileError, match=r"field 'device'.*expected 'NVIDIA H100"):
        Profile.load(saved, expected_device="NVIDIA H100 80GB HBM3")


def test_bad_value_is_rejected_naming_row_and_field(make_table, make_provenance):
    table = make_table()
    table.loc[1, "time_s"] = -1.0
    with pytest.raises(ProfileError, match="row 1, field 'time_s'"):
        Profile(table, make_provenance())


def test_bad_provenance_field_is_named(saved):
    text = (saved / PROVENANCE_YAML).read_text().replace("threads: 1", "threads: many")
    (saved / PROVENANCE_YAML).write_text(text)
    with pytest.raises(ProfileError, match="field 'threads'"):
        Profile.load(saved)


def test_shipped_cpu_profile_loads_is_small_and_derives_a_cpu_accelerator():
    from perfmodel.profiling import PROFILES_DIR

    names = list_profiles()
    assert "cpu-amd-epyc-1t" in names
    for name in names:
        assert (PROFILES_DIR / name / PROFILE_CSV).stat().st_size <= 5 * 2**20
    profile = load_profile("cpu-amd-epyc-1t")
    acc = profile.to_accelerator()
    assert acc.name == "cpu-amd-epyc-1t" and acc.kind == "cpu"
    assert acc.peak_flops("fp32") > 1e9 and acc.mem_bandwidth > 1e9
    assert set(profile.table.op_class) >= {"gemm", "attn_prefill", "attn_decode", "memory"}


def test_unknown_profile_name_lists_the_shipped_ones():
    with pytest.raises(ProfileError, match=r"shipped: .*cpu-amd-epyc-1t"):
        load_profile("no-such-profile")


@pytest.mark.parametrize(
    ("device", "name"),
    [("NVIDIA H100 80GB HBM3", "H100-SXM"), ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB"),
     ("NVIDIA L4", "L4"), ("AMD EPYC", "amd-epyc")],
)  # fmt: skip
def test_torch_device_names_map_to_catalog_entries_else_a_slug(device, name):
    from perfmodel.profiling.provenance import catalog_name_for

    assert catalog_name_for(device) == name
