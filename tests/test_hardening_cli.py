"""Issue 19 (part): the serve / estimate CLI and perfmodel entry points refuse bad input with
one line naming the option or field, and never give a silently wrong answer."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import perfmodel
from perfmodel.errors import PerfModelError
from planner.cli import app

SERVE = ["serve", "--model", "llama-2-7b", "--hardware", "h100-sxm"]
ESTIMATE = ["estimate", "--model", "llama-2-7b", "--hardware", "h100-sxm"]
runner = CliRunner()


def run(args):
    return runner.invoke(app, args)


def one_line_error(res, *needles):
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output and "validation error" not in res.output
    assert "pydantic" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    for n in needles:
        assert n in lines[0], res.output
    return lines[0]


def test_serve_max_rate_under_ttft_and_tbt_slo_equals_the_api():
    from planner.serving import SLO, Engine, max_rate_under_slo

    res = run([*SERVE, "--slo-ttft", "0.5", "--slo-tbt", "0.03", "--format", "json"])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.output)["max_rate_under_slo"]["rate"]
    engine = Engine.build("llama-2-7b", "h100-sxm", perfmodel.Parallelism(), {}, engine="vllm-v1")
    api = max_rate_under_slo(engine, None, "chat", SLO(ttft_s=0.5, tbt_s=0.03)).rate
    ttft_only = max_rate_under_slo(engine, None, "chat", SLO(ttft_s=0.5)).rate
    assert cli == pytest.approx(api, rel=1e-9)
    assert api < ttft_only  # the TBT target binds here, so dropping it would show


def test_serve_with_replicas_reports_the_totals_beside_the_per_replica_figures():
    # N replicas behind round robin each carry 1/N of the rate: the totals are N times one
    # replica's capacity and max rate (the figures were per replica with no word before)
    one = json.loads(run([*SERVE, "--slo-ttft", "0.5", "--format", "json"]).output)
    res = run([*SERVE, "--slo-ttft", "0.5", "--replicas", "3", "--format", "json"])
    three = json.loads(res.output)
    assert three["per_replica"] is True and three["total"]["replicas"] == 3
    rate = one["max_rate_under_slo"]["rate"]
    assert three["total"]["max_rate_under_slo_rps"] == pytest.approx(3 * rate, rel=1e-9)
    cap = one["analytic"]["capacity"]
    assert three["total"]["capacity_rps"] == pytest.approx(3 * cap, rel=1e-9)
    table = run([*SERVE, "--slo-ttft", "0.5", "--replicas", "3"]).output
    assert "per replica; 3 replicas" in table


@pytest.mark.parametrize("value", ["0", "-0.5", "inf", "nan"])
def test_serve_refuses_a_zero_negative_or_non_finite_slo_naming_the_option(value):
    one_line_error(run([*SERVE, "--slo-ttft", value]), "--slo-ttft")
    one_line_error(run([*SERVE, "--slo-tbt", value]), "--slo-tbt")


def test_serve_refuses_a_percentile_it_does_not_model_naming_the_option():
    one_line_error(run([*SERVE, "--slo-ttft", "1", "--percentile", "0.7"]), "--percentile")


def test_estimate_refuses_a_context_beyond_the_model_naming_its_limit():
    line = one_line_error(run([*ESTIMATE, "--context-len", "100000"]), "--context-len", "4,096")
    assert "llama-2-7b" in line
    one_line_error(run([*ESTIMATE, "--phase", "prefill", "--prompt-len", "5000"]), "--prompt-len")
    assert run([*ESTIMATE, "--context-len", "4095", "--format", "json"]).exit_code == 0


def test_perfmodel_entry_points_refuse_a_context_beyond_the_model():
    with pytest.raises(PerfModelError, match="maximum context of 4,096"):
        perfmodel.max_batch("llama-2-7b", "h100-sxm", 100_000)
    with pytest.raises(PerfModelError, match="maximum context of 4,096"):
        perfmodel.estimate_step("llama-2-7b", "h100-sxm", [(1, 100_000)])
    with pytest.raises(PerfModelError, match="context_len"):
        perfmodel.decode_time("llama-2-7b", "h100-sxm", 100_000)
    with pytest.raises(PerfModelError, match="prompt_len"):
        perfmodel.prefill_time("llama-2-7b", "h100-sxm", 5000)
    assert perfmodel.max_batch("llama-2-7b", "h100-sxm", 4096) > 1


def _trace(path: Path, lengths) -> str:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input_tokens", "output_tokens"])
        w.writerows([n, 100] for n in lengths)
    return str(path)


def test_serve_refuses_a_workload_no_request_of_which_fits_the_context(tmp_path):
    trace = _trace(tmp_path / "long.csv", range(5000, 5050))
    one_line_error(run([*SERVE, "--workload", trace]), "no request", "model context (4096")


def test_serve_warns_when_most_of_the_workload_exceeds_the_context(tmp_path):
    trace = _trace(tmp_path / "most.csv", [*range(5000, 5045), *range(500, 505)])
    res = run([*SERVE, "--workload", trace])
    assert res.exit_code == 0, res.output
    assert "warning: 90% of workload" in res.output


def test_estimate_refuses_a_huge_batch_at_once_naming_the_option():
    one_line_error(run([*ESTIMATE, "--batch", "100000000"]), "--batch", "1,000,000")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--max-num-seqs", "0"], "--max-num-seqs"),
        (["--token-budget", "1"], "--token-budget"),
        (["--memory-utilization", "1.5"], "--memory-utilization"),
        (["--scheduler", "static", "--batch-size", "0"], "--batch-size"),
        (["--scheduler", "disaggregated", "--prefill-replicas", "0"], "--prefill-replicas"),
        (["--rate", "inf"], "--rate"),
        (["--tp", "0"], "--tp"),
        (["--concurrency", "0"], "--concurrency"),
        (["--simulate", "--requests", "0"], "--requests"),
    ],
)
def test_serve_option_errors_name_the_cli_option_in_one_line(args, option):
    one_line_error(run([*SERVE, *args]), option)


def test_import_works_when_numba_has_nowhere_to_cache(tmp_path):
    """No cache locator (read-only install, unwritable HOME): compile without the cache."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)
    code = (
        "import numba.core.caching as c; c.CacheImpl._locator_classes = []\n"
        "import planner.cli\n"
        "from planner.serving import chunked_walk as w; print(type(w.walk._cache).__name__)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "NullCache"
