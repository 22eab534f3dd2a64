"""Shared result behaviour: JSON-safe ``to_dict``, ``to_frame`` and explicit overload."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """Python scalars only; non-finite floats become ``None`` (strict JSON has no inf/NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else None
    return value


class QueueModel:
    """Common face of every model: ``utilization`` (offered load / capacity), ``stable``,
    ``mean_wait`` (arrival to start of service), ``mean_sojourn`` (arrival to departure).

    When ``utilization >= 1`` the model is *overloaded*: ``stable`` is False, the waits are
    ``inf`` and ``to_dict()`` says ``"overloaded": true`` with the load ratio.
    """

    model = "queue"
    arrival_rate: float

    @property
    def utilization(self) -> float:
        raise NotImplementedError

    @property
    def stable(self) -> bool:
        return self.utilization < 1.0

    @property
    def mean_wait(self) -> float:
        raise NotImplementedError

    @property
    def mean_sojourn(self) -> float:
        raise NotImplementedError

    def _extra(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (inf → None, with ``overloaded`` and ``load_ratio``)."""
        base = {
            "model": self.model,
            "arrival_rate": self.arrival_rate,
            "utilization": self.utilization,
            "load_ratio": self.utilization,
            "stable": self.stable,
            "overloaded": not self.stable,
            "mean_wait": self.mean_wait,
            "mean_sojourn": self.mean_sojourn,
        }
        return json_safe({**base, **self._extra()})

    def to_frame(self) -> pd.DataFrame:
        flat = {k: v for k, v in self.to_dict().items() if not isinstance(v, dict | list)}
        return pd.DataFrame([flat])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(arrival_rate={self.arrival_rate!r}, "
            f"utilization={self.utilization:.4g}, mean_wait={self.mean_wait:.6g})"
        )
