"""Query-parameter parsing shared by REST (and usable by streams): times, durations, instances.

Every problem is a `BadRequest` whose detail starts with the parameter's name, so a client knows
which one to fix. Times and durations use Prometheus' own syntaxes, so URLs that work against
Prometheus work here: times as unix seconds or RFC 3339, durations as seconds or `1h30m`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.errors import BadRequest

# Prometheus keeps times as int64 milliseconds: seconds beyond this cannot be asked for.
MAX_TIME = 9.2e15
# Longest raw PromQL expression a request or subscription may carry (the OpenAPI maxLength).
MAX_PROMQL = 2000
_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
# Prometheus duration: units largest first, each at most once (e.g. 1h30m, 90s, 500ms).
# re.ASCII everywhere: `\d` would accept other scripts' digits, which `float` then reads.
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?"
                       r"(?:(\d+)ms)?", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def parse_duration(text: str, name: str) -> float:
    """Seconds from `15`, `1.5`, `15s`, `1m`, `1h30m`, `2d`; > 0 or BadRequest naming `name`."""
    text = text.strip()
    value = _number(text, name, "a duration")
    if value is None:
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise BadRequest(f"{name}: {text!r:.80} is not a duration (seconds, or like 15s, 1m, "
                             "1h30m)", parameter=name)
        value = sum(float(g) * unit for g, unit in zip(match.groups(), _UNITS.values(),
                                                       strict=True) if g)
        if not math.isfinite(value):
            raise BadRequest(f"{name}: {text!r:.80} is too long a duration", parameter=name)
    if value <= 0:
        raise BadRequest(f"{name}: must be > 0, got {text!r}", parameter=name)
    return float(value)


def parse_time(text: str, name: str) -> float:
    """Unix seconds from `1764100000[.5]` or RFC 3339 (`2026-11-25T20:00:00Z`; no offset = UTC)."""
    text = text.strip()
    value = _number(text, name, "a time")
    if value is not None:
        return value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r:.80} is not a time (unix seconds or RFC 3339 like "
                         "2026-11-25T20:00:00Z)", parameter=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _number(text: str, name: str, what: str) -> float | None:
    """`text` as a decimal number, None when it is not written as one; a number too large for
    a float is a BadRequest (it must not fall through to the other syntax)."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"{name}: {text!r:.80} is out of range for {what}", parameter=name)
    return value


def parse_number(text: str, name: str, what: str = "a number of seconds") -> float:
    """A finite ASCII decimal (`2`, `0.5`, `1e3`), or BadRequest naming `name`. `float` alone
    would take `nan`, `inf`, `1_0`, surrounding spaces and other scripts' digits."""
    value = _number(text, name, what)
    if value is None:
        raise BadRequest(f"{name}: expected {what}, got {text!r:.40}", parameter=name)
    return value


_ASCII_UINT = re.compile(r"[0-9]{1,19}")


def parse_uint(text: str, name: str, low: int = 0, high: int = 2**63 - 1) -> int:
    """A plain ASCII decimal integer in [low, high], or BadRequest naming `name`. The one place
    integers are read from URLs and headers: `str.isdigit` accepts '²' (which `int` refuses)
    and `int` accepts other scripts' digits; neither belongs in a parameter."""
    if not _ASCII_UINT.fullmatch(text) or not low <= int(text) <= high:
        raise BadRequest(f"{name}: expected an integer from {low} to {high}, got {text!r:.40}",
                         parameter=name)
    return int(text)


def parse_list(query: Mapping[str, str] | object, name: str) -> list[str] | None:
    """`?name=a&name=b` or `?name=a,b` -> ["a", "b"]; absent or empty -> None."""
    getall = getattr(query, "getall", None)
    raw = getall(name, []) if getall else []
    values = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    return values or None


def parse_instances(query: Mapping[str, str] | object) -> list[str] | None:
    """REST's instance filter: `?instance=a&instance=b` or `?instance=a,b`."""
    return parse_list(query, "instance")


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float
    step: float

    @property
    def points(self) -> float:
        """Points per series; infinite when a tiny step over a long range overflows."""
        count = (self.end - self.start) / self.step
        return math.floor(count + 1e-9) + 1.0 if math.isfinite(count) else math.inf


def parse_range(query: Mapping[str, str], now: float, default_range: float,
                max_points: int, target_points: int = 1000) -> TimeRange:
    """`start`/`end`/`step` or `range` (+ optional `end`) into a checked TimeRange.

    No start and no range = the last `default_range` seconds. No step = the range divided into
    about `target_points` points (at least 1 s). Reversed times, step <= 0, or more than
    `max_points` points per series are BadRequests naming the parameter.
    """
    end = parse_time(query["end"], "end") if query.get("end") else now
    if query.get("start") and query.get("range"):
        raise BadRequest("range: give either start or range, not both", parameter="range")
    if query.get("start"):
        start = parse_time(query["start"], "start")
    elif query.get("range"):
        start = end - parse_duration(query["range"], "range")
    else:
        start = end - default_range
    for value, param in ((end, "end"), (start, "range" if query.get("range") else "start")):
        if not -MAX_TIME <= value <= MAX_TIME:
            raise BadRequest(f"{param}: {value:.6g} is outside the times Prometheus accepts "
                             f"(unix seconds within ±{MAX_TIME:.3g})", parameter=param)
    if end < start:
        raise BadRequest(f"end: {end:.3f} is before start {start:.3f}", parameter="end")
    if query.get("step"):
        step = parse_duration(query["step"], "step")
    else:
        step = max(1.0, math.ceil((end - start) / target_points))
    rng = TimeRange(start, end, step)
    if rng.points > max_points:
        raise BadRequest(f"step: {step:g}s over {end - start:g}s gives {rng.points:.6g} points "
                         f"per series, more than the limit of {max_points}; use a larger step",
                         parameter="step")
    return rng


def check_promql(query: str, param: str = "query") -> str:
    """A raw PromQL expression, stripped: refused when blank or longer than MAX_PROMQL."""
    if not query.strip():
        raise BadRequest(f"{param}: a PromQL expression is required", parameter=param)
    if len(query) > MAX_PROMQL:
        raise BadRequest(f"{param}: {len(query)} characters, more than the limit of "
                         f"{MAX_PROMQL}", parameter=param)
    return query.strip()
