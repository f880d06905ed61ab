"""`softnet`: per-CPU packet processing from /proc/net/softnet_stat, as node_exporter 1.5.

One line per online CPU of hex columns; 1.5 reports the first three (processed, dropped,
time squeezed) and labels each line with its index as `cpu`, as it does. A line with fewer
than 9 columns, or a column that is no 32-bit hex number, fails the collector.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

PROCESSED = Desc("node_softnet_processed_total", "Number of processed packets", "counter",
                 ("cpu",))
DROPPED = Desc("node_softnet_dropped_total", "Number of dropped packets", "counter", ("cpu",))
SQUEEZED = Desc("node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota", "counter", ("cpu",))
HEX32 = re.compile(r"[0-9a-fA-F]{1,8}")
MIN_COLUMNS = 9


class SoftnetCollector(Collector):
    name = "softnet"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("net", "softnet_stat")
        families = (Family(PROCESSED), Family(DROPPED), Family(SQUEEZED))
        for index, line in enumerate(read_text(path).splitlines()):
            columns = line.split()
            if len(columns) < MIN_COLUMNS:
                raise ValueError(f"{path}: line {index + 1}: {len(columns)} columns, "
                                 f"expected at least {MIN_COLUMNS}")
            key = (str(index),)
            for family, column in zip(families, columns, strict=False):
                if HEX32.fullmatch(column) is None:
                    raise ValueError(f"{path}: line {index + 1}: {column[:20]!r} is no "
                                     f"32-bit hex number")
                family.samples.append((key, int(column, 16)))
        if families[0].samples:  # an empty file: no families, as node_exporter
            yield from families
