"""Strict YAML and JSON reading shared by every catalog and plan file: a key written twice in
one mapping is an error naming the key and both lines (plain ``yaml.safe_load`` and
``json.loads`` keep the last value silently).

Lives in hardware_specs (the bottom of the dependency chain) so planner and perfmodel can use it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["DuplicateKeyError", "StrictSafeLoader", "load_json", "load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError, ValueError):
    """A mapping repeats a key; the message is one line with the key and where it appears."""


class StrictSafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``yaml.SafeLoader`` (libyaml's parser where PyYAML has it: ~5x faster) that refuses a
    duplicate key in a mapping (merge keys ``<<`` may still be overridden, as YAML intends)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: the base constructor reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(
                        f"duplicate key {key!r} at line {line} (first at line {first}); "
                        "keep one of them (YAML would silently use the last)"
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that raises :class:`DuplicateKeyError` on a repeated key."""
    return yaml.load(text, Loader=StrictSafeLoader)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(
                f"duplicate key {key!r} in a JSON object; keep one of them "
                "(JSON readers would silently use the last)"
            )
        out[key] = value
    return out


def load_json(text: str) -> Any:
    """``json.loads`` that raises :class:`DuplicateKeyError` on a repeated key."""
    return json.loads(text, object_pairs_hook=_pairs)
