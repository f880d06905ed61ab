"""Checks of outside input (webhooks, Alertmanager's API, manual alerts) that name the offending
field in their BadRequest: `alerts[3].labels.severity: expected a string, got int`.

Every alert of every webhook passes through these, so the accepting path formats nothing: a
field's dotted name is put together (`path`) only for the error that names it. A field is given
as `where` (its parent's path, "" at the top) and `name`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bridge.errors import BadRequest

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # fullmatch: no trailing newline
STATUSES = ("firing", "resolved")


def path(where: str, name: str) -> str:
    """`where.name`, or `name` at the top."""
    return f"{where}.{name}" if where else name


def kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def require(data: Mapping[str, Any], where: str, name: str) -> Any:
    if name not in data:
        raise BadRequest(f"{path(where, name)}: missing")
    return data[name]


def string(value: Any, where: str, name: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{path(where, name)}: expected a string, got {kind(value)}")
    _unicode(value, where, name)
    if not empty and not value:
        raise BadRequest(f"{path(where, name)}: must not be empty")
    return value


def optional_string(value: Any, where: str, name: str) -> str:
    """A string field Alertmanager may leave out or null (generatorURL): "" then."""
    return "" if value is None else string(value, where, name)


def absent_empty(value: Any) -> Any:
    """An object field left out or null is empty; any other value is checked as given (a
    `false` is not an empty object)."""
    return {} if value is None else value


def labels(value: Any, where: str, name: str, *, names: bool = True) -> dict[str, str]:
    """An object of strings (label names checked when `names`), returned as given. A well-formed
    one is checked in a few C-level passes; anything else takes the field-by-field walk, which
    names what is wrong."""
    if isinstance(value, dict) and _well_formed(value, names):
        return value
    field = path(where, name)
    if not isinstance(value, dict):
        raise BadRequest(f"{field}: expected an object of strings, got {kind(value)}")
    for key, item in value.items():
        _unicode(key, where, name)
        if not isinstance(item, str):
            raise BadRequest(f"{field}.{key}: expected a string, got {kind(item)}")
        _unicode(item, field, key)
        if names and not LABEL_NAME.fullmatch(key):
            raise BadRequest(f"{field}: invalid label name {key!r}")
    return value


def _well_formed(value: dict[Any, Any], names: bool) -> bool:
    """Every key and value a string holding no lone surrogate, and, with `names`, every key a
    label name: what the walk in `labels` accepts (joining fails on a non-string, and encoding
    on a surrogate, which the UTF-8 codec refuses whatever stands beside it)."""
    try:
        "".join(value.values()).encode()
        "".join(value).encode()
    except (TypeError, UnicodeEncodeError):
        return False
    return not names or all(map(LABEL_NAME.fullmatch, value))


def _unicode(value: str, where: str, name: str) -> None:
    """JSON may carry lone surrogates (`"\\ud800"`), which are not Unicode text: they could
    not be stored, hashed into a fingerprint or sent to a subscriber."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BadRequest(f"{path(where, name)}: {value!r:.80} holds a lone surrogate (not "
                         "valid Unicode)") from None


def status(value: Any, where: str, name: str = "status") -> str:
    if value not in STATUSES:
        raise BadRequest(f"{path(where, name)}: expected \"firing\" or \"resolved\", "
                         f"got {value!r}")
    return value


def count(value: Any, where: str, name: str) -> int:
    """A non-negative integer; JSON's `3.0` is one too (JSON Schema calls it an integer, and
    some encoders write every number that way)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{path(where, name)}: expected a non-negative integer, "
                         f"got {value!r:.40}")
    return value


def id_list(value: Any, where: str, name: str) -> tuple[str, ...]:
    """A list of ids, sorted: peers may list the same silences in another order."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"{path(where, name)}: expected a list, got {kind(value)}")
    field = path(where, name)
    return tuple(sorted(string(item, "", f"{field}[]") for item in value))
