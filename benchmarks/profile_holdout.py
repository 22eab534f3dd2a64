"""How well a profile predicts a decoder whose kernel shapes it never measured.

    python benchmarks/profile_holdout.py [--profile h200-sxm]

For every stored validation beside a shipped profile (validation-<model>.json, measured
decoder step times), the profile is cut down to the rows of *other* shapes: every GEMM with one
of the decoder's (n, k) and every attention row of its head shape is dropped (whichever model
they were measured for), and the measured steps are predicted again. The full profile's error
says how well measured kernels compose into a step; the held-out error says how well the
calibration interpolates to shapes it has not seen, as for a model outside the suite's list.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from perfmodel import ModelSpec
from perfmodel.profiling import Profile, load_profile
from perfmodel.profiling.shapes import head_shape, projection_shapes
from perfmodel.profiling.store import PROFILES_DIR
from perfmodel.profiling.validate import revalidate, spec_named


def held_out(profile: Profile, spec: ModelSpec) -> Profile:
    """``profile`` without the GEMM (n, k) and attention head shapes of ``spec`` at tp 1."""
    table = profile.table
    gemms = set(projection_shapes(spec, 1))
    heads = head_shape(spec, 1)
    pairs = np.array([(n, k) in gemms for n, k in zip(table.n, table.k)], dtype=bool)
    same_gemm = (table.op == "gemm").to_numpy() & pairs
    h, h_kv, d = heads or (-1, -1, -1)  # MLA: no head shape to hold out
    same_head = (
        table.op.str.startswith("attn")
        & (table.heads == h)
        & (table.kv_heads == h_kv)
        & (table.head_dim == d)
    ).to_numpy()
    return Profile(table[~(same_gemm | same_head)], profile.provenance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="h200-sxm", help="shipped profile name")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile = load_profile(args.profile)
    if profile.provenance.device_type == "cpu":
        profile.register()
    cols = ("decoder", "points", "rows held out", "full: median / worst %",
            "held out: median / worst %")  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|---|---|---|---|---|")
    for path in sorted((PROFILES_DIR / args.profile).glob("validation-*.json")):
        full = revalidate(path, profile)
        spec = spec_named(full.model)
        cut = held_out(profile, spec)
        rest = revalidate(path, cut)
        dropped = len(profile.table) - len(cut.table)
        print(f"| {full.model} | {len(full.points)} | {dropped} | {_cell(full)} | {_cell(rest)} |")


def _cell(result) -> str:
    err = result.points["err_calibrated_pct"]
    worst = err.loc[err.abs().idxmax()]
    return f"{np.median(err.abs()):.1f} / {worst:+.1f}"


if __name__ == "__main__":
    main()
