"""Outputs that cannot lie (issue 19): strict JSON, report folders written whole and moved
into place, output paths checked before the work, sanity warnings on absurd plans."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pytest
import typer
from mix_fixtures import plan_app
from typer.testing import CliRunner

from planner.mix import Pool, problem_from_arrays, solve_problem
from planner.outdir import MARKER, check_out_dir, write_folder
from planner.output import Format, emit, json_safe, strict_json


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity / -Infinity (as jq and JavaScript do)."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def app() -> typer.Typer:
    return plan_app()


def infeasible_plan(tmp_path):
    (tmp_path / "caps.csv").write_text("gpu,input_tokens,output_tokens,max_rate_rps\nA10G,1,1,1\n")
    path = tmp_path / "p.yaml"
    path.write_text(
        "models: [{name: m, rate_rps: 5, traffic: {histogram: "
        "[{input_tokens: 1, output_tokens: 1, prob: 1}]}}]\n"
        "gpus: [{name: A10G, max_gpus: 3}]\ncapacity: {table: caps.csv}\n"
    )
    return path


def feasible_plan(tmp_path):
    path = infeasible_plan(tmp_path)
    path.write_text(path.read_text().replace("max_gpus: 3", "max_gpus: 30"))
    return path


# ---- strict JSON ---------------------------------------------------------------------------
def test_strict_json_writes_null_with_the_reason_beside_it():
    data = {"wait_s": math.inf, "overloaded": True, "x": [np.float64("nan"), np.float32(2.0)]}
    out = strict_loads(strict_json(data))
    assert out["wait_s"] is None and out["wait_s_note"] == "infinite: overloaded"
    assert out["x"] == [None, 2.0]
    assert json_safe({"a": -math.inf})["a_note"] == "-infinite"


def test_emit_json_of_an_overloaded_result_parses_with_a_strict_parser(capsys):
    payload = {"rate_rps": 10.0, "overloaded": True, "ttft_p90_s": math.inf, "rho": math.nan}
    emit(None, Format.json, payload=payload)
    out = strict_loads(capsys.readouterr().out)
    assert out["ttft_p90_s"] is None and out["ttft_p90_s_note"] == "infinite: overloaded"
    assert out["rho_note"] == "not a number"


def test_plan_json_of_an_infeasible_plan_parses_with_a_strict_parser(tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(
        app(), ["plan", str(infeasible_plan(tmp_path)), "-o", str(out), "--format", "json"]
    )
    assert res.exit_code == 1
    data = strict_loads(res.stdout)
    assert data["feasible"] is False and data["usd_per_hour"] is None
    strict_loads((out / "plan.json").read_text())


# ---- report folders ------------------------------------------------------------------------
def test_rerun_into_the_same_folder_removes_the_stale_issues_csv(tmp_path):
    out = tmp_path / "r"
    bad = CliRunner().invoke(app(), ["plan", str(infeasible_plan(tmp_path)), "-o", str(out)])
    assert bad.exit_code == 1 and (out / "issues.csv").exists()
    good = CliRunner().invoke(app(), ["plan", str(feasible_plan(tmp_path)), "-o", str(out)])
    assert good.exit_code == 0, good.output
    assert not (out / "issues.csv").exists()
    assert (out / "plan.html").exists() and (out / MARKER).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]  # no temp left


def test_a_failure_mid_write_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "r"
    write_folder(out, {"a.csv": "old a", "b.csv": "old b"}, "plan")
    import planner.outdir as outdir

    real = outdir._write_file
    calls = []

    def flaky(path, content):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("No space left on device")
        real(path, content)

    monkeypatch.setattr(outdir, "_write_file", flaky)
    with pytest.raises(OSError, match="No space"):
        write_folder(out, {"a.csv": "new a", "b.csv": "new b"}, "plan")
    assert (out / "a.csv").read_text() == "old a" and (out / "b.csv").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # temp folder cleaned up


def test_a_failing_renderer_leaves_the_previous_plan_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "r"
    plan = feasible_plan(tmp_path)
    assert (
        CliRunner().invoke(app(), ["plan", str(plan), "-o", str(out), "--no-sweeps"]).exit_code == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import planner.report.write as write

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(write, "render_markdown", boom)
    res = CliRunner().invoke(app(), ["plan", str(plan), "-o", str(out)])
    assert res.exit_code == 2 and "disk full" in res.output  # one line, no traceback
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_with_user_files_is_written_file_by_file_and_keeps_them(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    files = write_folder(out, {"plan.json": "{}"}, "plan", known=["plan.json"])
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "plan.json").read_text() == "{}"
    assert files.note and "file by file" in files.note
    # capplan's own files of an earlier run are still removed when no longer written
    write_folder(out, {"plan.json": "{}", "issues.csv": "x"}, "plan")
    write_folder(out, {"plan.json": "{}"}, "plan")
    assert not (out / "issues.csv").exists() and (out / "notes.txt").exists()


def test_out_at_a_file_is_refused_before_solving(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    start = time.perf_counter()
    res = CliRunner().invoke(app(), ["plan", str(feasible_plan(tmp_path)), "-o", str(target)])
    assert res.exit_code == 2
    assert "--out" in res.output and "is a file" in res.output
    assert "Traceback" not in res.output and time.perf_counter() - start < 5
    assert target.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_at_a_read_only_folder_is_refused_before_solving(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = CliRunner().invoke(app(), ["plan", str(feasible_plan(tmp_path)), "-o", str(ro)])
        assert res.exit_code == 2 and "not writable" in res.output
    finally:
        ro.chmod(0o755)


def test_check_out_dir_refuses_a_read_only_folder(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(ro) else real(p, mode))
    with pytest.raises(ValueError, match=r"--out .*not writable"):
        check_out_dir(ro)
    with pytest.raises(ValueError, match="is a file"):
        check_out_dir(feasible_plan(tmp_path) / "sub")


# ---- sanity warnings -----------------------------------------------------------------------
def test_a_plan_of_thousands_of_gpus_gets_a_warning():
    problem = problem_from_arrays(np.array([[1.0]]), [1.0], 6000.0, [Pool("A10G", 1.0)])
    alloc = solve_problem(problem, mip_gap=0)
    assert alloc.feasible and alloc.total_gpus == 6000
    assert any(i.kind == "warning" and "6,000 GPUs" in i.message for i in alloc.issues)
    assert strict_loads(alloc.to_json())["issues"][0]["kind"] == "warning"


def test_a_rate_far_beyond_any_replica_gets_a_warning():
    problem = problem_from_arrays(np.array([[100.0]]), [1.0], 2e5, [Pool("A10G", 1.0)])
    alloc = solve_problem(problem, mip_gap=0)
    assert any("largest single-replica capacity" in i.message for i in alloc.issues)


def test_a_loose_mip_gap_is_never_labelled_optimal():
    problem = problem_from_arrays(
        np.array([[2.0, 10.0]]), [1.0], 19.0, [Pool("A10G", 1.0), Pool("H100-SXM", 3.0)]
    )
    tight = solve_problem(problem, mip_gap=0)
    assert tight.status == "optimal" and not tight.issues
    loose = solve_problem(problem, mip_gap=10)
    assert loose.status != "optimal"
    assert any("mip_gap" in i.message for i in loose.issues)
