"""Mélange-format planning instances for the solver benchmark and its tests.

Run:  python benchmarks/melange_instances.py OUT_DIR     (writes the JSON files)

Three families, each a Mélange config (``gpu_info`` with $/h and a throughput grid in req/s,
``workload_distribution``, ``total_request_rate``, ``slice_factor``) that Mélange's own solver
(github.com/tyler-griggs/melange-release, ``melange/solver.py``) reads unchanged:

- ``toy``: Mélange's ``melange/config/example.json`` (2 GPUs, 2 x 2 grid, 30 req/s, S = 1).
- ``paper-R``: shaped like the Mélange paper's Llama-2-7B study: 4 GPUs (L4, A10G, A100-80GB,
  H100) at its prices, a 10 x 6 grid of input x output sizes (60 buckets), rate R in
  1-64 req/s, slice factor 8.
- ``large``: 1,000 buckets (40 x 25) x 10 GPU types, 200 req/s, slice factor 1.

A GPU's throughput for a bucket of (input, output) tokens is 1 / (input / prefill + output /
decode) req/s from per-GPU prefill and decode token rates (seeded draws around datasheet
order: an H100 prefills ~10x an L4); a bucket whose tokens exceed the GPU's context capacity
gets Mélange's "cannot serve" value 1e-6 req/s (its solver divides by the throughput, so it
cannot take 0). The workload shares are a seeded Dirichlet draw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

NEAR_ZERO = 1e-6  # Mélange's convention for a GPU that cannot serve a bucket
PAPER_RATES = (1, 2, 4, 8, 16, 32, 64)
# (name, $/h, prefill tok/s, decode tok/s, context tokens) for the paper's 4 GPUs (Llama-2-7B)
PAPER_GPUS = (
    ("L4", 0.7, 2_500.0, 350.0, 12_000),
    ("A10G", 1.01, 3_500.0, 450.0, 12_000),
    ("A100-80GB", 3.67, 14_000.0, 1_800.0, 120_000),
    ("H100", 7.516, 28_000.0, 3_200.0, 120_000),
)
PAPER_INPUTS = (25, 100, 250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000)
PAPER_OUTPUTS = (25, 100, 250, 500, 1_000, 2_000)


def _grid(prefill, decode, context, inputs, outputs) -> np.ndarray:
    """(I, J) req/s of one GPU; NEAR_ZERO where input + output exceeds its context."""
    i, o = np.asarray(inputs, float)[:, None], np.asarray(outputs, float)[None, :]
    tput = 1.0 / (i / prefill + o / decode)
    return np.where(i + o > context, NEAR_ZERO, tput)


def _config(gpus, inputs, outputs, rate, slice_factor, seed) -> dict:
    """A Mélange config dict."""
    rng = np.random.default_rng(seed)
    dist = rng.dirichlet(np.ones(len(inputs) * len(outputs))).reshape(len(inputs), len(outputs))
    info = {
        name: {"cost": cost, "tputs": _grid(pre, dec, ctx, inputs, outputs).round(6).tolist()}
        for name, cost, pre, dec, ctx in gpus
    }
    return {
        "gpu_info": info,
        "workload_distribution": dist.tolist(),
        "total_request_rate": float(rate),
        "slice_factor": slice_factor,
    }


def paper(rate: float, seed: int = 0) -> dict:
    """The paper-shaped instance at ``rate`` req/s (60 buckets x 4 GPUs, slice factor 8)."""
    return _config(PAPER_GPUS, PAPER_INPUTS, PAPER_OUTPUTS, rate, 8, seed)


def large(seed: int = 0) -> dict:
    """1,000 buckets x 10 GPU types at 200 req/s, slice factor 1."""
    rng = np.random.default_rng(seed + 1000)
    names = ("L4", "A10G", "A10", "L40S", "A100-40GB", "A100-80GB", "H100-PCIe", "H100",
             "H200", "B200")  # fmt: skip
    speed = np.sort(rng.uniform(1.0, 12.0, len(names)))
    gpus = [
        (n, round(0.5 + 0.6 * s + rng.uniform(0, 0.4), 3), 2_500.0 * s, 350.0 * s ** 0.9,
         12_000 if s < 2 else 120_000)
        for n, s in zip(names, speed, strict=True)
    ]  # fmt: skip
    inputs = np.geomspace(16, 32_000, 40).round()
    outputs = np.geomspace(16, 4_000, 25).round()
    return _config(gpus, inputs, outputs, 200.0, 1, seed)


def toy() -> dict:
    """Mélange's own example config."""
    return json.loads((Path(__file__).parents[1] / "examples" / "melange_toy.json").read_text())


def instances(seed: int = 0) -> dict[str, dict]:
    """Every instance by label: toy, paper-1 ... paper-64, large."""
    out = {"toy": toy()}
    out |= {f"paper-{r}": paper(r, seed) for r in PAPER_RATES}
    out["large"] = large(seed)
    return out


def write(folder: str | Path, seed: int = 0) -> list[Path]:
    """Write every instance as ``<label>.json`` under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, cfg in instances(seed).items():
        path = folder / f"{label}.json"
        path.write_text(json.dumps(cfg))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else "melange-instances"):
        print(p)
