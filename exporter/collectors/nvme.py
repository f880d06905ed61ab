"""`nvme`: NVMe controllers from /sys/class/nvme, as node_exporter 1.5's nvme collector.

One `node_nvme_info{device,firmware_revision,model,serial,state}` per controller. Without
the class directory, or when a controller lacks one of the four attributes, the family is
left out with success 0, as 1.5 does (procfs wraps the missing file as "does not exist").
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_attr
from exporter.exposition import Desc, Family, MetricFamily

INFO = Desc("node_nvme_info", "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            "gauge", ("device", "firmware_revision", "model", "serial", "state"))
ATTRS = ("firmware_rev", "model", "serial", "state")


class NvmeCollector(Collector):
    name = "nvme"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "nvme")
        info = Family(INFO)
        try:
            for device in sorted(os.listdir(base)):
                path = os.path.join(base, device)
                values = tuple(read_attr(os.path.join(path, attr)) for attr in ATTRS)
                info.samples.append(((device, *values), 1))
        except FileNotFoundError as exc:
            raise NoDataError(f"{exc.filename}: does not exist") from None
        if info.samples:
            yield info
