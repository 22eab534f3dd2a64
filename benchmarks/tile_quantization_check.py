"""Would tile / wave quantization improve the measured GEMM curves? In-table checks only.

    python benchmarks/tile_quantization_check.py           # cross-source H200 + A100 m = 192
    python benchmarks/tile_quantization_check.py --logo    # + leave-(n, k)-out, H100 and B200

A GEMM (m, n, k) computed in output tiles tm × tn on S SMs launches T = ceil(m/tm)·ceil(n/tn)
tiles in ceil(T/S) waves; its useful share is q = m·n / (slots·tm·tn), slots = T (tile
quantization) or ceil(T/S)·S (tile and wave quantization; from one full wave on only, T ≥ S,
in the variant where split-K fills a partial first wave; NVIDIA, *Matrix Multiplication
Background User's Guide*, "Tile Quantization", "Wave Quantization"). It slows the compute
side of the roofline only: roof_q = max(flops / (peak·q), bytes / bandwidth), share = roof /
roof_q. Each variant divides every measured GEMM's efficiency by its share before the
(log intensity, log bytes) curve is built (`perfmodel.profiling.calibrate`) and multiplies a
predicted shape's efficiency by its own share; ``none`` is the shipped calibration.

Checks (bf16 GEMMs; median |predicted / measured − 1|, median signed, p90; + = slow):

- ``cross``: AIConfigurator's H200 tables predict the suite's own H200 GEMMs (torch
  ``F.linear``), which include ragged n (2736, 5472, 10944, ..., and 192–704), split by
  ragged n ≥ 1024 and < 1024 among compute-bound rows;
- ``m192``: the A100 table's m = 192 rows (1.5 tiles of 128 rows) held out and predicted
  from the rest;
- ``logo`` (``--logo``; 3.8 min in all on a 2-vCPU Xeon): 5-fold leave-(n, k)-out within
  the H100 and B200 tables.

The external points (docs/data/external/) are not read here: nothing is chosen on them.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from perfmodel.profiling import load_profile
from perfmodel.profiling.calibrate import Roofline, clip, measured_efficiency
from perfmodel.profiling.interpolate import plane_curve

#: SMs per GPU: H100 SXM5 and H200 132 (NVIDIA H100 Tensor Core GPU Architecture
#: whitepaper; the H200 is the same GH100 configuration), B200 148 (CUDA's
#: multiProcessorCount as reported for B200s; no datasheet states it), A100 108 (NVIDIA A100
#: Tensor Core GPU Architecture whitepaper).
SMS = {"H100-SXM": 132, "H200-SXM": 132, "B200": 148, "A100-SXM4-80GB": 108}
#: name → (tile (tm, tn), waves). tm = 1: the m dimension is not quantized. Waves: "all"
#: counts ceil(T/S) waves; "full" only from one full wave on (T ≥ S; below it split-K /
#: stream-K kernels spread the k dimension over the idle SMs), else tile quantization only.
VARIANTS = {
    "none": None,
    "n in 128s": ((1, 128), ""),
    "128x128 tiles": ((128, 128), ""),
    "128x128 tiles + waves (T ≥ S)": ((128, 128), "full"),
    "128x128 tiles + waves": ((128, 128), "all"),
}


def shares(rows, profile, variant) -> np.ndarray:
    """roof / roof_q of every GEMM row under ``variant`` (1 for ``none``)."""
    if variant is None:
        return np.ones(len(rows))
    (tm, tn), waves = variant
    acc = profile.reference
    peak, bandwidth = acc.peak_flops("bf16"), acc.mem_bandwidth
    m, n = rows["m"].to_numpy(float), rows["n"].to_numpy(float)
    slots = np.ceil(m / tm) * np.ceil(n / tn)
    if waves:
        sms = SMS[acc.name]
        waved = np.ceil(slots / sms) * sms
        slots = waved if waves == "all" else np.where(slots >= sms, waved, slots)
    q = m * n / (slots * tm * tn)
    compute = rows["flops"].to_numpy(float) / peak
    memory = rows["bytes"].to_numpy(float) / bandwidth
    return np.maximum(compute, memory) / np.maximum(compute / q, memory)


def gemms(profile):
    table = profile.table
    return table[(table.op == "gemm") & (table.dtype == "bf16")].reset_index(drop=True)


def predict(train_profile, train, test_profile, test, variant) -> np.ndarray:
    """Times of ``test`` rows from the curve of ``train`` rows, de- and re-quantized."""
    eff = measured_efficiency(train, Roofline.of(train_profile.reference))
    eff = eff / shares(train, train_profile, variant)
    curve = plane_curve(train.flops.to_numpy(float), train.bytes.to_numpy(float), eff)
    at = curve(test.flops.to_numpy(float), test.bytes.to_numpy(float))
    at = clip(at) * shares(test, test_profile, variant)
    return Roofline.of(test_profile.reference).time(test) / at


def summary(err: np.ndarray) -> str:
    if not len(err):
        return "–"
    e = 100 * err
    return f"{np.median(np.abs(e)):.1f} / {np.median(e):+.1f} / {np.percentile(np.abs(e), 90):.1f}"


def compute_bound(rows, profile) -> np.ndarray:
    acc = profile.reference
    return (rows.flops / acc.peak_flops("bf16") > rows.bytes / acc.mem_bandwidth).to_numpy()


def cross() -> None:
    aic, suite = load_profile("h200-sxm-aic-vllm"), load_profile("h200-sxm")
    train, test = gemms(aic), gemms(suite)
    ragged = (test.n % 128 != 0).to_numpy() & compute_bound(test, suite)
    wide = (test.n >= 1024).to_numpy()
    print(f"AIConfigurator H200 predicting the suite's H200 bf16 GEMMs ({len(test)} rows; "
          "median abs / signed / p90 %)\n")  # fmt: skip
    print("| variant | all | ragged n ≥ 1024, compute-bound | ragged n < 1024, compute-bound |")
    print("|---|---|---|---|")
    for name, variant in VARIANTS.items():
        err = predict(aic, train, suite, test, variant) / test.time_s.to_numpy() - 1
        print(f"| {name} | {summary(err)} ({len(err)}) | {summary(err[ragged & wide])} "
              f"({(ragged & wide).sum()}) | {summary(err[ragged & ~wide])} "
              f"({(ragged & ~wide).sum()}) |")  # fmt: skip


def m192() -> None:
    profile = load_profile("a100-sxm4-80gb-aic-vllm")
    rows = gemms(profile)
    held = (rows.m == 192).to_numpy()
    bound = compute_bound(rows[held], profile)
    print(f"\nA100 table, m = 192 held out ({held.sum()} rows, {bound.sum()} compute-bound)\n")
    print("| variant | all | compute-bound |")
    print("|---|---|---|")
    for name, variant in VARIANTS.items():
        pred = predict(profile, rows[~held], profile, rows[held], variant)
        err = pred / rows[held].time_s.to_numpy() - 1
        print(f"| {name} | {summary(err)} | {summary(err[bound])} |")


def logo(names: list[str], folds: int = 5) -> None:
    print(f"\nLeave-(n, k)-out within the table, {folds} folds (bf16 GEMMs)\n")
    print("| table | variant | all | m ≥ 1024 |")
    print("|---|---|---|---|")
    for name in names:
        profile = load_profile(name)
        rows = gemms(profile)
        keys = rows.n.astype(str) + "x" + rows.k.astype(str)
        groups = np.array(sorted(keys.unique()))
        np.random.default_rng(0).shuffle(groups)
        fold = keys.map({g: i % folds for i, g in enumerate(groups)}).to_numpy()
        large = (rows.m >= 1024).to_numpy()
        for label, variant in VARIANTS.items():
            pred = np.empty(len(rows))
            for i in range(folds):
                held = fold == i
                pred[held] = predict(profile, rows[~held], profile, rows[held], variant)
            err = pred / rows.time_s.to_numpy() - 1
            print(f"| {name} | {label} | {summary(err)} | {summary(err[large])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logo", action="store_true", help="also leave-(n, k)-out (slow)")
    parser.add_argument("--profiles", nargs="+", default=["h100-sxm-aic-vllm", "b200-aic-vllm"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    cross()
    m192()
    if args.logo:
        logo(args.profiles)


if __name__ == "__main__":
    main()
