"""Serving engines fitted to measured benchmark results: the measurement records and their
readers, the fit through the serving model, serving-level validation, leave-one-source-out
checks and the error bands they give."""

from .bands import Bands, bands
from .fit import FitError, FitResult, fit
from .loso import Loso, leave_one_source_out
from .readers import read_results
from .records import Measurement, MeasurementError, bundled, read_csv
from .validate import ServingValidation, validate_serving

__all__ = [
    "Bands",
    "FitError",
    "FitResult",
    "Loso",
    "Measurement",
    "MeasurementError",
    "ServingValidation",
    "bands",
    "bundled",
    "fit",
    "leave_one_source_out",
    "read_csv",
    "read_results",
    "validate_serving",
]
