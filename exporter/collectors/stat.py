"""`stat`: boot time, context switches, interrupts, forks and run queue from /proc/stat."""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, MetricFamily, single

BOOT_TIME = Desc("node_boot_time_seconds", "Node boot time, in unixtime.", "gauge")
CONTEXT_SWITCHES = Desc("node_context_switches_total", "Total number of context switches.",
                        "counter")
INTR = Desc("node_intr_total", "Total number of interrupts serviced.", "counter")
FORKS = Desc("node_forks_total", "Total number of forks.", "counter")
PROCS_RUNNING = Desc("node_procs_running", "Number of processes in runnable state.", "gauge")
PROCS_BLOCKED = Desc("node_procs_blocked",
                     "Number of processes blocked waiting for I/O to complete.", "gauge")

# /proc/stat key -> family, in node_exporter's order.
FIELDS = {"btime": BOOT_TIME, "ctxt": CONTEXT_SWITCHES, "intr": INTR, "processes": FORKS,
          "procs_running": PROCS_RUNNING, "procs_blocked": PROCS_BLOCKED}


class StatCollector(Collector):
    name = "stat"
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def collect_procfs(self) -> Iterator[MetricFamily]:
        found: dict[str, int] = {}
        for line in read_text(self.proc("stat")).splitlines():
            key, _, rest = line.partition(" ")
            if key in FIELDS:
                # `intr` is followed by per-IRQ counts: only the total is exported.
                found[key] = int(rest.split(None, 1)[0])
        if "btime" not in found:
            raise ValueError(f"{self.proc('stat')}: no btime line")
        for key, desc in FIELDS.items():
            if key in found:
                yield single(desc, found[key])

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        yield single(BOOT_TIME, float(psutil.boot_time()))
        stats = psutil.cpu_stats()
        yield single(CONTEXT_SWITCHES, int(stats.ctx_switches))
        yield single(INTR, int(stats.interrupts))
