"""`capplan search`: the ranked table, the deploy line, the report files, one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.cli import app

BASE = [
    "search", "llama-3.1-8b", "--slo-ttft", "1", "--slo-tpot", "0.05", "--gpus", "L4",
    "--tp", "1,2", "--pp", "1", "--quant", "fp8", "--max-num-seqs", "64",
    "--token-budget", "2048", "--max-instances", "1", "--top", "6", "--jobs", "1",
]  # fmt: skip


def test_search_prints_the_ranked_plans_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(app, [*BASE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        "plans screened" in result.output and "vllm serve meta-llama/Llama-3.1-8B" in result.output
    )
    names = {p.name for p in out.iterdir()}
    assert {"search.html", "search.json", "plans.csv"} <= names
    assert not any(n.endswith(".tmp") for n in names)
    data = json.loads((out / "search.json").read_text())
    assert data["plans_screened"] == 6 and data["top"][0]["gpu"] == "L4"
    html = (out / "search.html").read_text()
    assert "plotly" in html and "Ranked plans" in html


def test_search_json_on_stdout_is_strict_json():
    result = CliRunner().invoke(app, [*BASE, "--format", "json"])
    assert result.exit_code == 0, result.output
    json.loads(result.output, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "llama-3.1-8b"], "give an SLO"),
        ([*BASE, "--tp", "1,two"], "--tp: give integers"),
        ([*BASE, "--slo-tpot", "0"], "--slo-tpot: must be > 0"),
        ([*BASE, "--gpus", "L5"], "L5"),
        ([*BASE, "--max-instances", "0"], "--max-instances"),
        ([*BASE, "--objective", "cheapest"], "objective"),
    ],
)
def test_bad_options_get_one_line_naming_them(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_out_pointing_at_a_file_is_refused_before_any_work(tmp_path):
    f = tmp_path / "plan.txt"
    f.write_text("x")
    result = CliRunner().invoke(app, [*BASE, "--out", str(f)])
    assert result.exit_code == 2 and "is a file" in result.output
