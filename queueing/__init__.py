"""Analytic queueing models for LLM serving, each checked by simulation.

Service laws (scipy.stats style, seconds), models with ``.mean_wait``, ``.mean_sojourn``,
``.utilization``, ``.stable`` and ``.to_dict()``, and the simulators that check them.
Overload (utilization >= 1) is a result: ``stable`` False, infinite waits, ``"overloaded"``
in ``to_dict()``. Bad arguments raise :class:`QueueingInputError` (a ``ValueError``).
"""

from queueing.batch import (
    ContinuousBatching,
    DynamicBatching,
    FixedBatching,
    linear_batch_time,
    longest_request_batch_time,
)
from queueing.bulk import BaileyBulk, BulkMMK
from queueing.clipping import ClippingOptimum, ImpatientMG1, MaxTokenQueue, token_service
from queueing.errors import QueueingInputError
from queueing.laws import (
    Affine,
    Clipped,
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    Geometric,
    LogNormal,
    MaxOf,
    Mixture,
    ServiceLaw,
)
from queueing.mg1 import MG1
from queueing.multiserver import MDc, MGc, MMc, erlang_b, erlang_c
from queueing.priority import SJF, SRPT, PriorityMG1, ProcessorSharing
from queueing.sim import (
    SimEstimate,
    SimRun,
    batch_means,
    lindley_waits,
    simulate_gg1,
    simulate_mg1,
    simulate_mg1_impatient,
    simulate_mgc,
)
from queueing.sim_batch import (
    simulate_batching,
    simulate_bulk_mmk,
    simulate_continuous_batching,
)
from queueing.sim_disciplines import simulate_discipline, simulate_priority

__all__ = [
    "MG1",
    "SJF",
    "SRPT",
    "Affine",
    "BaileyBulk",
    "BulkMMK",
    "Clipped",
    "ClippingOptimum",
    "ContinuousBatching",
    "Deterministic",
    "DynamicBatching",
    "Empirical",
    "Exponential",
    "FixedBatching",
    "Gamma",
    "Geometric",
    "ImpatientMG1",
    "LogNormal",
    "MDc",
    "MGc",
    "MMc",
    "MaxOf",
    "MaxTokenQueue",
    "Mixture",
    "PriorityMG1",
    "ProcessorSharing",
    "QueueingInputError",
    "ServiceLaw",
    "SimEstimate",
    "SimRun",
    "batch_means",
    "erlang_b",
    "erlang_c",
    "lindley_waits",
    "linear_batch_time",
    "longest_request_batch_time",
    "simulate_batching",
    "simulate_bulk_mmk",
    "simulate_continuous_batching",
    "simulate_discipline",
    "simulate_gg1",
    "simulate_mg1",
    "simulate_mg1_impatient",
    "simulate_mgc",
    "simulate_priority",
    "token_service",
]
