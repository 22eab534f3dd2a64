"""The capplan CLI: catalogs, estimates in every format, and one-line errors (exit code 2)."""

import json

from typer.testing import CliRunner

from planner.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_hardware_list_and_show():
    assert "H100-SXM" in run("hardware", "list").stdout
    shown = json.loads(run("hardware", "show", "h100", "--format", "json").stdout)
    assert shown["peak_tflops"]["bf16"] == 989.4


def test_models_list_and_show():
    assert "deepseek-v3" in run("models", "list", "--format", "csv").stdout
    shown = json.loads(run("models", "show", "llama-2-7b", "--format", "json").stdout)
    assert shown["params_total"] == 6_738_415_616


def test_estimate_json_gives_the_step_and_its_ops():
    res = run(
        "estimate",
        "--model",
        "llama-2-7b",
        "--hardware",
        "a100-80gb",
        "--phase",
        "decode",
        "--batch",
        "1",
        "--context-len",
        "1024",
        "--calibration",
        "ideal",
        "--format",
        "json",
    )
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert 5.5e-3 <= data["time_s"] <= 8e-3
    assert {op["op"] for op in data["ops"]} >= {"qkv_proj", "attn", "lm_head"}


def test_estimate_table_and_csv_for_a_mixed_moe_step():
    res = run(
        "estimate",
        "--model",
        "mixtral-8x7b",
        "--hardware",
        "h100",
        "--phase",
        "mixed",
        "--tp",
        "2",
        "--ep",
        "2",
        "--batch",
        "16",
    )
    assert res.exit_code == 0 and "all_to_all" in res.stdout
    csv = run("estimate", "--model", "qwen3-30b-a3b", "--hardware", "h100", "--format", "csv")
    assert csv.stdout.splitlines()[0].startswith("op,count,flops")


def test_errors_are_one_line_with_exit_code_2():
    for args in (
        ("estimate", "--model", "llama-9", "--hardware", "h100"),
        ("estimate", "--model", "llama-2-7b", "--hardware", "h1000"),
        ("estimate", "--model", "llama-2-7b", "--hardware", "h100", "--tp", "3"),
        ("estimate", "--model", "llama-3.1-405b", "--hardware", "h100"),
        ("estimate", "--model", "llama-2-7b", "--hardware", "h100", "--batch", "0"),
        ("estimate", "--model", "llama-2-7b", "--hardware", "h100", "--kv", "fp7"),
    ):
        res = run(*args)
        assert res.exit_code == 2, args
        assert res.stderr.strip().startswith("error:") and "Traceback" not in res.output
