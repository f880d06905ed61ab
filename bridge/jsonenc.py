"""The bridge's one JSON encoder: compact, and NaN/infinities as Prometheus writes them.

It depends on nothing of the bridge, so every layer (the alert store, the stream frames, the
HTTP answers) can use it without depending on the HTTP layer.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_json_default)
_LENIENT = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def dumps(data: Any) -> str:
    """Compact JSON; NaN and infinities (which Prometheus returns) become strings, as in its API.

    Most documents hold none, so they are encoded as they are (the C encoder refuses a NaN
    rather than writing it); only one that holds one is copied by `finite` first."""
    try:
        return _ENCODER.encode(data)
    except ValueError:
        return _LENIENT.encode(finite(data))


def finite(data: Any) -> Any:
    """NaN and infinities as the strings Prometheus uses ("NaN", "+Inf", "-Inf"), at any depth:
    what JSON answers and msgpack frames carry, so both formats hold the same document."""
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("+Inf" if data > 0 else "-Inf")
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data
