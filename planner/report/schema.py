"""The dashboard contract: pydantic models of the JSON reports the CLI writes.

- :class:`PlanReport`: ``plan.json`` of ``capplan plan`` (``Allocation.to_dict()`` plus the
  cost-vs-rate and cost-vs-SLO curves), also printed by ``capplan plan --format json``.
- :class:`SearchReport`: ``search.json`` of ``capplan search`` (``SearchResult.to_dict()``),
  also printed by ``capplan search --format json``.

Each report carries ``schema_version`` (:data:`SCHEMA_VERSION`, "major.minor"): a minor bump
only adds fields, a major bump renames or removes one. Rows are typed where their columns are
fixed; fields not named here are allowed (``additionalProperties``), so a dashboard should read
the named fields and may show the rest. ``capplan schema plan|search`` prints the JSON Schema
pydantic generates from these models; :func:`validate_report` checks one file.

>>> from planner.report.schema import PlanReport
>>> PlanReport.model_json_schema()["properties"]["schema_version"]["pattern"]
'^1\\\\.\\\\d+$'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: the version every report written now carries; dashboards accept the same major version
SCHEMA_VERSION = "1.1"
VERSION_PATTERN = r"^1\.\d+$"

Num = float | None  # JSON null where the figure is undefined (NaN or inf in Python)


class _Open(BaseModel):
    """A record whose named fields are typed; other fields are allowed."""

    model_config = ConfigDict(extra="allow")


# ---- plan.json -------------------------------------------------------------------------------
class PoolRow(_Open):
    """Replicas of one pool serving one model (``Allocation.pools``)."""

    model: str
    pool: str
    gpu: str
    tp: int
    pp: int
    replicas: int
    gpus: int
    usd_per_hour: float
    rate_rps: float
    utilization: float
    ttft_s: Num
    tpot_s: Num


class RouteRow(_Open):
    """One load-balancer entry: the share ``weight`` of a bucket's requests sent to a pool."""

    model: str
    bucket: str
    input_tokens: Num
    output_tokens: Num
    rate_rps: float
    pool: str
    weight: float = Field(ge=0, le=1)


class BaselineRow(_Open):
    """The cheapest plan on one GPU type only."""

    gpu: str
    feasible: bool
    usd_per_hour: Num
    gpus: int
    reason: str | None
    proof: str = Field(description="proven optimal, best found within N s (gap), infeasible")
    gap: Num = None


class HeadroomRow(_Open):
    """One kind of stated headroom and the $/h it adds (the plan solved without it)."""

    kind: str
    setting: str
    usd_per_hour: Num
    proof: str


class SliceRow(_Open):
    """Mélange's slice formulation at one slice factor."""

    slice_factor: int
    feasible: bool
    usd_per_hour: Num
    gpus_by_type: dict[str, int]
    proof: str = Field(description="proven optimal, best found within N s (gap), skipped: why")
    gap: Num = None


class ExclusionRow(_Open):
    """A (bucket, pool) pair the pool cannot serve, and why."""

    model: str
    bucket: str
    pool: str
    reason: str


class IssueRow(_Open):
    """Why a plan is infeasible and what would make it feasible."""

    kind: str
    message: str
    suggestion: str | None
    model: str | None
    bucket: str | None


class ModelRow(_Open):
    """One model's demand as planned."""

    name: str
    rate_rps: float
    planned_rate_rps: float
    buckets: int
    slo: str | None
    tokens_per_s: Num


class CostVsRateRow(_Open):
    """One rate multiplier: the mix's and each single type's $/h (``<gpu>_usd_per_hour``)."""

    rate_scale: float
    rate_rps: float
    mix_usd_per_hour: Num


class CostVsSloRow(_Open):
    """One SLO multiplier (> 1 looser): the mix's and each single type's $/h."""

    slo_scale: float
    slo: str | None
    mix_usd_per_hour: Num


class PlanReport(_Open):
    """``plan.json``: a GPU-mix plan (``capplan plan``)."""

    schema_version: str = Field(pattern=VERSION_PATTERN)
    name: str
    feasible: bool
    status: str
    usd_per_hour: Num
    pools: list[PoolRow]
    routes: list[RouteRow]
    baselines: list[BaselineRow]
    slices: list[SliceRow]
    headroom_costs: list[HeadroomRow] = Field(default_factory=list)
    exclusions: list[ExclusionRow]
    issues: list[IssueRow]
    models: list[ModelRow]
    headroom: float
    capacity_source: str
    solver: str
    solve_time_s: float
    proof: str = Field(description="proven optimal (to $0.005/h), or best found within N s (gap)")
    gap: Num = Field(None, description="(cost - proven bound) / cost, where the solver reports it")
    bound_usd_per_hour: Num = Field(None, description="proven lower bound on any plan's $/h")
    gpus_by_type: dict[str, int]
    total_gpus: int
    savings_pct: Num
    best_single: BaselineRow | None
    cost_per_1m_tokens: Num
    tokens_per_s: Num
    cost_vs_rate: list[CostVsRateRow] | None = None
    cost_vs_slo: list[CostVsSloRow] | None = None


