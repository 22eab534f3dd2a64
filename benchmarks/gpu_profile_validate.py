"""One device run: the full profiling suite on a GPU, then `capplan validate` of three decoders
(the 125 M validation model, Llama-3.1-8B and Llama-2-7B at full size, random weights).

    python benchmarks/gpu_profile_validate.py --out DIR [--budget 200]
    python benchmarks/gpu_profile_validate.py --out DIR --device cpu   # the same path, tiny
    python benchmarks/gpu_profile_validate.py --out DIR --validate-only h200-sxm  # more decoders

Writes DIR/profile/{profile.csv,provenance.yaml} first (so a later failure keeps it), then
DIR/validation-<model>.json (`capplan validate --measured` reads it back) and DIR/summary.md
(machine, stage times, error summaries).
The suite measures bf16 first and stops at ``--budget`` seconds (untimed cases are counted in
the provenance notes). On a CPU it runs the quick plan and a tiny grid, to test the script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from perfmodel.profiling import load_profile, run_suite, run_validation
from perfmodel.profiling.validate import ValidationGrid

CONFIGS = Path(__file__).resolve().parents[1] / "perfmodel" / "configs"

#: (config or None for the shipped validation model, GPU grid)
GPU_RUNS = (
    (
        None,
        ValidationGrid(
            prefill_batches=(1, 8),
            prompts=(128, 1024, 4096),
            decode_batches=(1, 16, 64, 256),
            contexts=(512, 4096, 16384),
            max_prefill_tokens=8192,
            max_kv_bytes=20e9,
        ),
    ),
    (
        CONFIGS / "llama-3.1-8b.json",
        ValidationGrid(
            prefill_batches=(1, 2, 4, 8, 16),
            prompts=(128, 512, 2048, 8192),
            decode_batches=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            contexts=(512, 2048, 8192, 32768),
            max_prefill_tokens=32768,
            max_kv_bytes=60e9,
        ),
    ),
    (
        CONFIGS / "llama-2-7b.json",
        ValidationGrid(
            prefill_batches=(1, 4, 16),
            prompts=(256, 1024, 4096),
            decode_batches=(1, 4, 16, 64, 256),
            contexts=(512, 2048, 4096),
            max_prefill_tokens=16384,
            max_kv_bytes=60e9,
        ),
    ),
)
#: More decoders for `--validate-only` (a profile already measured): other head shapes
#: (Qwen2.5-7B: 28 query / 4 KV heads, 152 k vocabulary; Llama-2-13B: 40 heads, MHA).
EXTRA_RUNS = tuple(
    (
        CONFIGS / f"{name}.json",
        ValidationGrid(
            prefill_batches=(1, 4, 16),
            prompts=(256, 1024, 4096),
            decode_batches=(1, 4, 16, 64, 256),
            contexts=contexts,
            max_prefill_tokens=16384,
            max_kv_bytes=60e9,
        ),
    )
    for name, contexts in (("qwen2.5-7b", (512, 2048, 8192)), ("llama-2-13b", (512, 1024, 4000)))
)
CPU_RUNS = (
    (
        None,
        ValidationGrid(prefill_batches=(1,), prompts=(32,), decode_batches=(1, 4), contexts=(64,)),
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for everything written")
    parser.add_argument("--budget", type=float, default=200.0, help="suite time budget (s)")
    parser.add_argument("--device", default="cuda", help="cuda (the device run) or cpu (a test)")
    parser.add_argument(
        "--validate-only", metavar="PROFILE", default=None,
        help="skip the suite: validate Qwen2.5-7B and Mistral-7B against this profile",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    on_gpu = args.device != "cpu"

    lines = [f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"]
    if args.validate_only:
        profile, runs = load_profile(args.validate_only), EXTRA_RUNS if on_gpu else CPU_RUNS
    else:
        profile, runs = _suite(args, on_gpu, lines), GPU_RUNS if on_gpu else CPU_RUNS
    for config, grid in runs:
        t1 = time.perf_counter()
        result = run_validation(profile, config, grid, repeats=3, progress=False)
        (args.out / f"validation-{result.model}.json").write_text(
            json.dumps(result.to_dict(), indent=1, default=str)
        )
        lines.append(f"- validate {result.model}: {time.perf_counter() - t1:.0f} s")
        lines += [f"  - {name}: {json.dumps(s)}" for name, s in result.summary().items()]
        _write(args.out / "summary.md", lines)
    print("\n".join(lines))


def _suite(args, on_gpu: bool, lines: list[str]):
    """Run and save the suite; its summary lines go into ``lines`` and summary.md."""
    t0 = time.perf_counter()
    profile = run_suite(
        quick=not on_gpu, device=args.device, threads=None if on_gpu else 1,
        progress=False, budget_s=args.budget,
    )  # fmt: skip
    profile.save(args.out / "profile")
    prov = profile.provenance
    lines += [
        f"- device: {prov.device} ({prov.accelerator}), driver {prov.driver}, "
        f"torch {prov.torch_version}, CUDA {prov.cuda_version}, clocks {prov.clocks_mhz}",
        f"- suite: {len(profile.table)} cases in {time.perf_counter() - t0:.0f} s",
        *(f"  - note: {note}" for note in prov.notes),
        f"- measured ceilings: {_ceilings(profile)}",
    ]
    _write(args.out / "summary.md", lines)
    return profile


def _ceilings(profile) -> str:
    """Best measured GEMM TFLOP/s per dtype and the STREAM bandwidth, from the profile."""
    acc = profile.to_accelerator()
    peaks = ", ".join(f"{k} {v:.4g}" for k, v in sorted(acc.peak_tflops.items()))
    return f"GEMM TFLOP/s {peaks}; memory {acc.hbm_gb_s:.0f} GB/s"


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
