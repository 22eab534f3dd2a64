"""Validation: time the reference decoder over a (phase, batch, context) grid and compare with
perfmodel's estimate of the same steps under the ideal, default and calibrated models.
The decoder runs where the profile was measured (CPU or CUDA).

error % = 100 · (predicted − measured) / measured per point; the summary gives the median and
mean absolute error and the worst point of each model. The hardware of every prediction is the
profile's reference accelerator: for a CPU the Accelerator derived from the profile (achieved
peaks), so "ideal" is the pure roofline of the measured machine; for a GPU its catalog entry.
"default" is perfmodel's documented GPU efficiencies, "calibrated" the profile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.shapes import validation_configs

MODELS = ("ideal", "default", "calibrated")


@dataclass(frozen=True)
class ValidationGrid:
    """Points to time: prefill (batch × prompt length) and decode (batch × context length).

    Points whose prefill tokens exceed ``max_prefill_tokens`` or whose KV cache exceeds
    ``max_kv_bytes`` are dropped (they would take too long / too much memory on a CPU).
    """

    prefill_batches: tuple[int, ...] = (1, 4)
    prompts: tuple[int, ...] = (64, 256, 1024)
    decode_batches: tuple[int, ...] = (1, 8, 32)
    contexts: tuple[int, ...] = (128, 1024, 4096)
    max_prefill_tokens: int = 1024
    max_kv_bytes: float = 1.0e9

    def points(self, kv_bytes_per_token: float) -> list[tuple[str, int, int]]:
        """(phase, batch, context) triples; for prefill 'context' is the prompt length."""
        pre = [("prefill", b, p) for b in self.prefill_batches for p in self.prompts
               if b * p <= self.max_prefill_tokens]  # fmt: skip
        dec = [("decode", b, c) for b in self.decode_batches for c in self.contexts
               if b * (c + 1) * kv_bytes_per_token <= self.max_kv_bytes]  # fmt: skip
        return pre + dec


@dataclass(frozen=True)
class ValidationResult:
    """Per-point measured and predicted step times, with the error summary."""

    model: str
    hardware: str
    profile: str
    threads: int
    points: pd.DataFrame = field(repr=False)
    dtype: str = "fp32"

    def summary(self) -> dict[str, dict[str, Any]]:
        """Median / mean absolute % error and the worst point, per prediction model."""
        out = {}
        for name in MODELS:
            err = self.points[f"err_{name}_pct"]
            worst = int(err.abs().idxmax())
            row = self.points.loc[worst]
            out[name] = {
                "median_abs_err_pct": float(err.abs().median()),
                "mean_abs_err_pct": float(err.abs().mean()),
                "worst_err_pct": float(err.loc[worst]),
                "worst_point": f"{row['phase']} b={row['batch']} ctx={row['context']}",
            }
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.points.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hardware": self.hardware,
            "profile": self.profile,
            "threads": self.threads,
            "dtype": self.dtype,
            "summary": self.summary(),
            "points": self.points.to_dict(orient="records"),
        }

    def to_markdown(self) -> str:
        """The per-point table and the summary as GitHub markdown."""
        cols = ["phase", "batch", "context", "measured_ms", *(f"{m}_ms" for m in MODELS),
                *(f"err_{m}_pct" for m in MODELS)]  # fmt: skip
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in self.points[cols].itertuples(index=False):
            lines.append(
                "| " + " | ".join(_fmt(c, v) for c, v in zip(cols, row, strict=True)) + " |"
            )
        lines += ["", "| model | median abs err % | mean abs err % | worst err % | worst point |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for name, s in self.summary().items():
            cells = (name, f"{s['median_abs_err_pct']:.1f}", f"{s['mean_abs_err_pct']:.1f}",
                     f"{s['worst_err_pct']:+.1f}", s["worst_point"])  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write_html(self, path: str | Path) -> Path:
        """A plotly chart (measured vs predicted step time per point) as a standalone HTML."""
        import plotly.graph_objects as go

        pts = self.points
        labels = [
            f"{p} b={b} ctx={c}" for p, b, c in zip(pts.phase, pts.batch, pts.context, strict=True)
        ]
        fig = go.Figure()
        fig.add_bar(name="measured", x=labels, y=pts.measured_ms)
        for name in MODELS:
            fig.add_scatter(name=name, x=labels, y=pts[f"{name}_ms"], mode="markers+lines")
        title = f"{self.model} on {self.hardware} ({self.threads} threads): step time"
        fig.update_layout(title=title, yaxis_title="ms per step (log)", yaxis_type="log")
        path = Path(path)
        fig.write_html(path, include_plotlyjs="cdn")
        return path


def _fmt(column: str, value: Any) -> str:
    """Errors with a sign and one decimal, times with 4 significant digits."""
    if column.endswith("_pct"):
        return f"{value:+.1f}"
    if column.endswith("_ms"):
        return f"{value:.4g}"
    return str(value)


def default_config() -> Path:
    """The first shipped validation config (configs/validate-*.json)."""
    configs = validation_configs()
    if not configs:
        raise FileNotFoundError("no configs/validate-*.json shipped with perfmodel.profiling")
    return configs[0]


def run_validation(
    profile: Profile,
    config: str | Path | None = None,
    grid: ValidationGrid | None = None,
    repeats: int = 3,
    dtype: str | None = None,
    progress: bool = True,
) -> ValidationResult:
    """Time the reference decoder built from ``config`` over ``grid`` on the profile's device
    (CPU: with its thread count, fp32 by default; CUDA: bf16 by default) and compare with
    perfmodel on the profile's reference accelerator (a CPU's derived one is registered)."""
    from perfmodel import ModelSpec, Quant
    from perfmodel.profiling._torch import require_torch

    torch = require_torch()
    on_gpu = profile.provenance.device_type == "cuda"
    if not on_gpu:
        torch.set_num_threads(profile.provenance.threads or torch.get_num_threads())
        profile.register()
    dtype = dtype or ("bf16" if on_gpu else "fp32")
    spec = ModelSpec.from_hf_config(config or default_config())
    accelerator = profile.reference
    quant = Quant(dtype, dtype, dtype)
    kv_token = spec.num_layers * spec.kv_elements_per_token() * quant.bytes_kv
    points = (grid or ValidationGrid()).points(kv_token)
    device = "cuda" if on_gpu else "cpu"
    measured = measure_points(spec, points, dtype, repeats, progress, device)
    frame = pd.DataFrame(
        [{"phase": ph, "batch": b, "context": c, "measured_ms": t * 1e3}
         for (ph, b, c), t in zip(points, measured, strict=True)]
    )  # fmt: skip
    frame = compare(spec, accelerator, profile, frame, dtype)
    threads = torch.get_num_threads()
    return ValidationResult(spec.name, accelerator.name, profile.name, threads, frame, dtype)


def compare(spec, accelerator, profile, measured: pd.DataFrame, dtype: str) -> pd.DataFrame:
    """Measured points (phase, batch, context, measured_ms) with each model's prediction and
    its error % = 100 · (predicted − measured) / measured."""
    from perfmodel import Quant

    quant = Quant(dtype, dtype, dtype)
    frame = measured[["phase", "batch", "context", "measured_ms"]].reset_index(drop=True)
    predicted = [
        predict(spec, accelerator, ph, int(b), int(c), quant, profile)
        for ph, b, c in zip(frame.phase, frame.batch, frame.context, strict=True)
    ]
    frame = pd.concat([frame, pd.DataFrame(predicted)], axis=1)
    for name in MODELS:
        frame[f"err_{name}_pct"] = (
            100 * (frame[f"{name}_ms"] - frame.measured_ms) / frame.measured_ms
        )
    return frame


def revalidate(path: str | Path, profile: Profile, config: str | Path | None = None):
    """A stored validation (the JSON that `ValidationResult.to_dict` writes) predicted again
    with ``profile`` and today's perfmodel: the measured decoder times are data, so a change
    of the model is checked against a GPU run without the GPU. ``config``: the decoder's HF
    config (default: the bundled model of the stored name, else the shipped validation one)."""
    from perfmodel import ModelSpec

    stored = _read_stored(Path(path))
    name = stored["model"]
    spec = ModelSpec.from_hf_config(config) if config else spec_named(name)
    dtype = stored.get("dtype") or ("bf16" if profile.provenance.device_type == "cuda" else "fp32")
    frame = compare(spec, profile.reference, profile, pd.DataFrame(stored["points"]), dtype)
    threads = int(stored.get("threads", 0))
    return ValidationResult(name, profile.reference.name, profile.name, threads, frame, dtype)


def _read_stored(path: Path) -> dict[str, Any]:
    """A stored validation's JSON, checked for the fields `revalidate` needs."""
    try:
        stored = json.loads(path.read_text())
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the stored validation ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    points = stored.get("points") if isinstance(stored, dict) else None
    needed = {"phase", "batch", "context", "measured_ms"}
    if not isinstance(points, list) or not points or not isinstance(stored.get("model"), str):
        raise ProfileError(
            f"{path}: expected the JSON of `capplan validate --format json` "
            "(a 'model' name and a non-empty 'points' list)"
        )
    for i, point in enumerate(points):
        missing = needed - set(point) if isinstance(point, dict) else needed
        if missing:
            raise ProfileError(f"{path}: points[{i}] lacks {', '.join(sorted(missing))}")
        if not (isinstance(point["measured_ms"], int | float) and point["measured_ms"] > 0):
            raise ProfileError(f"{path}: points[{i}].measured_ms must be a time > 0 (ms)")
    return stored


