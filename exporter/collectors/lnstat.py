"""`lnstat`: the kernel's network cache statistics from /proc/net/stat/* (off by default).

As node_exporter 1.5 (procfs' NetStat): each file's first line names its columns, every
further line is one CPU's counters in hex; each column becomes the counter
`node_lnstat_<column>_total{subsystem=<file>,cpu=<line index>}`. A value that is no 64-bit
hex number, or more values than columns, fails the collector; no directory: nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

HELP = "linux network cache stats"
HEX64 = re.compile(r"[0-9a-fA-F]{1,16}")


class LnstatCollector(Collector):
    name = "lnstat"
    default_enabled = False

    def __init__(self, config) -> None:
        super().__init__(config)
        self.descs: dict[str, Desc] = {}  # column -> Desc; columns are the kernel's few dozen

    def desc(self, column: str) -> Desc:
        got = self.descs.get(column)
        if got is None:
            if len(self.descs) >= 1000:
                self.descs.clear()
            got = self.descs[column] = Desc(f"node_lnstat_{column}_total", HELP, "counter",
                                            ("subsystem", "cpu"))
        return got

    def collect(self) -> Iterator[MetricFamily]:
        directory = self.proc("net", "stat")
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        families: dict[str, Family] = {}
        for name in names:
            self.read_file(os.path.join(directory, name), name, families)
        yield from families.values()

    def read_file(self, path: str, subsystem: str, families: dict[str, Family]) -> None:
        lines = read_text(path).splitlines()
        if not lines:
            return
        headers = lines[0].split()
        for cpu, line in enumerate(lines[1:]):
            values = line.split()
            if len(values) > len(headers):
                raise ValueError(f"{path}: line {cpu + 2}: {len(values)} values for "
                                 f"{len(headers)} columns")
            for column, text in zip(headers, values, strict=False):
                if HEX64.fullmatch(text) is None:
                    raise ValueError(f"{path}: line {cpu + 2}: {text[:20]!r} is no hex number")
                family = families.get(column)
                if family is None:
                    family = families[column] = Family(self.desc(column))
                family.add((subsystem, str(cpu)), int(text, 16))
