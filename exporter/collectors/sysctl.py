"""`sysctl`: chosen sysctls from /proc/sys (off by default; nothing without includes).

As node_exporter 1.5: each `--collector.sysctl.include` (repeatable) is `name` or
`name:key1,key2,...` and its values are integers (Go's base-0 ParseInt): one value is the
untyped `node_sysctl_<name>`, several are `node_sysctl_<name>{index}`, or with keys one
`node_sysctl_<name>_<key>` each (their count must match). Each
`--collector.sysctl.include-info` gives `node_sysctl_info{name,value,index}` 1 per
whitespace-separated value. Like procfs, a sysctl is one read of up to 128 bytes. A missing
sysctl, a non-integer, or a key count that does not match fails the collector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, go_int, option
from exporter.exposition import Desc, Family, MetricFamily, single

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

INFO = Desc("node_sysctl_info", "sysctl info", "gauge", ("name", "value", "index"))
# node_exporter's SanitizeMetricName.
UNSAFE = re.compile(r"_*[^0-9A-Za-z_]+_*")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
READ_SIZE = 128  # procfs' SysReadFile


def parse_include(include: str) -> tuple[str, tuple[str, ...]]:
    """`name[:key,key...]` as (name, keys)."""
    name, sep, keys = include.partition(":")
    return name, tuple(keys.split(",")) if sep else ()


def check_includes(values: tuple[str, ...]) -> str | None:
    """Includes whose metric names would be invalid (1.5 panics at the scrape instead)."""
    for include in values:
        name, keys = parse_include(include)
        base = "node_sysctl_" + UNSAFE.sub("_", name)
        if not name or any(METRIC_NAME.fullmatch(f"{base}_{k}") is None for k in keys):
            return f"{include!r} makes no valid metric name"
    return None


@dataclass(frozen=True)
class SysctlConfig:
    include: tuple = option("--collector.sysctl.include", (),
                            "sysctl to report as numbers: NAME or NAME:KEY,KEY,...",
                            check=check_includes)
    include_info: tuple = option("--collector.sysctl.include-info", (),
                                 "sysctl to report as node_sysctl_info labels",
                                 check=check_includes)


class Sysctl:
    """One include: its path under /proc/sys and its metric descriptions, built once."""

    def __init__(self, include: str, numeric: bool) -> None:
        self.name, self.keys = parse_include(include)
        self.numeric = numeric
        self.path = ("sys", *self.name.split("."))
        base = "node_sysctl_" + UNSAFE.sub("_", self.name)
        self.single = Desc(base, f"sysctl {self.name}", "untyped")
        self.indexed = Desc(base, f"sysctl {self.name}", "untyped", ("index",))
        self.mapped = [Desc(f"{base}_{key}", f"sysctl {self.name}, field {i}", "untyped")
                       for i, key in enumerate(self.keys)]


class SysctlCollector(Collector):
    name = "sysctl"
    options = SysctlConfig
    default_enabled = False

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.sysctls = [Sysctl(i, True) for i in config.sysctl.include] + \
            [Sysctl(i, False) for i in config.sysctl.include_info]

    def read(self, s: Sysctl) -> list[str]:
        fd = os.open(self.proc(*s.path), os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.read(fd, READ_SIZE).decode("utf-8", "replace").split()
        finally:
            os.close(fd)

    def collect(self) -> Iterator[MetricFamily]:
        info = Family(INFO)
        out: dict[str, MetricFamily] = {}
        for s in self.sysctls:
            fields = self.read(s)
            if not fields:
                raise ValueError(f"sysctl {s.name} has no values")
            if not s.numeric:
                for index, value in enumerate(fields):
                    info.add((s.name, value, str(index)), 1)
                continue
            for family in self.numeric(s, fields):
                out.setdefault(family.name, family)  # client_golang drops a repeated series
        if info.samples:
            out[INFO.name] = info
        yield from out.values()

    @staticmethod
    def numeric(s: Sysctl, fields: list[str]) -> list[MetricFamily]:
        values = []
        for i, text in enumerate(fields):
            value = go_int(text)
            if value is None:
                raise ValueError(f"field {i} in sysctl {s.name} is not a valid int: {text!r}")
            values.append(value)
        if len(values) == 1:
            if s.keys:
                raise ValueError(f"sysctl {s.name} has only one value, but expected "
                                 f"{list(s.keys)}")
            return [single(s.single, values[0])]
        if not s.keys:
            family = Family(s.indexed)
            for i, value in enumerate(values):
                family.add((str(i),), value)
            return [family]
        if len(values) != len(s.keys):
            raise ValueError(f"sysctl {s.name} has {len(values)} keys but only "
                             f"{len(s.keys)} defined in flag")
        return [single(desc, value) for desc, value in zip(s.mapped, values, strict=True)]
