"""`meminfo_numa` (off by default): memory per NUMA node from /sys/devices/system/node, as 1.5.

From each `nodeN/meminfo` ("Node 0 MemTotal: 8 kB"), `node_memory_numa_<Field>{node}` gauges
(kB become bytes, `Active(anon)` becomes `Active_anon`; 1.5 adds no `_bytes` suffix here),
and from `nodeN/numastat` the counters `node_memory_numa_<field>_total{node}` (numa_hit,
local_node, ...). Help is 1.5's "Memory information field <name>.". A node missing either
file, a line of another shape or a value that is no number fails the collector; a host
without the directory (no NUMA support) reports nothing, success 1, as 1.5.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, numbered, read_text
from exporter.collectors.go_float import parse_float
from exporter.exposition import Desc, Family, MetricFamily

PARENS = re.compile(r"\((.*)\)")
NODE = re.compile(r"node([0-9]*)")  # 1.5's meminfoNodeRE: the digits after "node"


def parse_meminfo(text: str, path: str) -> list[tuple[str, str, float | int]]:
    """(field, node, value in bytes or count) per line of a node's meminfo."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            raise ValueError(f"{path}: invalid line {line[:60]!r}")
        value = parse_float(parts[3], path)
        if len(parts) == 5 and parts[4] == "kB":
            value *= 1024
        elif len(parts) != 4:
            raise ValueError(f"{path}: invalid line {line[:60]!r}")
        out.append((PARENS.sub(r"_\1", parts[2].rstrip(":")), parts[1], value))
    return out


def parse_numastat(text: str, path: str) -> list[tuple[str, float | int]]:
    """(field, count) per line of a node's numastat."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"{path}: line {line[:60]!r} has not 2 fields")
        out.append((parts[0], parse_float(parts[1], path)))
    return out


class MeminfoNumaCollector(Collector):
    name = "meminfo_numa"
    default_enabled = False

    def __init__(self, config) -> None:
        super().__init__(config)
        self._descs: dict[tuple[str, str], Desc] = {}

    def desc(self, name: str, type: str) -> Desc:
        """The family for a field, built once per field (fields are the same every scrape)."""
        got = self._descs.get((name, type))
        if got is None:
            if len(self._descs) >= 1000:
                self._descs.clear()
            got = self._descs[(name, type)] = Desc(
                f"node_memory_numa_{name}", f"Memory information field {name}.", type,
                ("node",))
        return got

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("devices", "system", "node")
        families: dict[str, Family] = {}

        def add(name: str, type: str, node: str, value: float | int) -> None:
            family = families.get(name)
            if family is None:
                family = families[name] = Family(self.desc(name, type))
            family.samples.append(((node,), value))

        for entry in numbered(base, "node"):
            directory = os.path.join(base, entry)
            path = os.path.join(directory, "meminfo")
            for field, node, value in parse_meminfo(read_text(path), path):
                add(field, "gauge", node, value)
            path = os.path.join(directory, "numastat")
            for field, value in parse_numastat(read_text(path), path):
                add(field + "_total", "counter", NODE.match(entry).group(1), value)
        yield from families.values()
