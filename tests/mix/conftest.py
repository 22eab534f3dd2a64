"""Fixtures of the GPU-mix planner tests: Mélange's toy example as a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mix_fixtures import MELANGE_TOY


@pytest.fixture
def melange_toy(tmp_path: Path) -> Path:
    """Mélange's toy config written to a JSON file."""
    path = tmp_path / "melange_toy.json"
    path.write_text(json.dumps(MELANGE_TOY))
    return path
