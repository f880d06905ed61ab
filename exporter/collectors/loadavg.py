"""`loadavg`: the 1, 5 and 15 minute load averages."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, MetricFamily, single

LOADS = (Desc("node_load1", "1m load average.", "gauge"),
         Desc("node_load5", "5m load average.", "gauge"),
         Desc("node_load15", "15m load average.", "gauge"))


class LoadavgCollector(Collector):
    name = "loadavg"
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd")
    fallback = "os"  # os.getloadavg()

    def collect_procfs(self) -> Iterator[MetricFamily]:
        fields = read_text(self.proc("loadavg")).split()
        if len(fields) < 3:
            raise ValueError(f"{self.proc('loadavg')}: expected 3 load averages, "
                             f"got {fields!r}")
        return self.loads(float(v) for v in fields[:3])

    def collect_os(self) -> Iterator[MetricFamily]:
        return self.loads(os.getloadavg())

    @staticmethod
    def loads(values: Iterable[float]) -> Iterator[MetricFamily]:
        for desc, value in zip(LOADS, values, strict=True):
            yield single(desc, value)
