"""Serving model of one replica under load: TTFT / TPOT / E2E percentiles, throughput,
goodput, capacity and the highest rate under an SLO (analytic), plus a simulator to check it."""

from .api import MaxRate, analyze, engine_for, evaluate, max_rate_under_slo
from .engine import Engine
from .loads import LoadResult, closed_loop, offline, static_batch
from .prepared import Prepared, prepare
from .report import Percentiles, ServingReport
from .schedulers import (
    ChunkedPrefill,
    ContinuousBatching,
    Disaggregated,
    StaticBatching,
    parse_scheduler,
)
from .sim_closed import run_closed, simulate_closed
from .simulate import run_requests, simulate
from .slo import SLO

__all__ = [
    "SLO",
    "ChunkedPrefill",
    "ContinuousBatching",
    "Disaggregated",
    "Engine",
    "LoadResult",
    "MaxRate",
    "Percentiles",
    "Prepared",
    "ServingReport",
    "StaticBatching",
    "analyze",
    "closed_loop",
    "engine_for",
    "evaluate",
    "max_rate_under_slo",
    "offline",
    "parse_scheduler",
    "prepare",
    "run_closed",
    "run_requests",
    "simulate",
    "simulate_closed",
    "static_batch",
]
