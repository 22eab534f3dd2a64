"""Leave-one-GPU-out check of the learned efficiency curves (perfmodel.profiling.learned).

    python benchmarks/learned_logo.py [--profiles NAME ...] [--dtype bf16]

For each profile, curves are learned from the others and predict its measured kernels (time =
its catalog roofline / learned efficiency); the same rows under the documented DEFAULT
constants are the baseline. Table: per held-out GPU and op class, rows and median |predicted /
measured − 1| for the learned curve and for the defaults, and the learned curve's median
signed error (+ = predicted slower).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from perfmodel import DEFAULT
from perfmodel.profiling import load_profile
from perfmodel.profiling.calibrate import Roofline, predicted_times
from perfmodel.profiling.learned import CLASSES, DEFAULT_PROFILES, LearnedCalibration


def errors(calibration, profile, op_class: str, dtype: str) -> np.ndarray:
    """predicted / measured − 1 of the profile's rows of one class and dtype."""
    rows = profile.table.query("op_class == @op_class and dtype == @dtype")
    roofline = Roofline.of(profile.reference)
    return predicted_times(calibration, roofline, rows) / rows.time_s.to_numpy(float) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=list(DEFAULT_PROFILES))
    parser.add_argument("--dtype", default="bf16")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profiles = {name: load_profile(name) for name in args.profiles}
    print("| held-out GPU | op class | rows | learned: median abs err % | signed % | "
          "default: median abs err % |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, target in profiles.items():
        others = [p for n, p in profiles.items() if n != name]
        learned = LearnedCalibration.fit(others).for_hardware(target.reference)
        for op_class in CLASSES:
            err = errors(learned, target, op_class, args.dtype)
            if not len(err):
                continue
            base = errors(DEFAULT, target, op_class, args.dtype)
            print(f"| {target.reference.name} | {op_class} | {len(err)} | "
                  f"{100 * np.median(np.abs(err)):.1f} | {100 * np.median(err):+.1f} | "
                  f"{100 * np.median(np.abs(base)):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
