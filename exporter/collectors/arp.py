"""`arp`: ARP table entries per device from /proc/net/arp, as node_exporter 1.5 counts them.

Every line but the `IP address ...` header counts one entry for its last column, the device;
`--collector.arp.device-include` / `-exclude` filter the devices. A line with fewer than six
columns fails the collector, as it does node_exporter's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, DeviceFilter, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

ENTRIES = Desc("node_arp_entries", "ARP entries by device", "gauge", ("device",))


@dataclass(frozen=True)
class ArpConfig:
    # Regexes of devices to report (empty: all) and to leave out (empty: none).
    device_include: str = option("--collector.arp.device-include", "",
                                 "regex of devices whose ARP entries to report", regex=True)
    device_exclude: str = option("--collector.arp.device-exclude", "",
                                 "regex of devices whose ARP entries to leave out", regex=True)


class ArpCollector(Collector):
    name = "arp"
    options = ArpConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.filter = DeviceFilter(config.arp.device_exclude, config.arp.device_include)

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("net", "arp")
        counts: dict[str, int] = {}
        for number, line in enumerate(read_text(path).splitlines(), 1):
            columns = line.split()
            if len(columns) < 6:
                raise ValueError(f"{path}: line {number}: {len(columns)} columns, expected 6")
            if columns[0] != "IP":
                counts[columns[-1]] = counts.get(columns[-1], 0) + 1
        family = Family(ENTRIES)
        for device, count in counts.items():
            if not self.filter.ignored(device):
                family.add((device,), count)
        if family.samples:  # as node_exporter: no entries, no family (not an empty header)
            yield family
