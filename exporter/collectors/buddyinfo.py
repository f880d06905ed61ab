"""`buddyinfo` (off by default): free memory blocks per order from /proc/buddyinfo, as 1.5.

`node_buddyinfo_blocks{node,zone,size}`: one gauge per zone line and per order (`size` is
the order, 0 for single pages). Parsed as procfs does: a line needs "Node N, zone NAME" and
every zone the same number of orders; a count that is no number fails the collector. Without
the file (no procfs there) the family is left out, success 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.collectors.go_float import parse_float
from exporter.exposition import Desc, Family, MetricFamily

BLOCKS = Desc("node_buddyinfo_blocks", "Count of free blocks according to size.", "gauge",
              ("node", "zone", "size"))


def parse(text: str, path: str) -> list[tuple[str, str, list[float | int]]]:
    """(node, zone, counts per order) per line, with procfs' checks."""
    zones: list[tuple[str, str, list[float | int]]] = []
    orders = -1
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"{path}:{number}: invalid number of fields")
        counts = parts[4:]
        if orders == -1:
            orders = len(counts)
        elif orders != len(counts):
            raise ValueError(f"{path}:{number}: {len(counts)} orders, previous lines {orders}")
        values = [parse_float(count, f"{path}:{number}") for count in counts]
        zones.append((parts[1].rstrip(","), parts[3].rstrip(","), values))
    return zones


class BuddyinfoCollector(Collector):
    name = "buddyinfo"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("buddyinfo")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        family = Family(BLOCKS)
        for node, zone, counts in parse(text, path):
            for order, count in enumerate(counts):
                family.samples.append(((node, zone, str(order)), count))
        if family.samples:
            yield family
