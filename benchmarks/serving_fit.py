"""Fit the shipped engine profiles to the bundled measurements, and check them by leaving
one source out.

    python benchmarks/serving_fit.py [--loso] [--write] [--markdown] [--jobs 2]
    python benchmarks/serving_fit.py --unfitted | --shipped | --saved

--loso      every source predicted from a fit on the others (planner.fit.loso): the table per
            point, the summary per metric class, the 80% bands and their nested coverage;
            the per-point table is saved to docs/data/serving-fit-loso.csv.
--cache     folder of the finished LOSO folds (default build/loso-folds): a stopped run
            resumes from them; they are keyed on the data and code, so a change starts afresh.
--write     fit on every row and write the host terms, GPU-time scales and the fit's
            provenance into hardware_specs/data/engines/*.yaml, and the LOSO bands into
            planner/fit/data/bands.yaml (from this run's --loso, else from the saved table).
Fits start from the profiles with their host terms at zero, so a held-out source never
leaks into its own prediction through the shipped values.
"""

from __future__ import annotations

import argparse
import datetime
import re
import time
import warnings
from pathlib import Path

import pandas as pd
import yaml

from hardware_specs.engines import ENGINE_DIR, Host, engines
from planner.fit.fit import fit
from planner.fit.loso import Loso, bands_of, leave_one_source_out, nested_coverage
from planner.fit.records import DATA, bundled
from planner.fit.validate import metric_class, summarize, validate_serving

ROOT = Path(__file__).resolve().parents[1]
BANDS = DATA.parent / "bands.yaml"
LOSO_CSV = ROOT / "docs" / "data" / "serving-fit-loso.csv"
FOLDS = ROOT / "build" / "loso-folds"


def priors() -> dict:
    """The bundled profiles with their host terms at zero and no GPU-time scales."""
    return {n: p.model_copy(update={"host": Host(), "gpu_time_scale": {}})
            for n, p in engines().items()}  # fmt: skip


def flow(data) -> str:
    return yaml.safe_dump(data, default_flow_style=True, width=10**6).strip()


def write_host(name: str, host: Host, fit_info: dict, scales: dict) -> None:
    """Replace the one-line ``host:``, ``gpu_time_scale:`` and ``fit:`` entries of a bundled
    engine YAML (the GPU-time scales are shared by every engine)."""
    path = ENGINE_DIR / f"{name}.yaml"
    text = path.read_text()
    h = {k: float(f"{v:.4g}") for k, v in host.model_dump().items()}
    text = re.sub(r"^host: .*$", "host: " + flow(h), text, flags=re.M)
    text = re.sub(r"^(fit|gpu_time_scale): .*\n", "", text, flags=re.M)
    if scales:
        text += "gpu_time_scale: " + flow({k: round(v, 4) for k, v in scales.items()}) + "\n"
    text += "fit: " + flow(fit_info) + "\n"
    path.write_text(text)


