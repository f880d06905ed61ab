"""`cpu`: time per CPU and mode from /proc/stat, as node_exporter's cpu collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

# node_exporter (prometheus/procfs) assumes USER_HZ = 100, as every Linux ABI in use does.
USER_HZ = 100
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = ("user", "nice")

SECONDS = Desc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "counter",
               ("cpu", "mode"))
GUEST = Desc("node_cpu_guest_seconds_total",
             "Seconds the CPUs spent in guests (VMs) for each mode.", "counter", ("cpu", "mode"))


class CpuCollector(Collector):
    name = "cpu"
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        # Per-CPU label tuples, built once: ("0", "idle") ... in MODES order.
        self._keys: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {}

    def keys(self, cpu: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
        got = self._keys.get(cpu)
        if got is None:
            got = (tuple((cpu, m) for m in MODES), tuple((cpu, m) for m in GUEST_MODES))
            self._keys[cpu] = got
        return got

    def collect_procfs(self) -> Iterator[MetricFamily]:
        seconds, guest = Family(SECONDS), Family(GUEST)
        add, add_guest = seconds.samples.append, guest.samples.append
        for line in read_text(self.proc("stat")).splitlines():
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            fields = line.split()
            keys, guest_keys = self.keys(fields[0][3:])
            ticks = fields[1:]
            for key, value in zip(keys, ticks, strict=False):
                add((key, int(value) / USER_HZ))
            if len(ticks) >= 10:
                add_guest((guest_keys[0], int(ticks[8]) / USER_HZ))
                add_guest((guest_keys[1], int(ticks[9]) / USER_HZ))
        yield seconds
        yield guest

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        seconds, guest = Family(SECONDS), Family(GUEST)
        for i, times in enumerate(psutil.cpu_times(percpu=True)):
            cpu = str(i)
            values = times._asdict()
            for mode in MODES:
                if mode in values:
                    seconds.add((cpu, mode), float(values[mode]))
            for mode, field in (("user", "guest"), ("nice", "guest_nice")):
                if field in values:
                    guest.add((cpu, mode), float(values[field]))
        yield seconds
        if guest.samples:
            yield guest
