"""Shared fixtures for the accelerator catalog tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import hardware_specs
from hardware_specs import loader

SpecWriter = Callable[..., Path]


@pytest.fixture(autouse=True)
def _isolated_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No user path from the environment, and no leftover in-memory registrations."""
    monkeypatch.delenv(hardware_specs.ENV_VAR, raising=False)
    before = dict(loader._registered)
    yield
    loader._registered.clear()
    loader._registered.update(before)


@pytest.fixture
def valid_spec() -> dict[str, Any]:
    """A complete, valid spec dict (a renamed copy of the bundled H100-SXM)."""
    spec = hardware_specs.get("H100-SXM").to_dict()
    spec.update(name="Test-Accel", aliases=["testaccel-x"])
    return spec


@pytest.fixture
def write_spec(tmp_path: Path) -> SpecWriter:
    """Write a spec dict as YAML into ``tmp_path`` (or a given directory); return the path."""

    def write(spec: dict[str, Any], filename: str = "spec.yaml", directory: Path | None = None):
        directory = directory or tmp_path
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / filename
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path

    return write
