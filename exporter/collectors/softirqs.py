"""`softirqs`: per-CPU softirq counts from /proc/softirqs (off by default).

node_exporter 1.5 has no such collector: it came in 1.6.0 with these names
(`node_softirqs_functions_total{cpu,type}`), so 1.6's are used. As procfs' parser: the
first line (the CPU header) must be there; lines with fewer than two fields and unknown
softirq names are skipped; a count that is no unsigned integer fails the collector.
The stat collector's `node_softirqs_total{vector}` (--collector.stat.softirq) is another family.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text, to_uint
from exporter.exposition import Desc, Family, MetricFamily

FUNCTIONS = Desc("node_softirqs_functions_total", "Softirq counts per CPU.", "counter",
                 ("cpu", "type"))
# procfs' fields, in the order node_exporter reports them.
TYPES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
         "HRTIMER", "RCU")


class SoftirqsCollector(Collector):
    name = "softirqs"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("softirqs")
        lines = read_text(path).splitlines()
        if not lines:
            raise ValueError(f"{path}: empty, expected a CPU header line")
        counts: dict[str, list[int]] = {}
        for number, line in enumerate(lines[1:], 2):
            parts = line.split()
            if len(parts) < 2 or not parts[0].endswith(":") or parts[0][:-1] not in TYPES:
                continue
            counts[parts[0][:-1]] = [to_uint(p, f"{path}: line {number}") for p in parts[1:]]
        family = Family(FUNCTIONS)
        for kind in TYPES:
            for cpu, value in enumerate(counts.get(kind, ())):
                family.add((str(cpu), kind), value)
        if family.samples:
            yield family
