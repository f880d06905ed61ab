"""`zoneinfo` (off by default): per-zone page counts from /proc/zoneinfo, as 1.5.

The file is split into blocks at each "\\nNode" (as procfs does, so a node's "per-node stats"
go to the zone block they are printed in); each block's "Node N, zone NAME" gives the
`node` and `zone` labels of its fields. Only the fields 1.5 knows are reported, and only where
the block has them: gauges such as `node_zoneinfo_nr_free_pages`, `node_zoneinfo_min_pages`,
counters `node_zoneinfo_numa_hit_total`, ..., and `node_zoneinfo_protection_<i>` per entry of
the `protection: (a, b, ...)` array. procfs drops a value it cannot parse without a word;
here a known field whose value is no integer fails the collector (a protection array that
does not parse is left out, as in 1.5). Without the file the families are left out,
success 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text, to_int
from exporter.exposition import Desc, Family, MetricFamily

LABELS = ("node", "zone")
NODE_ZONE = re.compile(r"(\d+), zone\s+(\w+)")


def _d(name: str, help: str, type: str = "gauge") -> Desc:
    return Desc(f"node_zoneinfo_{name}", help, type, LABELS)


# zoneinfo key -> family, in procfs' struct order (the order 1.5 emits them).
FIELDS = {
    "nr_free_pages": _d("nr_free_pages", "Total number of free pages in the zone"),
    "min": _d("min_pages", "Zone watermark pages_min"),
    "low": _d("low_pages", "Zone watermark pages_low"),
    "high": _d("high_pages", "Zone watermark pages_high"),
    "scanned": _d("scanned_pages", "Pages scanned since last reclaim"),
    "spanned": _d("spanned_pages", "Total pages spanned by the zone, including holes"),
    "present": _d("present_pages", "Physical pages existing within the zone"),
    "managed": _d("managed_pages", "Present pages managed by the buddy system"),
    "nr_active_anon": _d("nr_active_anon_pages", "Number of anonymous pages recently more used"),
    "nr_inactive_anon": _d("nr_inactive_anon_pages",
                           "Number of anonymous pages recently less used"),
    "nr_isolated_anon": _d("nr_isolated_anon_pages", "Temporary isolated pages from anon lru"),
    "nr_anon_pages": _d("nr_anon_pages", "Number of anonymous pages currently used by the system"),
    "nr_anon_transparent_hugepages": _d(
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system"),
    "nr_active_file": _d("nr_active_file_pages", "Number of active pages with file-backing"),
    "nr_inactive_file": _d("nr_inactive_file_pages", "Number of inactive pages with file-backing"),
    "nr_isolated_file": _d("nr_isolated_file_pages", "Temporary isolated pages from file lru"),
    "nr_file_pages": _d("nr_file_pages", "Number of file pages"),
    "nr_slab_reclaimable": _d("nr_slab_reclaimable_pages", "Number of reclaimable slab pages"),
    "nr_slab_unreclaimable": _d("nr_slab_unreclaimable_pages",
                                "Number of unreclaimable slab pages"),
    "nr_mlock_stack": _d("nr_mlock_stack_pages", "mlock()ed pages found and moved off LRU"),
    "nr_kernel_stack": _d("nr_kernel_stacks", "Number of kernel stacks"),
    "nr_mapped": _d("nr_mapped_pages", "Number of mapped pages"),
    "nr_dirty": _d("nr_dirty_pages", "Number of dirty pages"),
    "nr_writeback": _d("nr_writeback_pages", "Number of writeback pages"),
    "nr_unevictable": _d("nr_unevictable_pages", "Number of unevictable pages"),
    "nr_shmem": _d("nr_shmem_pages", "Number of shmem pages (included tmpfs/GEM pages)"),
    "nr_dirtied": _d("nr_dirtied_total", "Page dirtyings since bootup", "counter"),
    "nr_written": _d("nr_written_total", "Page writings since bootup", "counter"),
    "numa_hit": _d("numa_hit_total", "Allocated in intended node", "counter"),
    "numa_miss": _d("numa_miss_total", "Allocated in non intended node", "counter"),
    "numa_foreign": _d("numa_foreign_total", "Was intended here, hit elsewhere", "counter"),
    "numa_interleave": _d("numa_interleave_total", "Interleaver preferred this zone", "counter"),
    "numa_local": _d("numa_local_total", "Allocation from local node", "counter"),
    "numa_other": _d("numa_other_total", "Allocation from other node", "counter"),
}
PROTECTION_LIMIT = 64  # the kernel prints one entry per zone type (MAX_NR_ZONES, a handful)
PROTECTION = [_d(f"protection_{i}", f"Protection array {i}. field")
              for i in range(PROTECTION_LIMIT)]
INT64 = re.compile(r"[+-]?[0-9]+")


def protection(line: str) -> list[int] | None:
    """procfs' parse of "protection: (0, 2877, 7826)": None when any entry is no integer."""
    values = line.split(":")[1].replace("(", "", 1).replace(")", "", 1).strip().split(", ")
    if not all(INT64.fullmatch(v) and -(1 << 63) <= int(v) < 1 << 63 for v in values):
        return None
    return [int(v) for v in values][:PROTECTION_LIMIT]


def parse_block(block: str, path: str) -> tuple[str, str, dict[str, int], list[int]]:
    """(node, zone, {known key: value}, protection) of one "Node ..." block."""
    node = zone = ""
    values: dict[str, int] = {}
    protect: list[int] = []
    for line in block.split("\n"):
        m = NODE_ZONE.search(line)
        if m is not None:
            node, zone = m.groups()
            continue
        parts = line.split()
        if len(parts) < 2 or parts[0] == "per-node":
            continue
        if parts[0] in FIELDS:
            value = to_int(parts[1], f"{path}: node {node} zone {zone}: {parts[0]}")
            if not -(1 << 63) <= value < 1 << 63:
                raise ValueError(f"{path}: {parts[0]}: {value} is out of range")
            values[parts[0]] = value
        elif parts[0] == "protection:":
            protect = protection(line) or protect
    return node, zone, values, protect


class ZoneinfoCollector(Collector):
    name = "zoneinfo"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("zoneinfo")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        families = {key: Family(desc) for key, desc in FIELDS.items()}
        protections = [Family(desc) for desc in PROTECTION]
        for block in text.split("\nNode"):
            node, zone, values, protect = parse_block(block, path)
            for key, value in values.items():
                families[key].samples.append(((node, zone), value))
            for family, value in zip(protections, protect, strict=False):
                family.samples.append(((node, zone), value))
        yield from (f for f in families.values() if f.samples)
        yield from (f for f in protections if f.samples)
