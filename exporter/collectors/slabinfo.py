"""`slabinfo`: the kernel's slab caches from /proc/slabinfo (off by default; root only).

As node_exporter 1.5 (procfs' slabinfo 2.1 parser): the `slabinfo - version` and `# name`
lines are skipped; every other line, its whitespace runs made single spaces, must have
exactly 16 fields with integers where they belong, else the collector fails. Five gauges
per slab: active objects, objects, object size, objects per slab, pages per slab.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

DESCS = (
    Desc("node_slabinfo_active_objects",
         "The number of objects that are currently active (i.e., in use).", "gauge", ("slab",)),
    Desc("node_slabinfo_objects", "The total number of allocated objects (i.e., objects that "
         "are both in use and not in use).", "gauge", ("slab",)),
    Desc("node_slabinfo_object_size_bytes", "The size of objects in this slab, in bytes.",
         "gauge", ("slab",)),
    Desc("node_slabinfo_objects_per_slab", "The number of objects stored in each slab.",
         "gauge", ("slab",)),
    Desc("node_slabinfo_pages_per_slab", "The number of pages allocated for each slab.",
         "gauge", ("slab",)),
)
SPACE = re.compile(r"\s+")
INT64 = re.compile(r"[+-]?[0-9]+")
# Columns procfs parses (it fails on any of them): the five reported, then the tunables
# limit, batchcount, sharedfactor and the slabdata active_slabs, num_slabs, sharedavail.
REPORTED = (1, 2, 3, 4, 5)
CHECKED = (8, 9, 10, 13, 14, 15)


def int64(text: str, where: str) -> int:
    """Go's strconv.ParseInt(s, 10, 64)."""
    if INT64.fullmatch(text) is None or not -(1 << 63) <= int(text) < 1 << 63:
        raise ValueError(f"{where}: expected an integer, got {text[:40]!r}")
    return int(text)


class SlabinfoCollector(Collector):
    name = "slabinfo"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("slabinfo")
        families = tuple(Family(d) for d in DESCS)
        seen: set[str] = set()
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if "slabinfo -" in line or "# name" in line:
                continue
            fields = SPACE.sub(" ", line).split(" ")
            where = f"{path}: line {number}"
            if len(fields) != 16:
                raise ValueError(f"{where}: {len(fields)} fields, expected 16")
            values = [int64(fields[i], where) for i in REPORTED]
            for i in CHECKED:
                int64(fields[i], where)
            if fields[0] in seen:  # client_golang drops a repeated series
                continue
            seen.add(fields[0])
            for family, value in zip(families, values, strict=True):
                family.add((fields[0],), value)
        if families[0].samples:
            yield from families
