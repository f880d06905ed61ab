"""`arp`: ARP table entries per device from /proc/net/arp, as node_exporter 1.5 counts them.

Every line but the `IP address ...` header counts one entry for its last column, the device;
`--collector.arp.device-include` / `-exclude` filter the devices. A line with fewer than six
columns fails the collector, as it does node_exporter's.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, DeviceFilter, read_text
from exporter.config import ExporterConfig
from exporter.exposition import Desc, Family, MetricFamily

ENTRIES = Desc("node_arp_entries", "ARP entries by device", "gauge", ("device",))


class ArpCollector(Collector):
    name = "arp"

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
