"""`stat`: boot time, context switches, interrupts, forks and run queue from /proc/stat;
with `--collector.stat.softirq`, softirq calls per vector (node_softirqs_total), as 1.5."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import Collector, option, read_text
from exporter.exposition import Desc, Family, MetricFamily, single

BOOT_TIME = Desc("node_boot_time_seconds", "Node boot time, in unixtime.", "gauge")
CONTEXT_SWITCHES = Desc("node_context_switches_total", "Total number of context switches.",
                        "counter")
INTR = Desc("node_intr_total", "Total number of interrupts serviced.", "counter")
FORKS = Desc("node_forks_total", "Total number of forks.", "counter")
PROCS_RUNNING = Desc("node_procs_running", "Number of processes in runnable state.", "gauge")
PROCS_BLOCKED = Desc("node_procs_blocked",
                     "Number of processes blocked waiting for I/O to complete.", "gauge")

# /proc/stat key -> family, in node_exporter's order.
SOFTIRQS = Desc("node_softirqs_total", "Number of softirq calls.", "counter", ("vector",))
# The per-vector columns of /proc/stat's softirq line, after its total.
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "block_iopoll", "tasklet", "sched",
           "hrtimer", "rcu")
DECIMAL = re.compile(r"[0-9]{1,20}")
FIELDS = {"btime": BOOT_TIME, "ctxt": CONTEXT_SWITCHES, "intr": INTR, "processes": FORKS,
          "procs_running": PROCS_RUNNING, "procs_blocked": PROCS_BLOCKED}


@dataclass(frozen=True)
class StatConfig:
    softirq: bool = option("--collector.stat.softirq", False,
                           "report node_softirqs_total per softirq vector")


def softirqs(path: str, line: str) -> Family:
    """node_softirqs_total from `softirq TOTAL HI TIMER ...` (procfs wants all ten)."""
    fields = line.split()[2:12]
    if len(fields) != len(VECTORS) or not all(DECIMAL.fullmatch(f) for f in fields):
        raise ValueError(f"{path}: couldn't parse {line[:80]!r} (softirq)")
    return Family(SOFTIRQS, [((vector,), int(value))
                             for vector, value in zip(VECTORS, fields, strict=True)])


class StatCollector(Collector):
    name = "stat"
    options = StatConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def collect_procfs(self) -> Iterator[MetricFamily]:
        found: dict[str, int] = {}
        softirq = None
        path = self.proc("stat")
        for line in read_text(path).splitlines():
            key, _, rest = line.partition(" ")
            if key in FIELDS:
                # `intr` is followed by per-IRQ counts: only the total is exported.
                found[key] = int(rest.split(None, 1)[0])
            elif key == "softirq" and self.config.stat.softirq:
                softirq = softirqs(path, line)
        if "btime" not in found:
            raise ValueError(f"{path}: no btime line")
        for key, desc in FIELDS.items():
            if key in found:
                yield single(desc, found[key])
        if softirq is not None:
            yield softirq

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        yield single(BOOT_TIME, float(psutil.boot_time()))
        stats = psutil.cpu_stats()
        yield single(CONTEXT_SWITCHES, int(stats.ctx_switches))
        yield single(INTR, int(stats.interrupts))
