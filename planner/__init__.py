"""Serving model, GPU-mix planner, plan search, reports and the capplan CLI.

The entry points a notebook or a dashboard needs (docs/api.md):

>>> from planner import SLO, Workload, evaluate, max_rate_under_slo, plan, search
>>> r = evaluate("llama-3.1-8b", "A100-SXM4-80GB", "chat", rate=5.0)   # doctest: +SKIP
>>> r.to_frame()                                                        # doctest: +SKIP

Each returns a result with ``.to_frame()`` (pandas) and ``.to_dict()`` (JSON-safe).
"""

from planner.mix import (
    Allocation,
    PlanSpec,
    TimePlan,
    cost_vs_rate,
    cost_vs_slo,
    plan,
    plan_over_time,
)
from planner.search import SearchResult, SearchSpace, SweepResult, search, sweep
from planner.serving import SLO, MaxRate, ServingReport, evaluate, max_rate_under_slo
from planner.workload import Workload

__all__ = [
    "SLO",
    "Allocation",
    "MaxRate",
    "PlanSpec",
    "SearchResult",
    "SearchSpace",
    "ServingReport",
    "SweepResult",
    "TimePlan",
    "Workload",
    "cost_vs_rate",
    "cost_vs_slo",
    "evaluate",
    "max_rate_under_slo",
    "plan",
    "plan_over_time",
    "search",
    "sweep",
]
