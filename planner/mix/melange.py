"""Mélange's JSON format (github.com/tyler-griggs/melange-release, ``melange/config/
example.json``): read profiles as a capacity provider and whole configs as plans.

The format::

    {"gpu_info": {"A10G": {"cost": 1.01, "tputs": [[2, 1], [5, 2]]}, ...},
     "workload_distribution": [[0.2, 0.1], [0.5, 0.2]],
     "total_request_rate": 30.0, "slice_factor": 1}

``tputs[i][j]`` is one GPU's max throughput (req/s) for requests of input row i and output
column j of ``workload_distribution``; ``cost`` is $/h. Older versions name the rate
``overall_rate`` and give ``gpu_info`` as a list of ``{"name", "cost", "tputs"}``; both are read.
A throughput of 0 marks the GPU ineligible for that cell (Mélange itself would divide by zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hardware_specs
from planner.mix.capacity import PoolCapacity, canonical_gpu
from planner.mix.errors import PlanSpecError
from planner.mix.plan_file import validate_plan
from planner.mix.pools import Pool
from planner.mix.spec import PlanSpec, SLOSpec
from planner.mix.traffic import Buckets, load_json


@dataclass(frozen=True)
class MelangeGPU:
    """One ``gpu_info`` entry: $/h and the throughput grid (req/s)."""

    name: str
    cost: float
    tputs: np.ndarray


@dataclass(frozen=True)
class MelangeConfig:
    """A parsed Mélange JSON file."""

    path: Path
    gpus: tuple[MelangeGPU, ...]
    distribution: list[list[float]] | None
    rate_rps: float | None
    slice_factor: int | None


_READ: dict[tuple, MelangeConfig] = {}  # (path, mtime, size) -> parsed file; a plan reads it 3x


def read_melange(path: str | Path) -> MelangeConfig:
    """Parse and check a Mélange JSON config or profile; errors name the file and field. A
    file unchanged since it was last read (same path, modification time and size) is not
    parsed again."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return _read_melange(path)  # the error, said by load_json
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _READ:
        if len(_READ) >= 32:
            _READ.clear()
        _READ[key] = _read_melange(path)
    return _READ[key]


def _read_melange(path: Path) -> MelangeConfig:
    data = load_json(path)
    if not isinstance(data, dict) or "gpu_info" not in data:
        raise PlanSpecError(f"{path}: a Mélange file is a JSON object with a 'gpu_info' field")
    gpus = tuple(_gpu(path, name, entry) for name, entry in _entries(path, data["gpu_info"]))
    dist = data.get("workload_distribution")
    if dist is not None:
        dist = _matrix(path, "workload_distribution", dist)
        for g in gpus:
            if g.tputs.shape != np.shape(dist):
                raise PlanSpecError(
                    f"{path}: field 'gpu_info.{g.name}.tputs' has shape {g.tputs.shape}; "
                    f"workload_distribution has {np.shape(dist)}"
                )
    rate = data.get("total_request_rate", data.get("overall_rate"))
    if rate is not None and not (isinstance(rate, int | float) and rate > 0):
        raise PlanSpecError(
            f"{path}: field 'total_request_rate': use a rate > 0 req/s, got {rate!r}"
        )
    sf = data.get("slice_factor")
    return MelangeConfig(
        path, gpus, dist, None if rate is None else float(rate), None if sf is None else int(sf)
    )


def _entries(path: Path, info: object) -> list[tuple[str, dict]]:
    """(name, entry) pairs of ``gpu_info`` in its dict or list form."""
    if isinstance(info, dict):
        return [(str(k), v) for k, v in info.items()]
    if isinstance(info, list) and all(isinstance(e, dict) and "name" in e for e in info):
        return [(str(e["name"]), e) for e in info]
    raise PlanSpecError(
        f"{path}: field 'gpu_info': use {{name: {{cost, tputs}}}} or a list of "
        "{name, cost, tputs}"
    )


def _gpu(path: Path, name: str, entry: object) -> MelangeGPU:
    """One checked ``gpu_info`` entry."""
    where = f"{path}: field 'gpu_info.{name}"
    if not isinstance(entry, dict) or "cost" not in entry or "tputs" not in entry:
        raise PlanSpecError(f"{where}': needs 'cost' ($/h) and 'tputs' (req/s matrix)")
    cost = entry["cost"]
    if not isinstance(cost, int | float) or not cost > 0:
        raise PlanSpecError(f"{where}.cost': use a price > 0 $/h, got {cost!r}")
    tputs = np.asarray(_matrix(path, f"gpu_info.{name}.tputs", entry["tputs"]), dtype=float)
    return MelangeGPU(name, float(cost), tputs)


