"""Reading a plan file: YAML or JSON (duplicate keys refused; a Mélange config converted),
validated by planner.mix.spec.PlanSpec, with one line per bad field naming where it is, what
is wrong and what is accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hardware_specs.yaml_strict import DuplicateKeyError, load_json, load_yaml
from planner.mix.errors import PlanSpecError
from planner.mix.spec import PlanSpec


def load_plan(path: str | Path) -> PlanSpec:
    """Read and validate a plan file (YAML, or JSON; a Mélange JSON config is converted).

    Raises:
        PlanSpecError: unreadable file, bad YAML/JSON, or a field fails validation; the
            message names the file, the field and what would be accepted.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = load_json(text) if path.suffix == ".json" else load_yaml(text)
    except DuplicateKeyError as exc:
        raise PlanSpecError(f"{path}: {exc}") from None
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise PlanSpecError(f"{path}: cannot read plan file: {exc}") from exc
    if isinstance(data, dict) and "gpu_info" in data:
        from planner.mix.melange import plan_from_melange

        return plan_from_melange(path)
    if not isinstance(data, dict):
        raise PlanSpecError(f"{path}: expected a mapping of plan fields, got {type(data).__name__}")
    data.setdefault("base_dir", str(path.parent))
    return validate_plan(data, source=str(path))


def validate_plan(data: dict[str, Any], source: str = "<plan>") -> PlanSpec:
    """Validate a plan dict; errors name ``source`` and each bad field."""
    try:
        return PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise PlanSpecError(format_validation_error(source, exc)) from None


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per bad field: where, what is wrong, what is accepted."""
    lines = [f"{source}: invalid plan ({err.error_count()} error(s))"]
    for item in err.errors():
        loc = tuple(item["loc"])
        where = _loc_text(loc) or "<root>"
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            accepted = accepted_fields(loc[:-1])
            msg = f"unknown field; accepted: {', '.join(accepted)}" if accepted else msg
        got = ""
        if item["type"] not in ("missing", "extra_forbidden") and not isinstance(
            item["input"], dict
        ):
            got = f" (got {_short(item['input'])})"
        lines.append(f"  field '{where}': {msg}{got}{_FIXES.get(item['type'], '')}")
    return "\n".join(lines)


_FIXES = {
    "finite_number": "; use a finite number (not .inf or .nan)",
    "int_from_float": "; use a whole number (no truncation)",
    "int_parsing": "; use a whole number",
    "int_type": "; use a whole number",
    "float_parsing": "; use a number",
    "float_type": "; use a number",
}


def _loc_text(loc: tuple) -> str:
    """``models[0].traffic.histogram[2].prob``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def accepted_fields(loc: tuple) -> list[str]:
    """Field names of the model found by walking ``loc`` from :class:`PlanSpec`."""
    cls: Any = PlanSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if _is_model(cls) else None
        if field is None:
            return []
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    return list(cls.model_fields) if _is_model(cls) else []


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _model_in(annotation: Any) -> Any:
    """The BaseModel class inside ``X``, ``list[X]``, ``X | None`` or ``Annotated[X, ...]``."""
    if _is_model(annotation):
        return annotation
    if get_origin(annotation) is Annotated:
        return _model_in(get_args(annotation)[0])
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
