"""Model catalog, operator catalog and roofline time of one engine step.

Public API (stable): get_model, list_models, model_catalog, ModelSpec, Parallelism, Quant,
estimate_step, estimate_grid, prefill_time, decode_time, max_batch, memory_footprint,
StepEstimate, GridEstimate, MemoryFootprint, Calibration, IDEAL, DEFAULT.
"""

from .calibration import DEFAULT, IDEAL, Calibration, Efficiencies
from .catalog import get_model, list_models, model_catalog
from .errors import ModelDoesNotFitError, PerfModelError, UnknownNameError
from .memory import MemoryFootprint, memory_footprint
from .model import MLASpec, ModelSpec, MoESpec, ParamCount
from .parallel import Parallelism
from .plan_checks import max_batch
from .quant import Quant
from .roofline import CalibrationDeviceWarning
from .step import (
    GridEstimate,
    StepEstimate,
    decode_time,
    estimate_grid,
    estimate_step,
    prefill_time,
)

__all__ = [
    "DEFAULT",
    "IDEAL",
    "Calibration",
    "CalibrationDeviceWarning",
    "Efficiencies",
    "GridEstimate",
    "MLASpec",
    "MemoryFootprint",
    "MoESpec",
    "ModelDoesNotFitError",
    "ModelSpec",
    "Parallelism",
    "ParamCount",
    "PerfModelError",
    "Quant",
    "StepEstimate",
    "UnknownNameError",
    "decode_time",
    "estimate_grid",
    "estimate_step",
    "get_model",
    "list_models",
    "max_batch",
    "memory_footprint",
    "model_catalog",
    "prefill_time",
]
