"""Name lookup, unknown-name hints, user directories and in-memory registration."""

from __future__ import annotations

import os
import re

import pytest

import hardware_specs
from hardware_specs import HardwareSpecError, UnknownHardwareError


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("H100-SXM", "H100-SXM"),
        ("h100-sxm", "H100-SXM"),
        ("H100_SXM", "H100-SXM"),
        ("h100 sxm", "H100-SXM"),
        ("h100", "H100-SXM"),
        ("a100", "A100-SXM4-80GB"),
        ("a100-80gb", "A100-SXM4-80GB"),
        ("A100_80GB", "A100-SXM4-80GB"),
        ("a100-40gb", "A100-SXM4-40GB"),
        ("h200", "H200-SXM"),
        ("b200", "B200"),
        ("l4", "L4"),
        ("mi300x", "MI300X"),
        ("v5e", "TPU-v5e"),
        ("v6e", "TPU-v6e"),
        ("tpu v6e", "TPU-v6e"),
        ("gaudi3", "Gaudi3"),
        ("Gaudi 3", "Gaudi3"),
        ("4090", "RTX-4090"),
        ("a10g", "A10G"),
        ("A10", "A10"),
    ],
)
def test_get_ignores_case_separators_and_accepts_aliases(query, name):
    assert hardware_specs.get(query).name == name


def test_unknown_name_lists_closest_matches():
    with pytest.raises(UnknownHardwareError) as info:
        hardware_specs.get("h1000")
    message = str(info.value)
    assert message.startswith("unknown accelerator 'h1000'; closest: H100-SXM")
    assert "H100-PCIe" in message and "H100-NVL" in message


def test_hopeless_name_lists_known_names():
    with pytest.raises(UnknownHardwareError, match=r"known: .*H100-SXM"):
        hardware_specs.get("zzzzzzzzzzzz")


def test_extra_dir_adds_and_overrides_bundled(write_spec, valid_spec, tmp_path):
    write_spec(valid_spec, "mine.yaml")
    override = hardware_specs.get("H100-SXM").to_dict() | {"tdp_w": 650.0}
    write_spec(override, "h100.yaml")
    assert hardware_specs.get("testaccel-x", extra_dirs=[tmp_path]).name == "Test-Accel"
    assert hardware_specs.get("h100", extra_dirs=tmp_path).tdp_w == 650.0
    assert hardware_specs.get("h100").tdp_w == 700.0  # bundled data untouched
    assert len(hardware_specs.catalog(extra_dirs=[tmp_path])) == len(hardware_specs.names()) + 1


def test_env_var_directories_are_searched(write_spec, valid_spec, tmp_path, monkeypatch):
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    write_spec(valid_spec, directory=full)
    monkeypatch.setenv(hardware_specs.ENV_VAR, os.pathsep.join([str(empty), str(full)]))
    assert hardware_specs.get("Test-Accel").memory_gib == 80
    assert "Test-Accel" in hardware_specs.names()


def test_extra_dirs_override_env_var(write_spec, valid_spec, tmp_path, monkeypatch):
    write_spec(valid_spec | {"tdp_w": 1.0}, directory=tmp_path / "env")
    write_spec(valid_spec | {"tdp_w": 2.0}, directory=tmp_path / "arg")
    monkeypatch.setenv(hardware_specs.ENV_VAR, str(tmp_path / "env"))
    assert hardware_specs.get("Test-Accel", extra_dirs=[tmp_path / "arg"]).tdp_w == 2.0


def test_invalid_user_file_is_reported_with_its_path(write_spec, valid_spec, tmp_path):
    path = write_spec(valid_spec | {"hbm_gb_s": -1}, "oops.yaml")
    with pytest.raises(HardwareSpecError, match=re.escape(str(path))):
        hardware_specs.get("H100", extra_dirs=[tmp_path])


def test_missing_user_directory_is_an_error(tmp_path):
    with pytest.raises(HardwareSpecError, match="does not exist"):
        hardware_specs.get("H100", extra_dirs=[tmp_path / "nope"])


def test_user_alias_clashing_with_another_entry_is_rejected(write_spec, valid_spec, tmp_path):
    write_spec(valid_spec | {"aliases": ["h100"]})
    with pytest.raises(HardwareSpecError, match="alias 'h100' of 'Test-Accel'"):
        hardware_specs.get("L4", extra_dirs=[tmp_path])


def test_register_adds_an_in_memory_accelerator(valid_spec):
    cpu = hardware_specs.Accelerator.model_validate(
        valid_spec | {"name": "CPU-measured", "aliases": ["local-cpu"], "kind": "cpu"}
    )
    hardware_specs.register(cpu)
    assert hardware_specs.get("local cpu") is cpu
    assert "CPU-measured" in hardware_specs.names()
    assert "CPU-measured" in set(hardware_specs.catalog()["name"])


def test_register_rejects_non_accelerators():
    with pytest.raises(HardwareSpecError):
        hardware_specs.register({"name": "x"})  # type: ignore[arg-type]


def test_user_dirs_expand_home(write_spec, valid_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_spec(valid_spec, directory=tmp_path / "hw")
    assert hardware_specs.get("Test-Accel", extra_dirs="~/hw").name == "Test-Accel"
