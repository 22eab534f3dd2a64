"""Loading accelerator YAML files and resolving names.

Layers, later ones override earlier ones by accelerator name:
bundled ``data/`` < directories in ``$CAPPLAN_HARDWARE_PATH`` < ``extra_dirs``
< entries added in memory with :func:`register`.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from hardware_specs.errors import HardwareSpecError, UnknownHardwareError
from hardware_specs.schema import Accelerator
from hardware_specs.yaml_strict import DuplicateKeyError, load_yaml

BUNDLED_DIR = Path(__file__).parent / "data"
ENV_VAR = "CAPPLAN_HARDWARE_PATH"
YAML_SUFFIXES = (".yaml", ".yml")

PathLike = str | os.PathLike[str]

_registered: dict[str, Accelerator] = {}


def normalize(name: str) -> str:
    """Lookup key of a name: lower case, separators (space, ``-``, ``_``, ``.``) removed."""
    return re.sub(r"[\s\-_.]+", "", name.strip().lower())


def _short(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format_validation_error(path: Path, err: ValidationError) -> str:
    """One readable message: file, then one line per bad field with what is accepted."""
    lines = [f"{path}: invalid accelerator spec ({err.error_count()} error(s))"]
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"] if p != "[key]") or "<root>"
        got = f" (got {_short(item['input'])})" if item["type"] != "missing" else ""
        lines.append(f"  field '{field}': {item['msg']}{got}")
    return "\n".join(lines)


def load_file(path: PathLike) -> Accelerator:
    """Read and validate one accelerator YAML file.

    Raises:
        HardwareSpecError: unreadable file, bad YAML, or a field fails validation;
            the message names the file and the field.
    """
    path = Path(path)
    data = read_mapping(path, "accelerator")
    try:
        return Accelerator.model_validate(data)
    except ValidationError as exc:
        raise HardwareSpecError(_format_validation_error(path, exc)) from None


def read_mapping(path: Path, what: str) -> Mapping:
    """The YAML mapping in ``path`` (one error naming the file otherwise)."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise HardwareSpecError(f"{path}: {exc}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise HardwareSpecError(f"{path}: cannot read {what} YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise HardwareSpecError(f"{path}: expected a mapping of {what} fields, got {kind}")
    return data


def load_dir(directory: PathLike) -> list[Accelerator]:
    """Load every ``*.yaml`` / ``*.yml`` file of ``directory`` (sorted by file name)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise HardwareSpecError(f"{directory}: hardware spec directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES)
    return [load_file(p) for p in files]


@functools.cache
def bundled() -> tuple[Accelerator, ...]:
    """The accelerators shipped in ``hardware_specs/data`` (loaded once)."""
    return tuple(load_dir(BUNDLED_DIR))


def user_dirs(extra_dirs: Iterable[PathLike] | PathLike | None = None) -> list[Path]:
    """User directories in override order: ``$CAPPLAN_HARDWARE_PATH`` first, then ``extra_dirs``."""
    env = os.environ.get(ENV_VAR, "")
    dirs = [p for p in env.split(os.pathsep) if p.strip()]
    if isinstance(extra_dirs, str | os.PathLike):
        extra_dirs = [extra_dirs]
    dirs.extend(extra_dirs or ())
    return [Path(p).expanduser() for p in dirs]


def register(acc: Accelerator) -> None:
    """Add (or replace, by name) an accelerator in memory, e.g. a measured CPU."""
    if not isinstance(acc, Accelerator):
        raise HardwareSpecError(f"register() needs an Accelerator, got {type(acc).__name__}")
    _registered[normalize(acc.name)] = acc


def unregister(name: str) -> None:
    """Remove an in-memory entry added with :func:`register` (no-op if absent)."""
    _registered.pop(normalize(name), None)


def resolve(extra_dirs: Iterable[PathLike] | PathLike | None = None) -> dict[str, Accelerator]:
    """All visible accelerators keyed by normalized name, later layers overriding earlier."""
    entries: dict[str, Accelerator] = {normalize(a.name): a for a in bundled()}
    for directory in user_dirs(extra_dirs):
        entries.update({normalize(a.name): a for a in load_dir(directory)})
    entries.update(_registered)
    return entries


def build_index(entries: Mapping[str, Accelerator]) -> dict[str, str]:
    """Map every normalized name and alias to its entry's key; reject ambiguous aliases."""
    index = {key: key for key in entries}
    for key, acc in entries.items():
        for alias in acc.aliases:
            akey = normalize(alias)
            owner = index.setdefault(akey, key)
            if owner != key:
                other = entries[owner].name
                raise HardwareSpecError(
                    f"alias {alias!r} of {acc.name!r} is already a name or alias of {other!r}"
                )
    return index


def lookup(name: str, entries: Mapping[str, Accelerator]) -> Accelerator:
    """Find ``name`` among ``entries`` by name or alias, ignoring case and separators."""
    index = build_index(entries)
    key = index.get(normalize(name))
    if key is not None:
        return entries[key]
    raise UnknownHardwareError(_unknown_message(name, entries))


def _similarity(query: str, label: str) -> float:
    """difflib ratio of two normalized names, nudged up by a shared prefix."""
    pairs = zip(query, label, strict=False)
    prefix = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(query), len(label)))
    return difflib.SequenceMatcher(None, query, label).ratio() + 0.05 * prefix


def closest_names(name: str, entries: Mapping[str, Accelerator], n: int = 3) -> list[str]:
    """Up to ``n`` accelerator names most similar to ``name`` (over names and aliases)."""
    query = normalize(name)
    scores = {
        acc.name: max(_similarity(query, normalize(label)) for label in (acc.name, *acc.aliases))
        for acc in entries.values()
    }
    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    return [k for k in ranked if scores[k] >= 0.4][:n]


def _unknown_message(name: str, entries: Mapping[str, Accelerator]) -> str:
    """``unknown accelerator 'x'; closest: A, B, C``."""
    closest = closest_names(name, entries)
    if not closest:
        return f"unknown accelerator {name!r}; known: {', '.join(sorted(entries_names(entries)))}"
    return f"unknown accelerator {name!r}; closest: {', '.join(closest)}"


def entries_names(entries: Mapping[str, Accelerator]) -> list[str]:
    """Display names of ``entries``."""
    return [acc.name for acc in entries.values()]
