"""Service-level objectives on TTFT, TPOT and end-to-end latency."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SLO(BaseModel):
    """Latency targets in seconds; ``percentile`` (e.g. 0.9) or None for means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    tpot_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    e2e_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    tbt_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = (
        None  # per-token gap (e.g. Sarathi's P99 TBT)
    )
    percentile: Annotated[float, Field(gt=0, lt=1)] | None = 0.9

    @model_validator(mode="after")
    def _some_target(self) -> SLO:
        if not self.targets():
            raise ValueError("an SLO needs at least one of ttft_s, tpot_s, e2e_s, tbt_s")
        if self.percentile is not None and round(self.percentile, 2) not in (0.5, 0.9, 0.99):
            raise ValueError("percentile must be 0.5, 0.9, 0.99 or None (mean)")
        return self

    @property
    def stat(self) -> str:
        return "mean" if self.percentile is None else f"p{round(self.percentile * 100)}"

    def targets(self) -> dict[str, float]:
        """{'ttft': s, 'tpot': s, 'e2e': s, 'tbt': s} for the targets that are set."""
        pairs = (
            ("ttft", self.ttft_s),
            ("tpot", self.tpot_s),
            ("e2e", self.e2e_s),
            ("tbt", self.tbt_s),
        )
        return {k: v for k, v in pairs if v is not None}

    def met_by(self, report) -> bool:
        """Whether ``report`` (a ServingReport) meets every target at the SLO's statistic."""
        return all(getattr(report, k).get(self.stat) <= v for k, v in self.targets().items())

    def violation(self, report) -> float:
        """max over targets of achieved / target (<= 1 when met)."""
        return max(getattr(report, k).get(self.stat) / v for k, v in self.targets().items())
