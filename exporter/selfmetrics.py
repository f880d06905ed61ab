"""The exporter's own `process_*` metrics, named and computed as client_golang's process
collector does them for node_exporter (`--web.disable-exporter-metrics` turns them off).

prometheus_client's ProcessCollector would do, but importing prometheus_client costs ~12 MiB
of RSS; this reads /proc/self/stat and /proc/self/fd (the exporter's own process, whatever
--path.procfs says) and asks getrlimit for the limits. The start time is computed once: it is
a fact about the past. Off Linux, psutil answers the same questions.
"""

from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # Windows: no rlimits, the limit families are left out
    resource = None  # type: ignore[assignment]

from exporter.exposition import Desc, Family, single

CPU = Desc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
           "counter")
OPEN_FDS = Desc("process_open_fds", "Number of open file descriptors.", "gauge")
MAX_FDS = Desc("process_max_fds", "Maximum number of open file descriptors.", "gauge")
VSIZE = Desc("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge")
VSIZE_MAX = Desc("process_virtual_memory_max_bytes",
                 "Maximum amount of virtual memory available in bytes.", "gauge")
RSS = Desc("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge")
START = Desc("process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.", "gauge")
# What procfs reports for "unlimited" (Go's max uint64), as node_exporter prints it.
UNLIMITED = 18446744073709551615


def soft_limits() -> list[Family]:
    """process_max_fds and process_virtual_memory_max_bytes: the soft limits."""
    if resource is None:
        return []
    out = []
    for desc, which in ((MAX_FDS, resource.RLIMIT_NOFILE), (VSIZE_MAX, resource.RLIMIT_AS)):
        soft = resource.getrlimit(which)[0]
        out.append(single(desc, UNLIMITED if soft == resource.RLIM_INFINITY or soft < 0
                          else soft))
    return out


class ProcessMetrics:
    """Fresh families of this process's CPU, memory, file descriptors and start time."""

    def __init__(self) -> None:
        self.linux = sys.platform.startswith("linux")
        if self.linux:
            self.ticks = os.sysconf("SC_CLK_TCK")
            self.page_size = os.sysconf("SC_PAGESIZE")
            self.start_time = self._linux_start_time()
        else:
            import psutil

            self.process = psutil.Process()
            self.start_time = self.process.create_time()

    @staticmethod
    def _stat_fields() -> list[str]:
        """/proc/self/stat after the command name (which may hold spaces and parentheses);
        field N of proc(5) is at index N - 3."""
        with open("/proc/self/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
        return text[text.rindex(")") + 2:].split()

    def _linux_start_time(self) -> float:
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
        return btime + int(self._stat_fields()[19]) / self.ticks

    def collect(self) -> list[Family]:
        if self.linux:
            fields = self._stat_fields()
            cpu = (int(fields[11]) + int(fields[12])) / self.ticks
            vsize, rss = int(fields[20]), int(fields[21]) * self.page_size
            open_fds = len(os.listdir("/proc/self/fd"))
        else:
            times, memory = self.process.cpu_times(), self.process.memory_info()
            cpu, vsize, rss = times.user + times.system, memory.vms, memory.rss
            open_fds = self.process.num_fds() if hasattr(self.process, "num_fds") else \
                self.process.num_handles()
        return [single(CPU, cpu), single(OPEN_FDS, open_fds), single(RSS, rss),
                single(START, self.start_time), single(VSIZE, vsize), *soft_limits()]
