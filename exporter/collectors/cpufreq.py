"""`cpufreq`: per-CPU frequencies from sysfs' cpufreq, as node_exporter 1.5's cpufreq collector.

For each `devices/system/cpu/cpuN/cpufreq/`: the hardware's current, minimum and maximum
frequency (`cpuinfo_*`, often root only) and the governor's (`scaling_*`), kHz turned to Hz.
A file the CPU lacks or that may not be read is left out; a CPU without cpufreq (a VM) has
none. Only these six files are read: 1.5 also reads five text attributes it never reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, numbered, optional_uint
from exporter.exposition import Desc, Family, MetricFamily


def _d(name: str, help: str) -> Desc:
    return Desc(f"node_cpu_{name}", help, "gauge", ("cpu",))


# (file, family), in 1.5's order
FILES = (
    ("cpuinfo_cur_freq", _d("frequency_hertz", "Current cpu thread frequency in hertz.")),
    ("cpuinfo_min_freq", _d("frequency_min_hertz", "Minimum cpu thread frequency in hertz.")),
    ("cpuinfo_max_freq", _d("frequency_max_hertz", "Maximum cpu thread frequency in hertz.")),
    ("scaling_cur_freq", _d("scaling_frequency_hertz",
                            "Current scaled CPU thread frequency in hertz.")),
    ("scaling_min_freq", _d("scaling_frequency_min_hertz",
                            "Minimum scaled CPU thread frequency in hertz.")),
    ("scaling_max_freq", _d("scaling_frequency_max_hertz",
                            "Maximum scaled CPU thread frequency in hertz.")),
)


class CpufreqCollector(Collector):
    name = "cpufreq"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("devices", "system", "cpu")
        families = [Family(desc) for _, desc in FILES]
        for cpu in numbered(base, "cpu"):
            directory = os.path.join(base, cpu, "cpufreq")
            if not os.path.isdir(directory):
                continue
            key = (cpu[3:],)
            for (file, _), family in zip(FILES, families, strict=True):
                value = optional_uint(os.path.join(directory, file))
                if value is not None:
                    family.samples.append((key, value * 1000.0))
        yield from (family for family in families if family.samples)
