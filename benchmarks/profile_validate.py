"""Acceptance run of the profiling suite on this machine: `capplan profile --quick` then
`capplan validate`, timed, printed as the markdown that docs/validation.md quotes.

    python benchmarks/profile_validate.py [--out DIR] [--threads 1] [--html validate.html]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

from perfmodel.profiling import run_suite, run_validation
from perfmodel.profiling.provenance import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="capplan-profile", help="profile directory to write")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch default)")
    parser.add_argument("--html", default=None, help="write the plotly chart here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    profile = run_suite(quick=True, threads=args.threads or None, progress=False)
    profile.save(args.out)
    t1 = time.perf_counter()
    result = run_validation(profile, progress=False)
    t2 = time.perf_counter()
    if args.html:
        result.write_html(args.html)

    prov = profile.provenance
    print(f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- machine: {cpu_model()} ({platform.machine()}), {prov.threads} thread(s) used, "
          f"torch {prov.torch_version}")  # fmt: skip
    print(f"- derived accelerator: {result.hardware}")
    print(f"- profile --quick: {t1 - t0:.0f} s; validate: {t2 - t1:.0f} s; total {t2 - t0:.0f} s")
    print()
    print(result.to_markdown())


if __name__ == "__main__":
    main()
