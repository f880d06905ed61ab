"""`schedstat`: per-CPU scheduler time from /proc/schedstat, as node_exporter 1.5.

From each `cpuN` line, fields 7-9: nanoseconds running and waiting, and timeslices run.
Without the file (kernels built without CONFIG_SCHEDSTATS) the families are left out with
success 0. 1.5 silently skips a `cpuN` line it cannot parse; here such a line fails the
collector, since dropping one CPU's series would look like data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

RUNNING = Desc("node_schedstat_running_seconds_total",
               "Number of seconds CPU spent running a process.", "counter", ("cpu",))
WAITING = Desc("node_schedstat_waiting_seconds_total",
               "Number of seconds spent by processing waiting for this CPU.", "counter", ("cpu",))
TIMESLICES = Desc("node_schedstat_timeslices_total", "Number of timeslices executed by CPU.",
                  "counter", ("cpu",))
CPU_LINE = re.compile(r"cpu(\d+) (?:\d+ ){6}(\d+) (\d+) (\d+)(?: .*)?")
NS = 1e9


class SchedstatCollector(Collector):
    name = "schedstat"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("schedstat")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        running, waiting, slices = Family(RUNNING), Family(WAITING), Family(TIMESLICES)
        for line in text.splitlines():
            if not line.startswith("cpu"):
                continue
            m = CPU_LINE.fullmatch(line)
            if m is None:
                raise ValueError(f"{path}: invalid line {line[:60]!r}")
            key = (m.group(1),)
            running.samples.append((key, int(m.group(2)) / NS))
            waiting.samples.append((key, int(m.group(3)) / NS))
            slices.samples.append((key, float(m.group(4))))
        if running.samples:
            yield running
            yield slices
            yield waiting
