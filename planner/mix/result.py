"""The planner's answer: :class:`Allocation` (pools, routing, baselines, diagnosis).

Rates in req/s, costs in $/h, latencies in seconds. ``to_dict`` is JSON-safe (NaN → None).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class PoolAllocation:
    """Replicas of one pool serving one model, their load and predicted latency."""

    model: str
    pool: str
    gpu: str
    tp: int
    pp: int
    replicas: int
    gpus: int  # GPUs of all its replicas
    usd_per_hour: float  # $/h of all its replicas
    rate_rps: float  # planned rate routed here (headroom included)
    utilization: float  # load / replicas, in [0, 1]
    ttft_s: float | None = None  # predicted at this utilization (serving provider only)
    tpot_s: float | None = None


@dataclass(frozen=True)
class Route:
    """One load-balancer entry: the share ``weight`` of a bucket's requests sent to a pool."""

    model: str
    bucket: str
    input_tokens: float
    output_tokens: float
    rate_rps: float
    pool: str
    weight: float


@dataclass(frozen=True)
class Baseline:
    """The cheapest plan that uses one GPU type only."""

    gpu: str
    feasible: bool
    usd_per_hour: float | None
    gpus: int
    reason: str | None = None
    proof: str = "proven optimal"  # or "best found within N s (gap x%)", "infeasible"
    gap: float | None = None  # measured (cost - bound) / cost, when the solver reports it


@dataclass(frozen=True)
class HeadroomCost:
    """What one kind of stated headroom adds to the plan's cost: the plan solved without it."""

    kind: str  # rate headroom | redundancy floor | utilization targets | N+1 spares
    setting: str  # e.g. "rate x 1.2", "70%", "3 of 4 pools"
    usd_per_hour: float | None  # $/h it adds (None when the plan without it was not solved)
    proof: str = "proven optimal"


@dataclass(frozen=True)
class SliceResult:
    """Mélange's slice formulation at one slice factor, on the same instance."""

    slice_factor: int
    feasible: bool
    usd_per_hour: float | None
    gpus_by_type: dict[str, int] = field(default_factory=dict)
    proof: str = "proven optimal"  # or "best found within N s (gap x%)", "skipped: ...", ...
    gap: float | None = None


@dataclass(frozen=True)
class Exclusion:
    """A (bucket, pool) pair the pool cannot serve, and why."""

    model: str
    bucket: str
    pool: str
    reason: str


@dataclass(frozen=True)
class Issue:
    """Why a plan is infeasible and what would make it feasible."""

    kind: str  # bucket | caps | types | capacity | solver; warning, note (on a feasible plan)
    message: str
    suggestion: str | None = None
    model: str | None = None
    bucket: str | None = None


@dataclass(frozen=True)
class ModelSummary:
    """One model's demand as planned."""

    name: str
    rate_rps: float
    planned_rate_rps: float
    buckets: int
    slo: str | None
    tokens_per_s: float | None  # input + output tokens/s at the offered rate


