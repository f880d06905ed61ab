"""What every collector is: a name, the config, and `collect()` yielding metric families.

Collectors read the host through `config.paths` (procfs, sysfs, rootfs), so tests point them
at a fixture tree instead of faking anything. On Linux they read /proc and /sys directly (it is
both faster than psutil and exactly what node_exporter reads); elsewhere the ones psutil can
serve fall back to psutil, which follows `psutil.PROCFS_PATH`.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Iterator
from typing import ClassVar

from exporter.config import ExporterConfig
from exporter.exposition import MetricFamily

LINUX = sys.platform.startswith("linux")


class NoDataError(Exception):
    """The platform lacks this data (no PSI, no hwmon): success 0, logged at debug only."""


class Collector:
    """Base class: subclasses set `name` and implement `collect`."""

    name: ClassVar[str]
    # Platforms it can work on; others never enable it by default.
    platforms: ClassVar[tuple[str, ...]] = ("linux",)
    # The backend used off Linux ("psutil", "os"); None for collectors that only read procfs.
    fallback: ClassVar[str | None] = None

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        self.config = config
        # "procfs" on Linux, else the fallback; tests pick one to compare it with /proc.
        self.backend = backend or ("procfs" if LINUX or self.fallback is None
                                   else self.fallback)
        self.procfs = config.paths.procfs
        self.sysfs = config.paths.sysfs
        self.rootfs = config.paths.rootfs

    def collect(self) -> Iterator[MetricFamily]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the collector holds (threads, caches); called at shutdown."""

    def psutil(self) -> types.ModuleType:
        """psutil, reading this config's procfs (it follows psutil.PROCFS_PATH on Linux)."""
        import psutil

        if LINUX:
            psutil.PROCFS_PATH = self.procfs
        return psutil

    def proc(self, *parts: str) -> str:
        return os.path.join(self.procfs, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sysfs, *parts)


class Matcher:
    """`regex.search(value)` remembered per value: the same devices and mounts come back on
    every scrape. Bounded, since names come and go (veths, containers' mounts)."""

    def __init__(self, pattern: str, limit: int = 10_000) -> None:
        self.search = re.compile(pattern).search
        self.limit = limit
        self._seen: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        got = self._seen.get(value)
        if got is None:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            got = self._seen[value] = self.search(value) is not None
        return got


class DeviceFilter:
    """node_exporter's device filter: ignored when the exclude regex matches or an include
    regex is given and does not (empty = not given; Go's MatchString, i.e. re.search)."""

    def __init__(self, exclude: str = "", include: str = "") -> None:
        self.exclude = Matcher(exclude) if exclude else None
        self.include = Matcher(include) if include else None

    def ignored(self, name: str) -> bool:
        return (self.exclude is not None and self.exclude(name)) or \
            (self.include is not None and not self.include(name))


def read_text(path: str) -> str:
    """A whole (small) file as text; /proc files report size 0, so read until EOF."""
    with open(path, "rb", buffering=0) as f:
        return f.read().decode("utf-8", "replace")


def read_optional(path: str) -> str | None:
    """A file's stripped text, or None when it does not exist or cannot be read."""
    try:
        return read_text(path).strip()
    except OSError:
        return None


INTEGER = re.compile(r"-?[0-9]+")


def to_int(text: str, where: str) -> int:
    """A decimal integer as the kernel writes it, else ValueError naming `where`.

    Python's int() also takes "1_000", "+1", " 1" and non-ASCII digits; a file holding those
    is malformed, and the collector reading it must fail rather than report a guess.
    """
    if INTEGER.fullmatch(text) is None:
        raise ValueError(f"{where}: expected an integer, got {text[:40]!r}")
    return int(text)


def supported(collector: type[Collector]) -> bool:
    return any(sys.platform.startswith(p) for p in collector.platforms) or \
        "any" in collector.platforms
