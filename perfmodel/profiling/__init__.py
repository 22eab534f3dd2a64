"""Measured kernel profiles: the torch microbenchmark suite, the profile format, calibration
from measurements, the reference decoder and validation against it.

torch is imported lazily (only when measuring): ``import perfmodel.profiling`` works without
it, and loading a shipped profile or importing your own CSV needs no torch.

Example (the shipped CPU profile)::

    profile = load_profile("cpu-amd-epyc-2t")
    acc = profile.register()
    perfmodel.estimate_step(model, acc, [(1, 512)], quant="fp32", calibration=profile)
"""

from __future__ import annotations

from perfmodel.profiling._torch import TORCH_MISSING, TorchMissingError
from perfmodel.profiling.byo import import_csv
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.provenance import Provenance
from perfmodel.profiling.store import PROFILES_DIR, list_profiles, load_profile

__all__ = [
    "PROFILES_DIR",
    "TORCH_MISSING",
    "Profile",
    "ProfileError",
    "Provenance",
    "TorchMissingError",
    "import_csv",
    "list_profiles",
    "load_profile",
    "run_suite",
    "run_validation",
]


def run_suite(*args, **kwargs) -> Profile:
    """Run the microbenchmark suite (needs torch); see `suite.run_suite`."""
    from perfmodel.profiling.suite import run_suite as _run

    return _run(*args, **kwargs)


def run_validation(*args, **kwargs):
    """Time the reference decoder and compare with perfmodel; see `validate.run_validation`."""
    from perfmodel.profiling.validate import run_validation as _run

    return _run(*args, **kwargs)
