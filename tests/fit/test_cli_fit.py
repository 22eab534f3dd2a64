"""The engine commands of the CLI: engines list/show, fit, validate --serving, serve --engine."""

import json

from typer.testing import CliRunner

from planner.cli import app

runner = CliRunner()
DATA = "tests/fit/data"


def run(*args):
    return runner.invoke(app, list(args))


def test_engines_list_names_every_bundled_profile():
    out = run("engines", "list", "--format", "csv").stdout
    for name in ("vllm-0.2", "vllm-0.6", "vllm-v1", "sglang", "trtllm"):
        assert name in out


def test_engines_show_prints_the_profile_yaml():
    out = run("engines", "show", "vllm-v1").stdout
    assert "name: vllm-v1" in out and "graphs:" in out


def test_fit_of_one_vllm_file_without_a_gpu_asks_for_hardware():
    res = run("fit", f"{DATA}/vllm_serve_concurrency16.json", "--engine-version", "0.6.3")
    assert res.exit_code == 2
    assert "--hardware" in res.stderr


def test_fit_of_one_run_refuses_three_parameters_and_writes_nothing(tmp_path):
    out = tmp_path / "mine.yaml"
    res = run("fit", f"{DATA}/vllm_serve_concurrency16.json", "--engine", "vllm",
              "--engine-version", "0.6.3", "--hardware", "h100", "--out", str(out))  # fmt: skip
    assert res.exit_code == 2
    assert "1 distinct runs for 3 host terms" in res.stderr
    assert not out.exists()


def test_validate_serving_predicts_every_row_of_a_results_file():
    res = run("validate", "--serving", f"{DATA}/capplan_plain.csv", "--format", "json")
    assert res.exit_code == 0, res.stderr
    points = json.loads(res.stdout)["points"]
    assert points and all(p["predicted"] > 0 for p in points)


def test_serve_names_the_engine_and_none_gives_gpu_time_only():
    base = ["serve", "--model", "llama-3.1-8b", "--hardware", "h100", "--format", "json"]
    with_engine = json.loads(run(*base, "--rate", "5").stdout)["analytic"]
    gpu_only = json.loads(run(*base, "--rate", "5", "--engine", "none").stdout)["analytic"]
    assert with_engine["engine"].startswith("vllm-v1")
    assert gpu_only["engine"].startswith("none")


def test_serve_with_a_tbt_target_keeps_it_in_the_slo():
    base = ["serve", "--model", "llama-3.1-8b", "--hardware", "h100", "--format", "json",
            "--slo-ttft", "0.5"]  # fmt: skip
    loose = json.loads(run(*base).stdout)["max_rate_under_slo"]["rate"]
    strict = json.loads(run(*base, "--slo-tbt", "0.012").stdout)["max_rate_under_slo"]["rate"]
    assert strict < loose


def test_serve_concurrency_reports_a_closed_loop():
    res = run("serve", "--model", "llama-3.1-8b", "--hardware", "h100", "--concurrency", "32",
              "--format", "json")  # fmt: skip
    data = json.loads(res.stdout)
    assert data["load"] == "concurrency" and data["level"] == 32
    assert data["request_s"] * data["e2e_mean_s"] == __import__("pytest").approx(32, rel=1e-3)
