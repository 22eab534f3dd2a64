"""Where profiles live: shipped ones under ``hardware_specs/profiles/<accelerator>/``."""

from __future__ import annotations

from pathlib import Path

import hardware_specs
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.profile import PROFILE_CSV, Profile

PROFILES_DIR = Path(hardware_specs.__file__).parent / "profiles"


def list_profiles(root: str | Path = PROFILES_DIR) -> list[str]:
    """Names (directory names) of the profiles under ``root``."""
    root = Path(root)
    return sorted(p.parent.name for p in root.glob(f"*/{PROFILE_CSV}"))


def load_profile(name_or_dir: str | Path, expected_device: str | None = None) -> Profile:
    """A profile from a directory path, or a shipped profile by its directory name."""
    path = Path(name_or_dir)
    if not (path / PROFILE_CSV).is_file():
        shipped = PROFILES_DIR / str(name_or_dir)
        if not (shipped / PROFILE_CSV).is_file():
            known = ", ".join(list_profiles()) or "none"
            raise ProfileError(f"no profile at {str(path)!r} (no {PROFILE_CSV}); shipped: {known}")
        path = shipped
    return Profile.load(path, expected_device)
