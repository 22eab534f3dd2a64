"""Accelerator catalog: validated datasheet specs, one YAML file per accelerator.

>>> import hardware_specs
>>> h100 = hardware_specs.get("h100 sxm")
>>> h100.peak_flops("bf16")  # dense FLOP/s
989400000000000.0

User YAML files in ``extra_dirs`` or in the directories of ``$CAPPLAN_HARDWARE_PATH``
(``os.pathsep``-separated) override bundled entries of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from hardware_specs.errors import HardwareSpecError, UnknownHardwareError
from hardware_specs.loader import ENV_VAR, PathLike, load_file, lookup, register, resolve
from hardware_specs.schema import DTYPES, Accelerator, Dtype, Interconnect, Price

__all__ = [
    "DTYPES",
    "ENV_VAR",
    "Accelerator",
    "Dtype",
    "HardwareSpecError",
    "Interconnect",
    "Price",
    "UnknownHardwareError",
    "catalog",
    "get",
    "load_file",
    "names",
    "register",
]

ExtraDirs = Iterable[PathLike] | PathLike | None


def get(name: str, extra_dirs: ExtraDirs = None) -> Accelerator:
    """The accelerator called ``name`` (or with that alias).

    Matching ignores case and the separators space, ``-``, ``_`` and ``.``:
    ``"H100_SXM"``, ``"h100 sxm"`` and ``"h100"`` all give H100-SXM.

    Raises:
        UnknownHardwareError: no match; the message lists the closest names.
        HardwareSpecError: a user YAML file is invalid.
    """
    return lookup(name, resolve(extra_dirs))


def names(extra_dirs: ExtraDirs = None) -> list[str]:
    """Names of all visible accelerators (bundled, user directories, registered)."""
    return [acc.name for acc in resolve(extra_dirs).values()]


def _row(acc: Accelerator) -> dict[str, Any]:
    """One catalog row, in the YAML's boundary units."""
    row: dict[str, Any] = {
        "name": acc.name,
        "vendor": acc.vendor,
        "kind": acc.kind,
        "memory_gib": acc.memory_gib,
        "hbm_gb_s": acc.hbm_gb_s,
    }
    for dtype in DTYPES:
        row[f"{dtype}_tflops"] = acc.peak_tflops.get(dtype, float("nan"))  # type: ignore[call-overload]
    row |= {
        "interconnect_kind": acc.interconnect.kind,
        "interconnect_gb_s": acc.interconnect.bandwidth_gb_s,
        "interconnect_latency_us": acc.interconnect.latency_us,
        "nic_gbit_s": acc.nic_gbit_s,
        "nic_latency_us": acc.nic_latency_us,
        "gpus_per_node": acc.gpus_per_node,
        "tdp_w": acc.tdp_w,
        "price_usd_per_hour": acc.price.usd_per_hour,
        "price_source": acc.price.source,
        "price_date": acc.price.date,
        "aliases": ", ".join(acc.aliases),
        "sources": "; ".join(acc.sources),
    }
    return row


def catalog(extra_dirs: ExtraDirs = None) -> pd.DataFrame:
    """One row per visible accelerator; missing dtypes are NaN."""
    return pd.DataFrame([_row(acc) for acc in resolve(extra_dirs).values()])