def groupings(table: pd.DataFrame) -> None:
    """Median |ratio - 1| and median ratio by source, engine and class; by engine; by GPU."""
    t = table.assign(err=(table.ratio - 1).abs(), cls=table.metric.map(metric_class))
    for keys in (["source", "engine", "cls"], ["engine"], ["hardware"]):
        agg = t.groupby(keys).agg(points=("err", "size"), median_abs_error=("err", "median"),
                                  median_ratio=("ratio", "median"))  # fmt: skip
        print(agg.to_markdown(floatfmt=".3g"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loso", action="store_true")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the LOSO folds")
    ap.add_argument("--cache", type=Path, default=FOLDS, help="folder of finished LOSO folds")
    ap.add_argument("--no-gpu-scale", action="store_true", help="fit host terms only")
    ap.add_argument(
        "--unfitted", action="store_true", help="predict every row with the unfitted priors only"
    )
    ap.add_argument(
        "--shipped",
        action="store_true",
        help="predict every row with the shipped (fitted) profiles: in-sample",
    )
    ap.add_argument("--saved", action="store_true",
                    help="the groupings of the saved LOSO table, without fitting")  # fmt: skip
    args = ap.parse_args()
    scale = not args.no_gpu_scale
    warnings.simplefilter("ignore")
    pd.set_option("display.width", 200)
    rows = bundled()
    if args.unfitted or args.shipped:
        val = validate_serving(rows, priors() if args.unfitted else None)
        what = "unfitted priors (limits and graphs only)" if args.unfitted else "shipped"
        print(f"{len(val.table)} rows predicted with the {what} profiles:")
        print(val.summary.to_markdown(index=False, floatfmt=".3g"))
        groupings(val.table)
        return
    if args.saved:
        groupings(pd.read_csv(LOSO_CSV))
        return
    start = time.perf_counter()
    full = fit(rows, engines=priors(), fit_scale=scale)
    print(f"{len(rows)} rows, {len({r.source for r in rows})} sources; full fit "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    for name, p in full.profiles.items():
        h = p.host
        print(f"  {name}: {h.step_s * 1e3:.3g} ms/step + {h.per_seq_s * 1e6:.3g} us/seq + "
              f"{h.per_token_s * 1e6:.3g} us/token")  # fmt: skip
    print(f"  GPU-time scales: {full.scales or 'not fitted'}")
    print(f"  at bound: {full.at_bound or 'none'}; not fitted: {full.unfitted or 'none'}")
    print("in-sample (every row in the fit):")
    print(summarize(full.table).to_markdown(index=False, floatfmt=".3g"))
    loso = None
    if args.loso:
        loso = leave_one_source_out(
            rows, priors(), fit_scale=scale, jobs=args.jobs, cache=args.cache
        )
        LOSO_CSV.parent.mkdir(parents=True, exist_ok=True)
        loso.table.to_csv(LOSO_CSV, index=False, float_format="%.5g")
        print(loso.summary.to_markdown(index=False, floatfmt=".3g"))
        print("bands (ratio p10, p90):", loso.bands, "nested coverage:", loso.coverage)
        groupings(loso.table)
        if args.markdown:
            cols = ["source", "engine", "model", "hardware", "tp", "load", "load_value",
                    "metric", "measured", "predicted", "ratio"]  # fmt: skip
            print(loso.table[cols].to_markdown(index=False, floatfmt=".4g"))
    if args.write:
        today = datetime.date.today().isoformat()
        for name, p in full.profiles.items():
            sub = full.table[full.table.engine == name]
            if name in full.unfitted:  # the prior host terms stay; the GPU scales apply
                info = {"not_fitted": full.unfitted[name], "date": today,
                        "command": "python benchmarks/serving_fit.py --loso --write"}  # fmt: skip
                write_host(name, p.host, info, full.scales)
                continue
            info = {"rows": len(sub), "sources": sorted(sub.source.unique()), "date": today,
                    "median_abs_error": round(float((sub.ratio - 1).abs().median()), 4),
                    "command": "python benchmarks/serving_fit.py --loso --write"}  # fmt: skip
            write_host(name, p.host, info, full.scales)
        if loso is None and LOSO_CSV.exists():  # the bands of the last --loso run
            table = pd.read_csv(LOSO_CSV)
            loso = Loso(table, summarize(table), bands_of(table), nested_coverage(table))
        if loso is not None:
            BANDS.write_text(yaml.safe_dump(
                {"source": "python benchmarks/serving_fit.py --loso --write", "date": today,
                 "quantiles": [0.1, 0.9],
                 "bands": {k: [round(v[0], 4), round(v[1], 4)] for k, v in loso.bands.items()},
                 "nested_coverage": {k: round(v, 3) for k, v in loso.coverage.items()}},
                sort_keys=False))  # fmt: skip
        print("wrote the engine profiles" + (f" and {BANDS}" if loso is not None else ""))


if __name__ == "__main__":
    main()
