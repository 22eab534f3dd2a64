"""The reference decoder and the validation run, at a tiny size on CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perfmodel import ModelSpec

torch = pytest.importorskip("torch")

from perfmodel.profiling.reference import DecoderDims, ReferenceDecoder  # noqa: E402
from perfmodel.profiling.validate import ValidationGrid, run_validation  # noqa: E402


def test_decoder_is_built_from_modelspec_with_its_parameter_count(tiny_config):
    spec = ModelSpec.from_hf_config(tiny_config)
    decoder = ReferenceDecoder(DecoderDims.from_spec(spec))
    weights = [decoder.embed, decoder.norm, decoder.lm_head]
    weights += [w for layer in decoder.layers for w in layer.values()]
    assert sum(w.numel() for w in weights) == spec.param_count().total


def test_decode_with_kv_cache_matches_a_full_prefill(tiny_config):
    """Causal attention: logits of token t from a cache equal those of a prefill of 0..t."""
    decoder = ReferenceDecoder(DecoderDims.from_spec(ModelSpec.from_hf_config(tiny_config)))
    tokens = torch.randint(0, 256, (2, 9))
    with torch.inference_mode():
        full = decoder.step(tokens, decoder.new_cache(2, 9), 0)
        cache = decoder.new_cache(2, 9)
        decoder.step(tokens[:, :8], cache, 0)
        incremental = decoder.step(tokens[:, 8:], cache, 8)
    assert torch.allclose(full, incremental, atol=1e-5)


def test_shipped_validation_config_is_a_100m_to_500m_llama_style_model():
    from perfmodel.profiling.shapes import validation_configs

    for path in validation_configs():
        spec = ModelSpec.from_hf_config(path)
        assert 100e6 <= spec.param_count().total <= 500e6
        DecoderDims.from_spec(spec)  # dense, gated, GQA: buildable


def test_validation_reports_every_point_and_the_error_summary(tiny_profile, tiny_config, tmp_path):
    grid = ValidationGrid((1, 2), (8, 16), (1, 2), (8, 32), max_prefill_tokens=64)
    result = run_validation(tiny_profile, tiny_config, grid, repeats=1, progress=False)
    pts = result.points
    assert len(pts) == 8 and set(pts.phase) == {"prefill", "decode"}
    assert (pts.measured_ms > 0).all()
    for name in ("ideal", "default", "calibrated"):
        err = 100 * (pts[f"{name}_ms"] - pts.measured_ms) / pts.measured_ms
        assert np.allclose(err, pts[f"err_{name}_pct"])
    # tiny kernels run far below the machine's best GEMM / copy: calibrated > ideal roofline
    assert (pts.calibrated_ms > pts.ideal_ms).all()
    summary = result.summary()
    assert summary["calibrated"]["median_abs_err_pct"] == pytest.approx(
        pts.err_calibrated_pct.abs().median()
    )
    assert json.loads(json.dumps(result.to_dict()))["threads"] == 1
    assert "| calibrated |" in result.to_markdown()
    html = result.write_html(tmp_path / "v.html")
    assert "plotly" in html.read_text()
