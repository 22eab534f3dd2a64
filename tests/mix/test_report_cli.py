"""`capplan plan` and the report files: self-contained HTML, Markdown, JSON, CSV."""

from __future__ import annotations

import json

import typer
from mix_fixtures import plan_app
from typer.testing import CliRunner


def app() -> typer.Typer:
    return plan_app()


def test_plan_command_prints_summary_and_writes_every_report_file(melange_toy, tmp_path):
    out = tmp_path / "report"
    res = CliRunner().invoke(app(), ["plan", str(melange_toy), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "$4.68/h" in res.output and "36.2% cheaper than A100-SXM4-80GB" in res.output
    names = {p.name for p in out.iterdir()}
    assert {
        "plan.html",
        "plan.md",
        "plan.json",
        "allocation.csv",
        "routing.csv",
        "baselines.csv",
        "cost_vs_rate.csv",
    } <= names
    html = (out / "plan.html").read_text()
    assert "<script src=" not in html  # no CDN: plotly.js is inline
    assert "Plotly.newPlot" in html and len(html) > 1_000_000
    for title in (
        "Cost breakdown",
        "Utilization per pool",
        "Cost vs request rate",
        "Mix against single-GPU-type plans",
        "Routing weights",
    ):
        assert title in html
    data = json.loads((out / "plan.json").read_text())
    assert data["usd_per_hour"] == 4.68 and data["feasible"] is True
    assert len(data["cost_vs_rate"]) == 8
    md = (out / "plan.md").read_text()
    assert "| 1 | 6.7 | 3 x A10G, 1 x A100-SXM4-80GB |" in md  # Mélange's slice answer


def test_plan_command_json_output(melange_toy, tmp_path):
    res = CliRunner().invoke(
        app(), ["plan", str(melange_toy), "-o", str(tmp_path), "--no-sweeps", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["gpus_by_type"] == {"A10G": 1, "A100-SXM4-80GB": 1}


def test_infeasible_plan_exits_1_and_reports_the_fix(tmp_path):
    (tmp_path / "caps.csv").write_text("gpu,input_tokens,output_tokens,max_rate_rps\nA10G,1,1,1\n")
    (tmp_path / "p.yaml").write_text(
        "models: [{name: m, rate_rps: 5, traffic: {histogram: "
        "[{input_tokens: 1, output_tokens: 1, prob: 1}]}}]\n"
        "gpus: [{name: A10G, max_gpus: 3}]\ncapacity: {table: caps.csv}\n"
    )
    res = CliRunner().invoke(app(), ["plan", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "raise max_gpus of A10G from 3 to 5" in res.output
    assert (tmp_path / "r" / "issues.csv").exists()
    assert "Why no plan" in (tmp_path / "r" / "plan.html").read_text()


def test_bad_plan_file_is_a_one_line_error(tmp_path):
    (tmp_path / "p.yaml").write_text("models: []\n")
    res = CliRunner().invoke(app(), ["plan", str(tmp_path / "p.yaml")])
    assert res.exit_code == 2
    assert "field 'models'" in res.output