def spec_named(name: str):
    """The ModelSpec of a shipped validation config (configs/validate-*.json) or bundled
    model called ``name``."""
    from perfmodel import ModelSpec, get_model

    for path in validation_configs():
        spec = ModelSpec.from_hf_config(path)
        if spec.name == name:
            return spec
    return get_model(name)


def predict(
    spec, accelerator, phase: str, batch: int, context: int, quant, profile
) -> dict[str, float]:
    """perfmodel's step time (ms) of one point under each prediction model. The reference
    decoder runs any length (random weights, RoPE extrapolates), so a measured point beyond
    the model's context is predicted with the limit lifted to it, not refused."""
    import dataclasses

    from perfmodel import estimate_step

    need = context + 1
    if need > spec.max_position_embeddings:
        spec = dataclasses.replace(spec, max_position_embeddings=need)
    seqs = [(context, 0)] * batch if phase == "prefill" else [(1, context)] * batch
    calibrations = {"ideal": "ideal", "default": "default", "calibrated": profile}
    return {
        f"{name}_ms": estimate_step(spec, accelerator, seqs, quant=quant, calibration=cal).time_s
        * 1e3
        for name, cal in calibrations.items()
    }


def measure_points(
    spec,
    points: list[tuple[str, int, int]],
    dtype: str,
    repeats: int,
    progress: bool,
    device: str = "cpu",
) -> list[float]:
    """Median time (s) of one reference-decoder step at every point (after one warm-up)."""
    from rich.progress import Progress

    from perfmodel.profiling._torch import require_torch
    from perfmodel.profiling.reference import DecoderDims, ReferenceDecoder
    from perfmodel.profiling.timing import TimingPolicy, time_kernel

    torch = require_torch()
    decoder = ReferenceDecoder(DecoderDims.from_spec(spec), dtype=dtype, device=device)
    policy = TimingPolicy(warmup=1, min_repeats=repeats, max_repeats=repeats)
    times = []
    with torch.inference_mode(), Progress(disable=not progress) as bar:
        task = bar.add_task("validating", total=len(points))
        for phase, batch, context in points:
            step = _step(torch, decoder, phase, batch, context)
            times.append(time_kernel(step, decoder.device, policy).median_s)
            del step
            bar.advance(task)
    return times


def _step(torch: Any, decoder, phase: str, batch: int, context: int):
    """A zero-argument callable running one step of the point (cache allocated once)."""
    vocab, device = decoder.dims.vocab, decoder.device
    if phase == "prefill":
        tokens = torch.randint(0, vocab, (batch, context), device=device)
        cache = decoder.new_cache(batch, context)
        return lambda: decoder.step(tokens, cache, 0)
    tokens = torch.randint(0, vocab, (batch, 1), device=device)
    cache = decoder.new_cache(batch, context + 1)
    return lambda: decoder.step(tokens, cache, context)
