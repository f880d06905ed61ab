"""The rules configuration fields carry: each check takes a value and returns the problem with
it, or None (`bridge.coercion.checked` keeps it in the field's metadata, beside the default),
and the limits some of them share with the code that uses them."""

from __future__ import annotations

import re
from typing import Any

from bridge.coercion import ASCII_INT, checked

# Upper bound of alerts.resend_interval: a day (beyond it reconciliation would never resolve).
RESEND_INTERVAL_MAX = 86_400.0
# The longest silence the bridge makes (POST /api/silences, acks and their extension).
MAX_SILENCE_SECONDS = 366 * 86_400.0


def is_positive(value: float) -> str | None:
    return f"must be > 0, got {value}" if value <= 0 else None


def is_non_negative(value: float) -> str | None:
    return f"must be >= 0, got {value}" if value < 0 else None


def resend_range(value: float) -> str | None:
    if not 0 <= value <= RESEND_INTERVAL_MAX:  # also refuses NaN
        return f"must be 0..{RESEND_INTERVAL_MAX:g}, got {value}"
    return None


def silence_length(value: float) -> str | None:
    if not 0 < value <= MAX_SILENCE_SECONDS:  # also refuses NaN
        return f"must be > 0 and at most {MAX_SILENCE_SECONDS:g} (366 days), got {value}"
    return None


def one_of(*choices: str) -> Any:
    folded = {c.lower() for c in choices}
    return lambda value: None if value.lower() in folded else \
        f"expected one of {', '.join(choices)}"


def http_url(url: str) -> str | None:
    if url and not url.startswith(("http://", "https://")):
        return f"expected an http(s) URL, got {url!r}"
    return None


def database_url(url: str) -> str | None:
    """Never echoes the value: it may hold a password."""
    if url and not url.startswith(("postgresql://", "postgres://")):
        return "expected a postgresql://USER:PASSWORD@HOST:PORT/DATABASE URL"
    return None


def parse_listen(value: str) -> tuple[str, int]:
    """Split HOST:PORT (":PORT" = all interfaces, "[::1]:PORT" for IPv6) or raise ValueError."""
    host, sep, port_s = value.rpartition(":")
    if not sep or not ASCII_INT.fullmatch(port_s) or not 0 <= int(port_s) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_s)


def listen_address(value: str) -> str | None:
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


def regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    return None


def positive(default: Any) -> Any:
    return checked(default, check=is_positive)


def non_negative(default: Any) -> Any:
    return checked(default, check=is_non_negative)
