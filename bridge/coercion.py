"""Generic coercion of loosely typed values (YAML, environment, flags) into frozen dataclasses.

It knows types, not the bridge: a mapping becomes the dataclass its type hints describe, key by
key, with the scalar conversions an environment variable needs ("true", "5", "2.5"). Rules sit
with the schema itself:

- a field's `metadata={"check": f}`: `f(value)` returns a problem (a string) or None, checked
  once the value has its type (see `bridge.config` for the bounds written this way);
- a dataclass's `problem()` method: what is wrong with the entry as a whole, or None.

Every problem is a `ConfigError` naming the source, the dotted key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

# `str.isdigit` accepts '²', which `int` then refuses with a traceback.
ASCII_INT = re.compile(r"-?[0-9]{1,19}")

Check = Callable[[Any], str | None]


class ConfigError(Exception):
    """A configuration problem: where it came from, which key, and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


def checked(default: Any = dataclasses.MISSING, *, check: Check,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value `check` verifies when it is loaded."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"check": check})


def build(cls: type, data: Any, source: str, prefix: str = "") -> Any:
    """Turn a mapping into the frozen dataclass `cls`, checking every key, type and rule."""
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(data, Mapping):
        raise ConfigError(source, where, "expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(source, dotted, f"unknown key (valid: {', '.join(sorted(fields))})")
        kwargs[key] = coerce(hints[key], value, source, dotted)
    missing = [f.name for f in fields.values() if f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(source, where, f"missing required key(s): {', '.join(missing)}")
    instance = cls(**kwargs)
    problem = getattr(instance, "problem", None)
    if callable(problem) and (text := problem()) is not None:
        raise ConfigError(source, where, text)
    for key, value in kwargs.items():
        check = fields[key].metadata.get("check")
        if check is not None and (text := check(value)) is not None:
            raise ConfigError(source, f"{prefix}{key}", text)
    return instance


def coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    """`value` as the type `hint` (a dataclass, tuple, optional or scalar)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return coerce(inner, value, source, key)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, key + ".")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(source, key, f"expected a list, got {type(value).__name__}")
        return tuple(coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
    return scalar(hint, value, source, key)


def scalar(hint: Any, value: Any, source: str, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and ASCII_INT.fullmatch(value.strip()):
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    else:  # pragma: no cover - a field type this loader does not know is a programming error
        raise TypeError(f"unsupported config type {hint!r} for {key}")
    raise ConfigError(source, key, f"expected {hint.__name__}, got {value!r}")
