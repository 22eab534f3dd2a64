"""The answer of a plan over time: :class:`TimePlan` (fleet per period, bill by pricing class,
the single plans it replaces). Costs in $/month, rates in req/s."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from planner.mix.result import Issue, _json_safe


@dataclass(frozen=True)
class PeriodPool:
    """Replicas of one pool serving one model in one period."""

    period: int
    model: str
    pool: str
    gpu: str
    replicas: int
    gpus: int
    rate_rps: float


@dataclass(frozen=True)
class PeriodFleet:
    """GPUs of one type in one period, by how they are bought."""

    period: int
    gpu: str
    gpus: int
    committed: int
    on_demand: int
    spot: int


@dataclass(frozen=True)
class StaticPlan:
    """One fleet held in every period (sized for the peak or the mean), bought at the cheaper
    of reserved and on-demand; ``short_periods`` cannot carry their traffic."""

    sized_for: str
    feasible: bool
    usd_per_month: float | None
    gpus_by_type: dict[str, int]
    short_periods: int = 0
    note: str | None = None


@dataclass(frozen=True)
class TimePlan:
    """A plan per period: fleet, bill by pricing class, and the static plans it replaces."""

    name: str
    feasible: bool
    status: str
    proof: str
    usd_per_month: float | None
    bill: dict[str, float]
    fleet: tuple[PeriodFleet, ...]
    pools: tuple[PeriodPool, ...]
    static: tuple[StaticPlan, ...]
    rates: tuple[tuple[float, ...], ...]
    models: tuple[str, ...]
    period_hours: float
    month_hours: float
    issues: tuple[Issue, ...] = ()
    solver: str = ""
    solve_time_s: float = 0.0
    gap: float | None = None

    def saving_pct(self, sized_for: str) -> float | None:
        """Percent saved against the static plan sized for ``peak`` or ``mean``."""
        ref = next((s for s in self.static if s.sized_for == sized_for), None)
        if ref is None or not ref.usd_per_month or self.usd_per_month is None:
            return None
        return 100.0 * (ref.usd_per_month - self.usd_per_month) / ref.usd_per_month

    def to_frame(self) -> pd.DataFrame:
        """One row per (period, model, pool) with replicas, GPUs and routed req/s."""
        cols = list(PeriodPool.__dataclass_fields__)
        return pd.DataFrame([asdict(p) for p in self.pools], columns=cols)

    def fleet_frame(self) -> pd.DataFrame:
        """One row per (period, GPU type): GPUs used, and committed / on-demand / spot."""
        cols = list(PeriodFleet.__dataclass_fields__)
        return pd.DataFrame([asdict(f) for f in self.fleet], columns=cols)

    def bill_frame(self) -> pd.DataFrame:
        """The monthly bill by pricing class, with each class's share."""
        total = sum(self.bill.values()) or 1.0
        rows = [
            {"pricing": k, "usd_per_month": v, "share_pct": 100 * v / total}
            for k, v in self.bill.items()
        ]
        return pd.DataFrame(rows, columns=["pricing", "usd_per_month", "share_pct"])

    def static_frame(self) -> pd.DataFrame:
        """The peak- and mean-sized single plans with the saving against each."""
        frame = pd.DataFrame([asdict(s) for s in self.static])
        if not frame.empty:
            frame["curve_saves_pct"] = [self.saving_pct(s.sized_for) for s in self.static]
        return frame

    def to_dict(self) -> dict:
        """JSON-safe dict of the whole answer; its contract is
        ``planner.report.schema.TimePlanReport`` (``capplan schema timeplan``)."""
        from planner.report.schema import SCHEMA_VERSION  # lazy: planner.report imports this

        out = {"schema_version": SCHEMA_VERSION} | asdict(self)
        out |= {
            "saving_vs_peak_pct": self.saving_pct("peak"),
            "saving_vs_mean_pct": self.saving_pct("mean"),
        }
        return _json_safe(out)

    def summary(self) -> str:
        """One line: monthly cost, bill split, savings."""
        if not self.feasible:
            return f"{self.name}: no feasible plan over time ({self.proof})"
        split = ", ".join(f"{k} ${v:,.0f}" for k, v in self.bill.items() if v > 0)
        line = f"{self.name}: ${self.usd_per_month:,.0f}/month ({split})"
        peak = self.saving_pct("peak")
        if peak is not None and peak < 0.05:
            line += "; as cheap as the plan sized for the peak (no hour is worth releasing)"
        elif peak is not None:
            line += f"; {peak:.1f}% below the plan sized for the peak"
        return line
