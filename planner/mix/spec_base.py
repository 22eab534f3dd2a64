"""Shared base of the plan-file models (planner.mix.spec, planner.mix.spec_traffic): strict
pydantic models (unknown fields refused, numbers finite, integers whole, no booleans as
numbers) and the fraction checks that tell a percentage from a fraction."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _has_type(annotation: Any, types: tuple[type, ...]) -> bool:
    """Whether ``annotation`` (``int``, ``list[float] | None``, ...) mentions one of ``types``."""
    if annotation in types:
        return True
    return any(_has_type(arg, types) for arg in get_args(annotation))


def _has_bool(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_has_bool(v) for v in value)
    return isinstance(value, bool)


def check_target(value: float) -> float:
    """A utilization target in (0, 1]; 70 means 70%."""
    if value > 1:
        raise ValueError(
            f"utilization_target is a fraction in (0, 1], e.g. 0.7 for 70% (it looks like a "
            f"percentage: write {value / 100:g} for {value:g}%)"
        )
    return value


def check_fraction(value: float, field: str, example: str, upper: float = 1.0) -> float:
    """``value`` must lie in [0, upper); a value of 1 or more is most likely a percentage."""
    if value >= upper:
        hint = f" (it looks like a percentage: write {value / 100:g} for {value:g}%)"
        hint = hint if value > 1 else ""
        raise ValueError(f"{field} is a fraction in [0, {upper:g}), e.g. {example}{hint}")
    return value


class StrictModel(BaseModel):
    """Plan-file models: unknown fields refused; numbers finite (no .inf / .nan), integers
    whole (pydantic refuses 1.5 for an int, no truncation), and no ``true`` taken as 1."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """``tp: true`` is not the number 1: refuse booleans where a number is meant."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None or not _has_bool(value):
            return value
        if _has_type(field.annotation, (int, float)) and not _has_type(field.annotation, (bool,)):
            raise ValueError("true/false is not a number; write the number itself")
        return value
