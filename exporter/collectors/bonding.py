"""`bonding`: configured and active slaves per bonding master, as node_exporter 1.5.

Masters are listed in /sys/class/net/bonding_masters; a slave is active when its
`bonding_slave/mii_status` (under `lower_<slave>`, or `slave_<slave>` on older kernels) is
`up`. Without the bonding module the file is absent: families left out, success 0, as 1.5.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

ACTIVE = Desc("node_bonding_active", "Number of active slaves per bonding interface.", "gauge",
              ("master",))
SLAVES = Desc("node_bonding_slaves", "Number of configured slaves per bonding interface.",
              "gauge", ("master",))


def mii_status(master_dir: str, slave: str) -> str:
    try:
        return read_text(os.path.join(master_dir, f"lower_{slave}", "bonding_slave",
                                      "mii_status")).strip()
    except FileNotFoundError:
        return read_text(os.path.join(master_dir, f"slave_{slave}", "bonding_slave",
                                      "mii_status")).strip()


class BondingCollector(Collector):
    name = "bonding"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "net")
        try:
            masters = read_text(os.path.join(base, "bonding_masters")).split()
        except FileNotFoundError:
            raise NoDataError(f"{base}/bonding_masters does not exist") from None
        slaves, active = Family(SLAVES), Family(ACTIVE)
        for master in masters:
            directory = os.path.join(base, master)
            names = read_text(os.path.join(directory, "bonding", "slaves")).split()
            up = sum(mii_status(directory, slave) == "up" for slave in names)
            slaves.samples.append(((master,), len(names)))
            active.samples.append(((master,), up))
        if slaves.samples:
            yield active
            yield slaves
