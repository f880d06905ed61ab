"""`xfs`: per-filesystem XFS statistics from /sys/fs/xfs/*/stats/stats, as node_exporter 1.5.

Each file has one line per category (`extent_alloc 1 872 0 0`); 1.5 reports 40 of the
counters, labelled with the filesystem's device (the directory name). Every line is checked
as prometheus/procfs does (uint32 counters, `xpc` uint64, a fixed count for each known
category), so a garbled file fails the collector rather than shifting values. A category
the file lacks leaves its series out (1.5 reports 0 for it). No XFS
mounted: no families, and success 1, as in 1.5.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

# Known categories and the value counts procfs accepts for them.
COUNTS = {"extent_alloc": (4,), "abt": (4,), "blk_map": (7,), "bmbt": (4,), "dir": (4,),
          "trans": (3,), "ig": (7,), "log": (5,), "push_ail": (10,), "xstrat": (2,),
          "rw": (2,), "attr": (4,), "icluster": (3,), "vnodes": (7, 8), "buf": (9,),
          "abtb2": (15,), "abtc2": (15,), "bmbt2": (15,), "ibt2": (15,), "qm": (8, 9),
          "debug": (1,), "xpc": (3,)}
UINT = re.compile(r"[0-9]{1,20}")


def _btree(line: str, name: str, what: str) -> list[tuple[str, int, str, str]]:
    return [(line, 0, f"{name}_lookups_total", f"Number of {what} B-tree lookups for a "
             "filesystem."),
            (line, 1, f"{name}_compares_total", f"Number of {what} B-tree compares for a "
             "filesystem."),
            (line, 2, f"{name}_records_inserted_total", f"Number of {what} B-tree records "
             "inserted for a filesystem."),
            (line, 3, f"{name}_records_deleted_total", f"Number of {what} B-tree records "
             "deleted for a filesystem.")]


# (category, column, family name after node_xfs_, HELP), in 1.5's order.
METRICS: list[tuple[str, int, str, str]] = [
    ("extent_alloc", 0, "extent_allocation_extents_allocated_total",
     "Number of extents allocated for a filesystem."),
    ("extent_alloc", 1, "extent_allocation_blocks_allocated_total",
     "Number of blocks allocated for a filesystem."),
    ("extent_alloc", 2, "extent_allocation_extents_freed_total",
     "Number of extents freed for a filesystem."),
    ("extent_alloc", 3, "extent_allocation_blocks_freed_total",
     "Number of blocks freed for a filesystem."),
    *_btree("abt", "allocation_btree", "allocation"),
    ("blk_map", 0, "block_mapping_reads_total",
     "Number of block map for read operations for a filesystem."),
    ("blk_map", 1, "block_mapping_writes_total",
     "Number of block map for write operations for a filesystem."),
    ("blk_map", 2, "block_mapping_unmaps_total", "Number of block unmaps (deletes) for a "
     "filesystem."),
    ("blk_map", 3, "block_mapping_extent_list_insertions_total",
     "Number of extent list insertions for a filesystem."),
    ("blk_map", 4, "block_mapping_extent_list_deletions_total",
     "Number of extent list deletions for a filesystem."),
    ("blk_map", 5, "block_mapping_extent_list_lookups_total",
     "Number of extent list lookups for a filesystem."),
    ("blk_map", 6, "block_mapping_extent_list_compares_total",
     "Number of extent list compares for a filesystem."),
    *_btree("bmbt", "block_map_btree", "block map"),
    ("dir", 0, "directory_operation_lookup_total", "Number of file name directory lookups "
     "which miss the operating systems directory name lookup cache."),
    ("dir", 1, "directory_operation_create_total",
     "Number of times a new directory entry was created for a filesystem."),
    ("dir", 2, "directory_operation_remove_total",
     "Number of times an existing directory entry was created for a filesystem."),
    ("dir", 3, "directory_operation_getdents_total",
     "Number of times the directory getdents operation was performed for a filesystem."),
    ("ig", 0, "inode_operation_attempts_total",
     "Number of times the OS looked for an XFS inode in the inode cache."),
    ("ig", 1, "inode_operation_found_total",
     "Number of times the OS looked for and found an XFS inode in the inode cache."),
    ("ig", 2, "inode_operation_recycled_total", "Number of times the OS found an XFS inode "
     "in the cache, but could not use it as it was being recycled."),
    ("ig", 3, "inode_operation_missed_total",
     "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
    ("ig", 4, "inode_operation_duplicates_total", "Number of times the OS tried to add a "
     "missing XFS inode to the inode cache, but found it had already been added by another "
     "process."),
    ("ig", 5, "inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS "
     "inode from the inode cache to free memory for another purpose."),
    ("ig", 6, "inode_operation_attribute_changes_total",
     "Number of times the OS explicitly changed the attributes of an XFS inode."),
    # procfs reads the kernel's `rw` line as write calls, then read calls.
    ("rw", 1, "read_calls_total", "Number of read(2) system calls made to files in a "
     "filesystem."),
    ("rw", 0, "write_calls_total", "Number of write(2) system calls made to files in a "
     "filesystem."),
    ("vnodes", 0, "vnode_active_total", "Number of vnodes not on free lists for a filesystem."),
    ("vnodes", 1, "vnode_allocate_total", "Number of times vn_alloc called for a filesystem."),
    ("vnodes", 2, "vnode_get_total", "Number of times vn_get called for a filesystem."),
    ("vnodes", 3, "vnode_hold_total", "Number of times vn_hold called for a filesystem."),
    ("vnodes", 4, "vnode_release_total", "Number of times vn_rele called for a filesystem."),
    ("vnodes", 5, "vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem."),
    ("vnodes", 6, "vnode_remove_total", "Number of times vn_remove called for a filesystem."),
]
DESCS = [(line, column, Desc(f"node_xfs_{name}", help, "counter", ("device",)))
         for line, column, name, help in METRICS]


def parse_stats(path: str, text: str) -> dict[str, list[int]]:
    """{category: counters}; lines with no value are skipped, as procfs does."""
    out: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) < 2:
            continue
        label, values = fields[0], fields[1:]
        limit = 1 << 64 if label == "xpc" else 1 << 32
        if not all(UINT.fullmatch(v) and int(v) < limit for v in values):
            raise ValueError(f"{path}: line {number}: {label} values must be unsigned "
                             f"{64 if label == 'xpc' else 32}-bit integers")
        counts = COUNTS.get(label)
        if counts is not None and len(values) not in counts:
            raise ValueError(f"{path}: line {number}: {len(values)} values for {label}, "
                             f"expected {' or '.join(map(str, counts))}")
        out[label] = [int(v) for v in values]
    return out


class XfsCollector(Collector):
    name = "xfs"

    def collect(self) -> Iterator[MetricFamily]:
        families = [(line, column, Family(desc)) for line, column, desc in DESCS]
        pattern = os.path.join(glob.escape(self.sys("fs", "xfs")), "*", "stats", "stats")
        for path in sorted(glob.glob(pattern)):
            device = os.path.basename(os.path.dirname(os.path.dirname(path)))
            try:
                text = read_text(path)
            except FileNotFoundError:
                continue  # unmounted since the listing
            stats = parse_stats(path, text)
            for line, column, family in families:
                values = stats.get(line)
                # A category the file lacks is left out; 1.5 reports procfs' zero value.
                if values is not None:
                    family.samples.append(((device,), values[column]))
        yield from (family for _, _, family in families if family.samples)
