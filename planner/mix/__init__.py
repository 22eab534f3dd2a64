"""GPU-mix planner: the cheapest mix of GPU types, counts, configurations and routing that
carries a traffic mix under an SLO (a MILP over pools = GPU type x replica configuration;
a GPU entry's ``search`` block lets planner.search choose its configurations).

>>> from planner.mix import plan
>>> alloc = plan("examples/melange_toy.yaml")     # doctest: +SKIP
>>> alloc.usd_per_hour, alloc.gpus_by_type        # doctest: +SKIP
(4.68, {'A10G': 1, 'A100-SXM4-80GB': 1})

Public API: plan, load_plan, PlanSpec, Allocation (and its rows), build_problem,
problem_from_arrays, solve_problem, MixModel, SliceModel, solve_slices, TableCapacity,
MelangeCapacity, read_melange, plan_from_melange, cost_vs_rate, cost_vs_slo, resolve_searched,
PlanSpecError.
"""

from planner.mix.api import as_spec, plan, solve_problem
from planner.mix.capacity import CapacityProvider, PoolCapacity, TableCapacity
from planner.mix.errors import PlanSpecError, SolverError
from planner.mix.formulation import MixModel, Solution
from planner.mix.melange import MelangeCapacity, plan_from_melange, read_melange
from planner.mix.overtime import plan_over_time
from planner.mix.plan_file import load_plan, validate_plan
from planner.mix.pools import Pool
from planner.mix.problem import Problem, build_problem, make_provider, problem_from_arrays
from planner.mix.result import (
    Allocation,
    Baseline,
    Exclusion,
    HeadroomCost,
    Issue,
    ModelSummary,
    PoolAllocation,
    Route,
    SliceResult,
)
from planner.mix.searched import resolve_searched
from planner.mix.slices import SliceModel, solve_slices
from planner.mix.spec import PlanSpec, SLOSpec
from planner.mix.sweeps import cost_vs_rate, cost_vs_slo
from planner.mix.time_result import TimePlan

__all__ = [
    "Allocation",
    "Baseline",
    "CapacityProvider",
    "Exclusion",
    "HeadroomCost",
    "Issue",
    "MelangeCapacity",
    "MixModel",
    "ModelSummary",
    "PlanSpec",
    "PlanSpecError",
    "Pool",
    "PoolAllocation",
    "PoolCapacity",
    "Problem",
    "Route",
    "SLOSpec",
    "SliceModel",
    "SliceResult",
    "Solution",
    "SolverError",
    "TableCapacity",
    "TimePlan",
    "as_spec",
    "build_problem",
    "cost_vs_rate",
    "cost_vs_slo",
    "load_plan",
    "make_provider",
    "plan",
    "plan_from_melange",
    "plan_over_time",
    "problem_from_arrays",
    "read_melange",
    "resolve_searched",
    "solve_problem",
    "solve_slices",
    "validate_plan",
]
