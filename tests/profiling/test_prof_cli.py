"""`capplan profile / validate / import-profile` (registered on a bare typer app)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from perfmodel.profiling import TORCH_MISSING
from planner.cli_profiling import register


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """capplan (test)"""

    register(app)
    return app


def test_register_adds_the_three_commands(app):
    result = CliRunner().invoke(app, ["--help"])
    for command in ("profile", "validate", "import-profile"):
        assert command in result.output


def test_missing_torch_prints_one_line_install_hint(app, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for args in (["profile", "--quick"], ["validate"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert TORCH_MISSING in " ".join(result.output.split())


def test_import_profile_writes_a_loadable_profile(app, tmp_path):
    from perfmodel.profiling import load_profile

    csv = tmp_path / "mine.csv"
    csv.write_text(
        "op,dtype,device,m,n,k,numel,time_s\n"
        "gemm,bf16,Lab CPU,64,1024,1024,,0.002\n"
        "copy,bf16,Lab CPU,,,,1048576,0.0004\n"
    )
    out = tmp_path / "prof"
    result = CliRunner().invoke(app, ["import-profile", str(csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    assert profile.provenance.device == "Lab CPU" and len(profile.table) == 2
    assert profile.to_accelerator().peak_flops("bf16") == pytest.approx(
        2 * 64 * 1024 * 1024 / 0.002
    )


def test_bad_grid_option_is_a_one_line_error(app):
    result = CliRunner().invoke(app, ["validate", "--prompts", "64,abc"])
    assert result.exit_code == 2 and "--prompts" in result.output


def test_perfmodel_and_profile_loading_work_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import perfmodel, perfmodel.profiling as p\n"
        "prof = p.load_profile('cpu-amd-epyc-1t'); acc = prof.register()\n"
        "m = perfmodel.get_model('qwen2.5-0.5b')\n"
        "est = perfmodel.estimate_step(m, acc, [(1, 128)], quant='fp32', calibration=prof)\n"
        "print(est.time_s)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) > 0
