"""`entropy`: the kernel's available entropy and pool size, as node_exporter 1.5 reports them."""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, MetricFamily, single

AVAILABLE = Desc("node_entropy_available_bits", "Bits of available entropy.", "gauge")
POOL_SIZE = Desc("node_entropy_pool_size_bits", "Bits of entropy pool.", "gauge")


class EntropyCollector(Collector):
    name = "entropy"

    def collect(self) -> Iterator[MetricFamily]:
        # Both files must parse, or the collector fails (node_exporter errors on either).
        for desc, leaf in ((AVAILABLE, "entropy_avail"), (POOL_SIZE, "poolsize")):
            path = self.proc("sys", "kernel", "random", leaf)
            text = read_text(path).strip()
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"{path}: expected an integer, got {text[:40]!r}")
            yield single(desc, int(text))
