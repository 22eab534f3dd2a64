"""The Accelerator model: SI accessors, peak_flops, to_dict and validation errors."""

from __future__ import annotations

import json

import pytest

import hardware_specs
from hardware_specs import Accelerator, HardwareSpecError


def test_si_accessors_convert_boundary_units():
    acc = hardware_specs.get("H100-SXM")
    assert acc.memory_bytes == 80 * 2**30
    assert acc.mem_bandwidth == 3350e9
    assert acc.link_bandwidth == 450e9
    assert acc.link_latency_s == pytest.approx(acc.interconnect.latency_us * 1e-6)
    assert acc.nic_bandwidth == 400e9 / 8  # bits -> bytes
    assert acc.nic_latency_s == pytest.approx(acc.nic_latency_us * 1e-6)


def test_peak_flops_is_dense_flop_per_second_or_none():
    h100 = hardware_specs.get("H100-SXM")
    assert h100.peak_flops("bf16") == pytest.approx(989.4e12)
    assert h100.peak_flops("BF16") == h100.peak_flops("bf16")
    assert h100.peak_flops("fp4") is None
    assert hardware_specs.get("A100").peak_flops("fp8") is None


def test_peak_flops_rejects_unknown_dtype():
    with pytest.raises(HardwareSpecError, match=r"fp64.*accepted"):
        hardware_specs.get("H100-SXM").peak_flops("fp64")


def test_to_dict_is_json_safe_and_round_trips():
    acc = hardware_specs.get("MI300X")
    data = acc.to_dict()
    json.dumps(data)
    assert Accelerator.model_validate(data) == acc


def test_accelerator_is_frozen_and_hashable():
    acc = hardware_specs.get("L4")
    with pytest.raises(ValueError):
        acc.tdp_w = 1  # type: ignore[misc]
    assert {acc: 1}[hardware_specs.get("l4")] == 1


def test_defaults(valid_spec):
    del valid_spec["nic_latency_us"], valid_spec["kind"]
    acc = Accelerator.model_validate(valid_spec)
    assert (acc.nic_latency_us, acc.kind) == (5.0, "gpu")


def _error_for(write_spec, spec) -> str:
    path = write_spec(spec, "broken.yaml")
    with pytest.raises(HardwareSpecError) as info:
        hardware_specs.load_file(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_missing_field_names_file_and_field(write_spec, valid_spec):
    del valid_spec["hbm_gb_s"]
    message = _error_for(write_spec, valid_spec)
    assert "'hbm_gb_s'" in message and "required" in message


def test_negative_bandwidth_names_file_field_and_rule(write_spec, valid_spec):
    valid_spec["interconnect"]["bandwidth_gb_s"] = -5
    message = _error_for(write_spec, valid_spec)
    assert "interconnect.bandwidth_gb_s" in message and "greater than 0" in message


def test_unknown_dtype_lists_accepted_dtypes(write_spec, valid_spec):
    valid_spec["peak_tflops"]["fp64"] = 34
    message = _error_for(write_spec, valid_spec)
    assert "peak_tflops.fp64" in message
    assert "'fp32'" in message and "'int4'" in message


def test_unknown_top_level_field_is_rejected(write_spec, valid_spec):
    valid_spec["hbm_tb_s"] = 3.35
    assert "hbm_tb_s" in _error_for(write_spec, valid_spec)


def test_bad_yaml_and_non_mapping_are_spec_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(HardwareSpecError, match=r"bad\.yaml"):
        hardware_specs.load_file(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(HardwareSpecError, match="expected a mapping"):
        hardware_specs.load_file(listing)


def test_spec_error_is_a_value_error():
    assert issubclass(HardwareSpecError, ValueError)
    assert issubclass(hardware_specs.UnknownHardwareError, HardwareSpecError)