def _matrix(path: Path, field: str, value: object) -> list[list[float]]:
    """A rectangular matrix of finite numbers >= 0."""
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(r, list) and r for r in value)
        and len({len(r) for r in value}) == 1
    )
    if ok:
        flat = [x for r in value for x in r]  # type: ignore[union-attr]
        ok = all(isinstance(x, int | float) and math.isfinite(x) and x >= 0 for x in flat)
    if not ok:
        raise PlanSpecError(
            f"{path}: field '{field}': use a rectangular matrix of numbers >= 0, got {value!r:.80}"
        )
    return [[float(x) for x in r] for r in value]  # type: ignore[union-attr]


class MelangeCapacity:
    """Capacity provider over a Mélange profile: cell (i, j) of a grid traffic gets
    ``tputs[i][j]`` for one-GPU replicas of that GPU; other pools are not profiled."""

    name = "melange"

    def __init__(self, config: MelangeConfig) -> None:
        self.config = config
        self.by_gpu = {canonical_gpu(g.name): g for g in config.gpus}

    @classmethod
    def from_json(cls, path: str | Path) -> MelangeCapacity:
        return cls(read_melange(path))

    def capacity(
        self, model: str, pool: Pool, buckets: Buckets, slo: SLOSpec | None
    ) -> PoolCapacity:
        """``tputs[i][j]`` for each bucket's grid cell (0 with a reason where absent)."""
        if buckets.grid_index is None:
            raise PlanSpecError(
                f"{self.config.path}: a Mélange profile needs grid traffic (traffic.grid or "
                f"traffic.melange) of the same shape; model {model!r} has another form"
            )
        gpu = self.by_gpu.get(pool.gpu)
        n = len(buckets)
        if gpu is None or pool.gpus != 1:
            why = (
                f"{pool.name} is not in the Mélange profile {self.config.path.name} "
                "(its profiles are one GPU per replica)"
            )
            return PoolCapacity(np.zeros(n), (why,) * n)
        rows, cols = gpu.tputs.shape
        if (
            max(i for i, _ in buckets.grid_index) >= rows
            or max(j for _, j in buckets.grid_index) >= cols
        ):
            raise PlanSpecError(
                f"{self.config.path}: tputs of {gpu.name} are {rows}x{cols}; the traffic grid of "
                f"model {model!r} is larger"
            )
        rate = np.array([gpu.tputs[i, j] for i, j in buckets.grid_index])
        why = tuple(None if r > 0 else "Mélange profile gives 0 req/s (ineligible)" for r in rate)
        return PoolCapacity(rate, why)


def plan_from_melange(
    path: str | Path,
    input_tokens: list[float] | None = None,
    output_tokens: list[float] | None = None,
    model: str = "model",
    normalize: bool = False,
) -> PlanSpec:
    """A plan equivalent to a Mélange config: its GPUs at its costs ($/h), its workload grid and
    rate, capacities from its tputs, and its slice factor for the slice comparison."""
    cfg = read_melange(path)
    if cfg.distribution is None or cfg.rate_rps is None:
        raise PlanSpecError(
            f"{path}: a Mélange config needs workload_distribution and "
            "total_request_rate to be a plan"
        )
    gpus = []
    for g in cfg.gpus:
        gpus.append({"name": g.name, "usd_per_hour": g.cost, "custom": not _in_catalog(g.name)})
    grid: dict = {"probs": cfg.distribution}
    if input_tokens is not None and output_tokens is not None:
        grid |= {"input_tokens": input_tokens, "output_tokens": output_tokens}
    data = {
        "name": Path(path).stem,
        "models": [
            {
                "name": model,
                "rate_rps": cfg.rate_rps,
                "traffic": {"grid": grid, "normalize": normalize},
            }
        ],
        "gpus": gpus,
        "capacity": {"melange": str(Path(path).resolve())},
        "slice_factors": [cfg.slice_factor] if cfg.slice_factor else [],
        "base_dir": str(Path(path).parent),
    }
    return validate_plan(data, source=str(path))


def _in_catalog(name: str) -> bool:
    try:
        hardware_specs.get(name)
    except hardware_specs.HardwareSpecError:
        return False
    return True
