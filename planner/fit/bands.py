"""Error bands of serving answers, from the leave-one-source-out residuals of the engine fit
(planner.fit.loso; written by ``python benchmarks/serving_fit.py --loso --write``).

For a metric class (throughput: rates and max rates; latency: seconds) the held-out ratios
r = predicted / measured have 10th and 90th percentiles (r10, r90); a prediction P then puts
the measurement in [P / r90, P / r10] for 80% of held-out points. The pessimistic end is the
low end for a throughput and the high end for a latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

BANDS = Path(__file__).parent / "data" / "bands.yaml"


@dataclass(frozen=True)
class Bands:
    """(r10, r90) per metric class, and where they come from."""

    ratios: dict[str, tuple[float, float]]
    source: str

    def interval(self, value: float, cls: str) -> tuple[float, float]:
        """The 80% band of the measurement given capplan's ``value`` of a class."""
        r10, r90 = self.ratios[cls]
        return value / r90, value / r10

    def pessimistic(self, value: float, cls: str) -> float:
        """The band's bad end: the low throughput or the high latency."""
        lo, hi = self.interval(value, cls)
        return lo if cls == "throughput" else hi


@cache
def bands(path: Path = BANDS) -> Bands | None:
    """The shipped bands (None when no fit has written them)."""
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text())
    ratios = {k: (float(v[0]), float(v[1])) for k, v in data["bands"].items()}
    return Bands(ratios, f"{data['source']} ({data['date']})")
