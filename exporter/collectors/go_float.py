"""Go's strconv.ParseFloat for the plain numbers /proc writes, shared by the collectors that
node_exporter parses with it (buddyinfo, interrupts, meminfo_numa)."""

from __future__ import annotations

import re

# ParseFloat's decimal forms (node_exporter's inputs never hold its hex, inf or nan forms).
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
UNSIGNED = re.compile(r"[0-9]+")


def parse_float(text: str, where: str) -> float | int:
    """The value of `text` (an int when it is a plain integer, so it prints as Go prints the
    float), else ValueError naming `where`."""
    if UNSIGNED.fullmatch(text) is not None:
        return int(text)
    if NUMBER.fullmatch(text) is None:
        raise ValueError(f"{where}: invalid value {text[:20]!r}")
    return float(text)
