"""Serving-engine profiles: bundled data, hardware-dependent defaults, graph sizes, errors."""

import pytest

import hardware_specs
from hardware_specs import HardwareSpecError
from hardware_specs.engines import engine_names, get_engine, load_engine_file


def test_bundled_profiles_cover_the_engines_of_the_issue():
    assert {"vllm-0.2", "vllm-0.6", "vllm-v1", "sglang", "trtllm"} <= set(engine_names())
    for name in engine_names():
        prof = get_engine(name)
        assert prof.sources, f"{name} cites no source"


def test_vllm_v1_raises_limits_on_big_gpus_but_not_on_the_a100():
    # vllm/engine/arg_utils.py get_batch_defaults: >= 70 GiB and not an A100 -> 8192 / 1024
    v1 = get_engine("vllm-v1")
    h100 = v1.scheduler_for(hardware_specs.get("H100-SXM"))
    a100 = v1.scheduler_for(hardware_specs.get("A100-SXM4-80GB"))
    l4 = v1.scheduler_for(hardware_specs.get("L4"))
    assert (h100["max_num_seqs"], h100["token_budget"]) == (1024, 8192)
    assert (a100["max_num_seqs"], a100["token_budget"]) == (256, 2048)
    assert (l4["max_num_seqs"], l4["token_budget"]) == (256, 2048)


def test_vllm_v0_captures_1_2_4_then_every_8_up_to_256():
    # vllm/worker/model_runner.py: [1, 2, 4] + [8 * i for i in range(1, 33)]
    assert get_engine("vllm-0.6").graphs.sizes() == [1, 2, 4] + [8 * i for i in range(1, 33)]


def test_vllm_v1_captures_every_16_above_256_up_to_512():
    sizes = get_engine("vllm-v1").graphs.sizes()
    expected = [1, 2, 4, *range(8, 256, 8), *range(256, 513, 16)]
    assert sizes == expected and len(sizes) == 51


def test_unknown_engine_names_the_closest_profiles():
    with pytest.raises(HardwareSpecError, match=r"unknown engine 'vlm-v1'.*vllm-v1"):
        get_engine("vlm-v1")


def test_engine_lookup_ignores_case_and_reads_a_yaml_path(tmp_path):
    assert get_engine("VLLM-V1").name == "vllm-v1"
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nengine: vllm\nversion: '0.9'\nhost: {step_s: 0.002}\n")
    assert get_engine(str(path)).host.step_s == 0.002


def test_a_bad_field_is_one_error_naming_the_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nengine: vllm\nversion: x\nhost: {step_s: -1}\n")
    with pytest.raises(HardwareSpecError, match=r"bad.yaml: field 'host.step_s'"):
        load_engine_file(path)
