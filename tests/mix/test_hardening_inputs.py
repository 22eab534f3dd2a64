"""Issue 19: plan files, capacity tables, traces and YAML catalogs give one clear error naming
the file, the field (or row and column) and the fix -- never a silent wrong answer: no infinite
numbers, no percentages taken as fractions, no truncated integers, no duplicate keys where the
last silently wins, no text cells coerced to "missing"."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mix_fixtures import TABLE, plan_dict

from hardware_specs import HardwareSpecError
from hardware_specs.engines import ENGINE_DIR, load_engine_file
from hardware_specs.loader import BUNDLED_DIR, load_file
from hardware_specs.yaml_strict import DuplicateKeyError, load_json, load_yaml
from planner.mix import PlanSpecError, load_plan, plan, validate_plan
from planner.mix.traffic import model_buckets
from planner.workload import Workload, WorkloadError


def write_plan(tmp_path: Path, text: str | None = None, table: str = TABLE, **over) -> Path:
    (tmp_path / "caps.csv").write_text(table)
    path = tmp_path / "plan.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(plan_dict(**over)))
    return path


def plan_error(tmp_path: Path, text: str) -> str:
    path = write_plan(tmp_path, text=text)
    with pytest.raises(PlanSpecError) as err:
        load_plan(path)
    msg = str(err.value)
    assert str(path) in msg and "Traceback" not in msg
    return msg


def edit(data: dict, dotted: str, value: object) -> dict:
    """``data`` with the field at ``models.0.rate_rps`` (say) set to ``value``."""
    *parents, last = dotted.split(".")
    node: object = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    node[int(last) if isinstance(node, list) else last] = value  # type: ignore[index]
    return data


# ---- 1. plan-file numbers: finite, fractions, whole numbers ---------------------------------


@pytest.mark.parametrize(
    ("field", "where", "value"),
    [
        ("models.0.rate_rps", r"models\[0\]\.rate_rps", math.inf),
        ("gpus.0.usd_per_hour", r"gpus\[0\]\.usd_per_hour", math.inf),
        ("headroom", "headroom", math.inf),
        ("time_limit_s", "time_limit_s", math.inf),
        ("slo", r"slo\.ttft_s", {"ttft_s": math.inf}),
        (
            "models.0.traffic.histogram.0.input_tokens",
            r"models\[0\]\.traffic\.histogram\[0\]\.input_tokens",
            math.nan,
        ),
    ],
)
def test_infinite_or_nan_numbers_in_a_plan_are_refused_naming_the_field(
    tmp_path, field, where, value
):
    text = yaml.safe_dump(edit(plan_dict(), field, value))
    assert ".inf" in text or ".nan" in text
    msg = plan_error(tmp_path, text)
    assert msg.count("\n") == 1, msg  # the header and one field line
    assert re.search(rf"field '{where}': .*finite number", msg), msg
    assert "use a finite number" in msg


def test_mip_gap_given_as_a_percentage_is_refused_as_such(tmp_path):
    msg = plan_error(tmp_path, yaml.safe_dump(plan_dict(mip_gap=10)))
    assert "field 'mip_gap'" in msg
    assert "mip_gap is a fraction in [0, 1)" in msg and "looks like a percentage" in msg
    assert "write 0.1 for 10%" in msg


def test_mip_gap_of_one_is_refused_and_a_fraction_is_accepted(tmp_path):
    assert "mip_gap is a fraction" in plan_error(tmp_path, yaml.safe_dump(plan_dict(mip_gap=1)))
    spec = validate_plan(plan_dict(mip_gap=0.05, base_dir=str(tmp_path)))
    assert spec.mip_gap == 0.05


def test_headroom_given_as_a_percentage_is_refused_and_one_is_allowed(tmp_path):
    msg = plan_error(tmp_path, yaml.safe_dump(plan_dict(headroom=20)))
    assert "field 'headroom'" in msg and "looks like a percentage: write 0.2 for 20%" in msg
    assert validate_plan(plan_dict(headroom=1.0)).headroom == 1.0


def test_slo_percentile_given_as_a_percentage_is_refused(tmp_path):
    msg = plan_error(tmp_path, yaml.safe_dump(plan_dict(slo={"ttft_s": 1, "percentile": 90})))
    assert "field 'slo.percentile'" in msg and "write 0.9 for 90%" in msg


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        (1.5, "fractional part (got 1.5); use a whole number (no truncation)"),
        (True, "true/false is not a number"),
        (-2, "greater than 0 (got -2)"),
        (0, "greater than 0 (got 0)"),
        ("two", "valid integer"),
    ],
)
def test_replica_tp_must_be_a_positive_whole_number(tmp_path, value, expect):
    data = plan_dict(gpus=[{"name": "A10G", "configs": [{"tp": value}]}, {"name": "H100"}])
    msg = plan_error(tmp_path, yaml.safe_dump(data))
    assert "field 'gpus[0].configs[0].tp'" in msg and expect in msg


def test_negative_cap_and_fractional_replica_floor_are_refused(tmp_path):
    data = plan_dict(gpus=[{"name": "A10G", "max_gpus": -1}, {"name": "H100"}])
    assert "field 'gpus[0].max_gpus'" in plan_error(tmp_path, yaml.safe_dump(data))
    data = edit(plan_dict(), "models.0.min_replicas", 1.5)
    msg = plan_error(tmp_path, yaml.safe_dump(data))
    assert "field 'models[0].min_replicas'" in msg and "whole number" in msg


def test_a_boolean_rate_is_not_taken_as_one(tmp_path):
    msg = plan_error(tmp_path, yaml.safe_dump(edit(plan_dict(), "models.0.rate_rps", True)))
    assert "field 'models[0].rate_rps'" in msg and "true/false is not a number" in msg


# ---- 2. duplicate keys ----------------------------------------------------------------------


def test_duplicate_key_in_a_plan_file_is_refused_naming_key_and_lines(tmp_path):
    text = yaml.safe_dump(plan_dict(), sort_keys=False) + "name: other\n"
    msg = plan_error(tmp_path, text)
    assert "duplicate key 'name' at line" in msg and "(first at line 1)" in msg
    assert "keep one of them" in msg


def test_duplicate_key_nested_in_a_plan_file_is_refused(tmp_path):
    text = yaml.safe_dump(plan_dict(), sort_keys=False).replace(
        "rate_rps: 10\n", "rate_rps: 10\n  rate_rps: 100\n"
    )
    assert "duplicate key 'rate_rps'" in plan_error(tmp_path, text)


def test_duplicate_key_in_a_json_plan_is_refused(tmp_path):
    path = write_plan(tmp_path)
    text = json.dumps(plan_dict())[:-1] + ', "name": "again"}'
    jpath = path.with_suffix(".json")
    jpath.write_text(text)
    with pytest.raises(PlanSpecError, match=r"plan\.json: duplicate key 'name' in a JSON object"):
        load_plan(jpath)


def test_yaml_merge_keys_may_still_be_overridden():
    data = load_yaml("base: &b {tp: 1, pp: 1}\nrun:\n  <<: *b\n  tp: 2\n")
    assert data["run"] == {"tp": 2, "pp": 1}
    assert load_json('{"a": 1, "b": {"a": 2}}') == {"a": 1, "b": {"a": 2}}


def test_duplicate_key_in_a_flow_mapping_is_refused():
    with pytest.raises(DuplicateKeyError, match="duplicate key 'tp' at line 1"):
        load_yaml("{tp: 1, tp: 2}")


def test_duplicate_key_in_a_hardware_yaml_is_refused(tmp_path):
    path = tmp_path / "a10.yaml"
    path.write_text((BUNDLED_DIR / "a10.yaml").read_text() + "memory_gib: 48\n")
    with pytest.raises(HardwareSpecError) as err:
        load_file(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: duplicate key 'memory_gib' at line") and "\n" not in msg


def test_duplicate_key_in_an_engine_yaml_is_refused(tmp_path):
    path = tmp_path / "vllm.yaml"
    source = ENGINE_DIR / "sglang.yaml"
    first_key = next(
        line.split(":")[0]
        for line in source.read_text().splitlines()
        if line and line[0].isalpha() and ":" in line
    )
    path.write_text(source.read_text() + f"{first_key}: again\n")
    with pytest.raises(HardwareSpecError, match=rf"{path.name}: duplicate key '{first_key}'"):
        load_engine_file(path)


# ---- 3. capacity tables and traces: strict cells --------------------------------------------


@pytest.mark.parametrize(
    ("table", "expect"),
    [
        (
            TABLE.replace("H100,512,128,20.0", "H100,512,128,fast"),
            r"caps\.csv: row 4, column 'max_rate_rps': 'fast' is not a number; use a number >= 0",
        ),
        (
            TABLE.replace("H100,512,128,20.0", "H100,5x12,128,20.0"),
            r"caps\.csv: row 4, column 'input_tokens': '5x12' is not a number",
        ),
        (
            TABLE.replace("H100,4096,256,4.0", "H100,4096,256,inf"),
            r"caps\.csv: row 5, column 'max_rate_rps': inf is not finite",
        ),
        (
            TABLE.replace("\n", ",ttft_s\n", 1).replace("20.0\n", "20.0,half a second\n"),
            r"caps\.csv: row 4, column 'ttft_s': 'half a second' is not a number; use an SLO "
            r"target > 0 s, or leave the cell blank",
        ),
        (
            TABLE.replace("\n", ",tp\n", 1).replace("20.0\n", "20.0,1.5\n"),
            r"caps\.csv: row 4, column 'tp': 1\.5 is not a whole number; use a whole number of "
            r"GPUs >= 1",
        ),
        (
            TABLE.replace("\n", ",tp\n", 1).replace("4.0\n", "4.0,-1\n"),
            r"caps\.csv: row 5, column 'tp': -1 must be >= 1",
        ),
        (
            TABLE.replace("\n", ",tp\n", 1).replace("4.0\n", "4.0,two\n"),
            r"caps\.csv: row 5, column 'tp': 'two' is not a number",
        ),
        (
            TABLE.replace("H100,512", ",512"),
            r"caps\.csv: row 4, column 'gpu': the cell is blank; name the GPU type",
        ),
    ],
)
def test_a_bad_capacity_table_cell_is_named_by_file_row_and_column(tmp_path, table, expect):
    path = write_plan(tmp_path, table=table)
    with pytest.raises(PlanSpecError, match=expect) as err:
        plan(path)
    assert "\n" not in str(err.value)


def test_a_blank_tp_cell_means_one_gpu(tmp_path):
    lines = TABLE.splitlines()
    table = "\n".join([lines[0] + ",tp", *(line + "," for line in lines[1:])]) + "\n"
    assert plan(write_plan(tmp_path, table=table)).total_gpus > 0


@pytest.mark.parametrize(
    ("suffix", "text", "expect"),
    [
        (
            ".csv",
            "input_tokens,output_tokens\n100,10\n100,ten\n",
            r"t\.csv: row 3, column 'output_tokens': 'ten' is not a number; use a whole token",
        ),
        (
            ".csv",
            "input_tokens,output_tokens\n100,10\n100.5,10\n",
            r"t\.csv: row 3, column 'input_tokens': 100\.5 is not a whole number",
        ),
        (
            ".jsonl",
            '{"input_tokens": 5, "output_tokens": 9}\n\n'
            '{"input_tokens": 5, "output_tokens": 2.5}\n',
            r"t\.jsonl: row 3, column 'output_tokens': 2\.5 is not a whole number",
        ),
        (
            ".csv",
            "input_tokens,output_tokens,weight\n100,10,1\n100,10,heavy\n",
            r"t\.csv: row 3, column 'weight': 'heavy' is not a number",
        ),
    ],
)
def test_a_bad_trace_cell_is_named_by_file_row_and_column(tmp_path, suffix, text, expect):
    path = tmp_path / f"t{suffix}"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=expect):
        Workload.from_trace(path)


def test_a_fractional_token_count_in_a_plan_trace_is_named(tmp_path):
    pd.DataFrame({"input_tokens": [10, 12.5], "output_tokens": [5, 5]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    spec = validate_plan(
        {
            "models": [{"name": "m", "rate_rps": 1, "traffic": {"trace": {"path": "t.csv"}}}],
            "gpus": [{"name": "A10G"}],
            "capacity": {"table": "x.csv"},
            "base_dir": str(tmp_path),
        }
    )
    with pytest.raises(
        PlanSpecError, match=r"t\.csv: row 3, column 'input_tokens': 12\.5 is not a whole number"
    ):
        model_buckets(spec, spec.models[0])