@dataclass(frozen=True)
class Allocation:
    """A GPU-mix plan: which pools, how many replicas, routed how, at what cost.

    When ``feasible`` is False, ``issues`` explain which bucket/model/cap blocks the plan and
    the SLO or cap that would make it feasible; ``pools`` and ``routes`` are empty. A feasible
    plan's ``issues`` are of kind ``warning``: a legal answer that is almost surely a mistake
    (thousands of GPUs, a rate far beyond any replica, a solver that did not prove the plan
    cheapest: then ``status`` is "feasible", never "optimal").
    """

    name: str
    feasible: bool
    status: str
    usd_per_hour: float | None
    pools: tuple[PoolAllocation, ...] = ()
    routes: tuple[Route, ...] = ()
    baselines: tuple[Baseline, ...] = ()
    slices: tuple[SliceResult, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    issues: tuple[Issue, ...] = ()
    models: tuple[ModelSummary, ...] = ()
    headroom: float = 0.0
    capacity_source: str = ""
    solver: str = ""
    solve_time_s: float = 0.0
    headroom_costs: tuple[HeadroomCost, ...] = ()
    proof: str = ""  # "proven optimal", "best found within N s (gap x%)", or why not solved
    gap: float | None = None  # measured (cost - bound) / cost, when the solver reports it
    bound_usd_per_hour: float | None = None  # proven lower bound on any plan's $/h

    # ---- derived ---------------------------------------------------------------------------
    @property
    def gpus_by_type(self) -> dict[str, int]:
        """GPUs per GPU type in the plan."""
        out: dict[str, int] = {}
        for p in self.pools:
            out[p.gpu] = out.get(p.gpu, 0) + p.gpus
        return out

    @property
    def total_gpus(self) -> int:
        return sum(self.gpus_by_type.values())

    @property
    def best_single(self) -> Baseline | None:
        """The cheapest feasible single-type plan (None if there is none)."""
        ok = [b for b in self.baselines if b.feasible and b.usd_per_hour is not None]
        return min(ok, key=lambda b: b.usd_per_hour) if ok else None  # type: ignore[arg-type,return-value]

    @property
    def savings_pct(self) -> float | None:
        """Percent saved against the cheapest single-type plan."""
        best = self.best_single
        if not self.feasible or best is None or not best.usd_per_hour:
            return None
        return 100.0 * (best.usd_per_hour - self.usd_per_hour) / best.usd_per_hour  # type: ignore[operator]

    @property
    def tokens_per_s(self) -> float | None:
        """Offered input + output tokens/s over all models (None if sizes are unknown)."""
        vals = [m.tokens_per_s for m in self.models]
        return None if not vals or any(v is None for v in vals) else sum(vals)  # type: ignore[misc]

    @property
    def cost_per_1m_tokens(self) -> float | None:
        """$ per million (input + output) tokens at the offered rate."""
        tps = self.tokens_per_s
        if not self.feasible or not tps or self.usd_per_hour is None:
            return None
        return self.usd_per_hour / (tps * 3600.0 / 1e6)

    @property
    def routing(self) -> pd.DataFrame:
        """The load-balancer table: one row per (model, bucket, pool) with its weight."""
        cols = ["model", "bucket", "input_tokens", "output_tokens", "rate_rps", "pool", "weight"]
        return pd.DataFrame([asdict(r) for r in self.routes], columns=cols)

    def routing_matrix(self, model: str | None = None) -> pd.DataFrame:
        """Weights as a bucket x pool matrix (one model; default the first)."""
        frame = self.routing
        if frame.empty:
            return frame
        name = model or frame.model.iloc[0]
        sub = frame[frame.model == name]
        return sub.pivot_table(
            index="bucket",
            columns="pool",
            values="weight",
            aggfunc="sum",
            fill_value=0.0,
            sort=False,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, pool) with replicas, GPUs, $/h, rate and utilization."""
        cols = [f.name for f in PoolAllocation.__dataclass_fields__.values()]
        return pd.DataFrame([asdict(p) for p in self.pools], columns=cols)

    def baselines_frame(self) -> pd.DataFrame:
        """Single-type baselines with the mix's savings against each."""
        frame = pd.DataFrame(
            [asdict(b) for b in self.baselines],
            columns=[f.name for f in Baseline.__dataclass_fields__.values()],
        )
        if self.feasible and not frame.empty:
            base = frame.usd_per_hour.astype(float)
            frame["savings_pct"] = 100.0 * (base - self.usd_per_hour) / base
        return frame

    def headroom_frame(self) -> pd.DataFrame:
        """The stated headroom: kind, setting and the $/h each adds."""
        cols = [f.name for f in HeadroomCost.__dataclass_fields__.values()]
        return pd.DataFrame([asdict(h) for h in self.headroom_costs], columns=cols)

    def issues_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [asdict(i) for i in self.issues],
            columns=["kind", "message", "suggestion", "model", "bucket"],
        )

    def exclusions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [asdict(e) for e in self.exclusions], columns=["model", "bucket", "pool", "reason"]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the whole answer (NaN and inf become None); the dashboard contract
        is ``planner.report.schema.PlanReport``, its version in ``schema_version``."""
        from planner.report.schema import SCHEMA_VERSION  # lazy: planner.report imports this

        derived = {
            "gpus_by_type": self.gpus_by_type,
            "total_gpus": self.total_gpus,
            "savings_pct": self.savings_pct,
            "best_single": None if self.best_single is None else asdict(self.best_single),
            "cost_per_1m_tokens": self.cost_per_1m_tokens,
            "tokens_per_s": self.tokens_per_s,
        }
        return _json_safe({"schema_version": SCHEMA_VERSION} | asdict(self) | derived)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> str:
        """A few lines: cost, GPUs, savings, or why infeasible."""
        if not self.feasible:
            lines = [f"{self.name}: no feasible plan ({self.status})"]
            lines += [
                f"- {i.message}" + (f" -> {i.suggestion}" if i.suggestion else "")
                for i in self.issues
            ]
            return "\n".join(lines)
        gpus = ", ".join(f"{n} x {g}" for g, n in self.gpus_by_type.items() if n)
        line = f"{self.name}: ${self.usd_per_hour:,.2f}/h with {gpus}"
        best = self.best_single
        if self.savings_pct is not None and best is not None:
            if self.savings_pct < 0.05:
                line += f"; the best single type ({best.gpu}) is as cheap"
            else:
                line += (
                    f"; {self.savings_pct:.1f}% below the best single type "
                    f"({best.gpu}, ${best.usd_per_hour:,.2f}/h)"
                )
        if self.cost_per_1m_tokens is not None:
            line += f"; ${self.cost_per_1m_tokens:.4f} per 1M tokens"
        return line


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats with None, recursively; tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value
