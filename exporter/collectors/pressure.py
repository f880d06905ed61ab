"""`pressure`: pressure stall information (PSI) totals from /proc/pressure, where the kernel
has it (Linux >= 4.20 with CONFIG_PSI)."""

from __future__ import annotations

import errno
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, MetricFamily, single

# (resource, line kind) -> family. cpu "full" is not exported, as in node_exporter.
DESCS = {
    ("cpu", "some"): Desc("node_pressure_cpu_waiting_seconds_total",
                          "Total time in seconds that processes have waited for CPU time",
                          "counter"),
    ("io", "some"): Desc("node_pressure_io_waiting_seconds_total",
                         "Total time in seconds that processes have waited due to IO "
                         "congestion", "counter"),
    ("io", "full"): Desc("node_pressure_io_stalled_seconds_total",
                         "Total time in seconds no process could make progress due to IO "
                         "congestion", "counter"),
    ("memory", "some"): Desc("node_pressure_memory_waiting_seconds_total",
                             "Total time in seconds that processes have waited for memory",
                             "counter"),
    ("memory", "full"): Desc("node_pressure_memory_stalled_seconds_total",
                             "Total time in seconds no process could make progress due to "
                             "memory congestion", "counter"),
    ("irq", "full"): Desc("node_pressure_irq_stalled_seconds_total",
                          "Total time in seconds no process could make progress due to IRQ "
                          "congestion", "counter"),
}
RESOURCES = ("cpu", "io", "irq", "memory")


class PressureCollector(Collector):
    name = "pressure"

    def collect(self) -> Iterator[MetricFamily]:
        found = False
        for resource in RESOURCES:
            path = self.proc("pressure", resource)
            try:
                text = read_text(path)
            except FileNotFoundError:
                continue  # irq needs CONFIG_IRQ_TIME_ACCOUNTING; older kernels lack it
            except OSError as exc:
                if exc.errno == errno.EOPNOTSUPP:  # built with PSI, booted with psi=0
                    raise NoDataError(f"{path}: pressure stall information is disabled"
                                      ) from None
                raise
            found = True
            for line in text.splitlines():
                kind, _, rest = line.partition(" ")
                desc = DESCS.get((resource, kind))
                if desc is None:
                    continue
                total = rest.rpartition("total=")[2]
                if not total.isdigit():
                    raise ValueError(f"{path}: no total in {line!r}")
                # Microseconds; node_exporter divides twice by 1000, giving these exact floats.
                yield single(desc, int(total) / 1000 / 1000)
        if not found:
            raise NoDataError("pressure information is unavailable: needs Linux >= 4.20 with "
                              "CONFIG_PSI")