# ---- search.json -----------------------------------------------------------------------------
class SLOTargets(_Open):
    """The SLO searched under, seconds; ``percentile`` None means means."""

    ttft_s: Num
    tpot_s: Num
    e2e_s: Num
    tbt_s: Num
    percentile: Num


class ScreenAgreement(_Open):
    """Screen rate / full-model rate over the re-evaluated plans (only ``plans`` when none)."""

    plans: int
    median_screen_over_full: float | None = None
    p10: float | None = None
    p90: float | None = None
    share_screen_optimistic: float | None = None


class PlanRow(_Open):
    """One deployment plan (a ranked row or a frontier point); more metric columns follow."""

    mode: Literal["aggregated", "disaggregated"]
    gpu: str
    quant: str
    tp: int
    pp: int
    ep: int
    prefill_tp: int
    prefill_pp: int
    prefill_replicas: int
    decode_replicas: int
    max_num_seqs: int
    token_budget: int
    gpus: int
    feasible: bool
    rate_rps: Num
    tokens_per_s_per_gpu: Num
    tokens_per_s_per_user: Num
    ttft_s: Num
    tpot_s: Num
    usd_per_mtok: Num
    energy_j_per_token: Num
    binding: str | None


class SearchReport(_Open):
    """``search.json``: a deployment-plan search (``capplan search``)."""

    schema_version: str = Field(pattern=VERSION_PATTERN)
    model: str
    workload: str
    slo: SLOTargets
    objective: str
    objective_column: str
    target_rate: Num
    engine: str | None
    plans_screened: int
    plans_meeting_slo_screen: int
    pruned: dict[str, int]
    notes: list[str]
    screen_s: float
    full_s: float
    screen_agreement: ScreenAgreement
    top: list[PlanRow]
    frontiers: dict[str, list[PlanRow]]
    best_commands: list[str]


# ---- timeplan.json ---------------------------------------------------------------------------
class PeriodFleetRow(_Open):
    """GPUs of one type in one period, by pricing class."""

    period: int
    gpu: str
    gpus: int
    committed: int
    on_demand: int
    spot: int


class PeriodPoolRow(_Open):
    """Replicas of one pool serving one model in one period."""

    period: int
    model: str
    pool: str
    gpu: str
    replicas: int
    gpus: int
    rate_rps: float


class StaticPlanRow(_Open):
    """One fleet held all month, sized for the peak or the mean."""

    sized_for: str
    feasible: bool
    usd_per_month: Num
    gpus_by_type: dict[str, int]
    short_periods: int
    note: str | None


class TimePlanReport(_Open):
    """``timeplan.json``: a plan over time (``capplan plan`` on a file with rate curves)."""

    schema_version: str = Field(pattern=VERSION_PATTERN)
    name: str
    feasible: bool
    status: str
    proof: str
    usd_per_month: Num
    bill: dict[str, float] = Field(description="$/month by pricing class")
    fleet: list[PeriodFleetRow]
    pools: list[PeriodPoolRow]
    static: list[StaticPlanRow]
    rates: list[list[float]] = Field(description="req/s of each model in each period")
    models: list[str]
    period_hours: float
    month_hours: float
    issues: list[IssueRow]
    solver: str
    solve_time_s: float
    gap: Num
    saving_vs_peak_pct: Num
    saving_vs_mean_pct: Num


#: report kind -> (model, file name the CLI writes)
REPORTS: dict[str, tuple[type[BaseModel], str]] = {
    "plan": (PlanReport, "plan.json"),
    "search": (SearchReport, "search.json"),
    "timeplan": (TimePlanReport, "timeplan.json"),
}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, generated by pydantic) of report ``kind``."""
    if kind not in REPORTS:
        raise ValueError(f"unknown report {kind!r}; choose {', '.join(REPORTS)}")
    model, _ = REPORTS[kind]
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def report_kind(path: str | Path, data: Any = None) -> str:
    """'plan' or 'search': from the file name, else from the content."""
    name = Path(path).name
    for kind, (_, file_name) in REPORTS.items():
        if name == file_name:
            return kind
    if isinstance(data, dict):
        if "fleet" in data:
            return "timeplan"
        if "pools" in data:
            return "plan"
        if "top" in data:
            return "search"
    raise ValueError(
        f"{path}: not a plan, search or time-plan report (plan.json, search.json, timeplan.json)"
    )


def validate_report(path: str | Path, kind: str | None = None) -> BaseModel:
    """Validate one JSON report against its model (``kind`` from the file name or content).

    Returns the parsed model; raises ValueError, one line naming the file and the field path
    (``pools[0].gpus``), on the first problem.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    kind = kind or report_kind(path, data)
    if kind not in REPORTS:
        raise ValueError(f"{path}: unknown report kind {kind!r}; choose {', '.join(REPORTS)}")
    model, _ = REPORTS[kind]
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(err["loc"]) or "(top level)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"{path}: {kind} report field {where}: {err['msg']}{more}") from None


def _loc(loc: tuple) -> str:
    """('pools', 0, 'gpus') -> 'pools[0].gpus'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
