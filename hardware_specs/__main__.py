"""``python -m hardware_specs [--markdown]``: print the accelerator catalog."""

from __future__ import annotations

import argparse
import math

import pandas as pd

from hardware_specs import catalog

MARKDOWN_COLUMNS = {
    "name": "name",
    "vendor": "vendor",
    "memory_gib": "mem GiB",
    "hbm_gb_s": "mem GB/s",
    "fp32_tflops": "fp32",
    "tf32_tflops": "tf32",
    "bf16_tflops": "bf16",
    "fp16_tflops": "fp16",
    "fp8_tflops": "fp8",
    "int8_tflops": "int8",
    "fp4_tflops": "fp4",
    "int4_tflops": "int4",
    "interconnect_kind": "scale-up link",
    "interconnect_gb_s": "link GB/s/dir",
    "nic_gbit_s": "NIC Gb/s/GPU",
    "gpus_per_node": "GPUs/node",
    "tdp_w": "TDP W",
    "price_usd_per_hour": "$/GPU-h",
}


def _cell(value: object) -> str:
    """Markdown cell text: blank for NaN, compact numbers."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of the main catalog columns."""
    cols = [c for c in MARKDOWN_COLUMNS if c in df.columns]
    lines = [
        "| " + " | ".join(MARKDOWN_COLUMNS[c] for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df[cols].itertuples(False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the catalog as markdown (``--markdown``) or as a plain table."""
    parser = argparse.ArgumentParser(prog="python -m hardware_specs", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    df = catalog()
    if args.markdown:
        print(to_markdown(df))
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(df.drop(columns=["aliases", "sources"]).to_string(index=False))


if __name__ == "__main__":
    main()
