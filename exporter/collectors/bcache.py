"""`bcache`: bcache cache sets from /sys/fs/bcache, as node_exporter 1.5's bcache collector.

Per cache set (`<uuid>`): btree and cache gauges; per backing device (`bdevN`) dirty data,
the writeback controller (from `writeback_rate_debug`) and the `stats_total` counters; per
cache device (`cacheN`) errors and bytes written, and with `--collector.bcache.priorityStats`
the unused and metadata percentages of `priority_stats` (costly for the kernel to produce,
hence off by default, as in 1.5). Sizes are bcache's "human" numbers (`20.4G`, where `.4` is
in 1/10.24ths) turned into bytes exactly as procfs does. A file the kernel lacks is 0, as in
1.5; a garbled value fails the collector. Without bcache nothing is reported (success 1).
Only reported files are read (1.5 also reads the five-minute statistics it never exports).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import Collector, numbered, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

MULTIPLIERS = {"k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50,
               "E": 1 << 60, "Z": 1 << 70, "Y": 1 << 80}
GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
                      r"[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])")


def go_float(text: str, where: str) -> float:
    if GO_FLOAT.fullmatch(text) is None:
        raise ValueError(f"{where}: expected a number, got {text[:40]!r}")
    return float(text)


def to_u64(value: float) -> int:
    """Go's uint64(float64): truncation (out-of-range values are left to the caller)."""
    return int(value) if math.isfinite(value) and value >= 0 else 0


def dehumanize(text: str, where: str) -> int:
    """procfs' dehumanize: bch_hprint's `123`, `1.5k`, `20.4G` (fraction in 1/10.24ths)."""
    if not text:
        raise ValueError(f"{where}: empty value")
    if text[-1] > "9":
        mul = MULTIPLIERS.get(text[-1], 0)
        whole, dot, frac = text[:-1].partition(".")
        mant = go_float(whole, where)
        if dot:
            mant += go_float(frac, where) / 10.24
        return to_u64(mant * mul)
    return to_u64(go_float(text, where))


def dehumanize_signed(text: str, where: str) -> int:
    value = dehumanize(text.removeprefix("-"), where)
    return -value if text.startswith("-") else value


@dataclass(frozen=True)
class BcacheConfig:
    priority_stats: bool = option("--collector.bcache.priorityStats", False,
                                  "expose the (expensive) priority_stats of cache devices")


def _d(name: str, help: str, type: str = "gauge", extra: str | None = None) -> Desc:
    return Desc(f"node_bcache_{name}", help, type, ("uuid", extra) if extra else ("uuid",))


# (file under <uuid>/, family, scale)
SET = (
    ("average_key_size", _d("average_key_size_sectors",
                            "Average data per key in the btree (sectors)."), 1),
    ("btree_cache_size", _d("btree_cache_size_bytes",
                            "Amount of memory currently used by the btree cache."), 1),
    ("cache_available_percent", _d(
        "cache_available_percent", "Percentage of cache device without dirty data, usable for "
        "writeback (may contain clean cached data)."), 1),
    ("congested", _d("congested", "Congestion."), 1),
    ("root_usage_percent", _d("root_usage_percent", "Percentage of the root btree node in use "
                              "(tree depth increases if too high)."), 1),
    ("tree_depth", _d("tree_depth", "Depth of the btree."), 1),
    ("internal/active_journal_entries", _d(
        "active_journal_entries", "Number of journal entries that are newer than the index."), 1),
    ("internal/btree_nodes", _d("btree_nodes", "Total nodes in the btree."), 1),
    # 1.5 reads the _us file as nanoseconds: its numbers, kept.
    ("internal/btree_read_average_duration_us", _d(
        "btree_read_average_duration_seconds", "Average btree read duration."), 1e-9),
    ("internal/cache_read_races", _d(
        "cache_read_races_total", "Counts instances where while data was being read from the "
        "cache, the bucket was reused and invalidated - i.e. where the pointer was stale after "
        "the read completed.", "counter"), 1),
)
BDEV = "backing_device"
DIRTY_DATA = _d("dirty_data_bytes", "Amount of dirty data for this backing device in the cache.",
                extra=BDEV)
# writeback_rate_debug line -> (family, signed, suffix to strip)
WRITEBACK = {
    "target": (_d("dirty_target_bytes",
                  "Current dirty data target threshold for this backing device in bytes.",
                  extra=BDEV), False, ""),
    "rate": (_d("writeback_rate", "Current writeback rate for this backing device in bytes.",
                extra=BDEV), False, "/sec"),
    "proportional": (_d("writeback_rate_proportional_term",
                        "Current result of proportional controller, part of writeback rate",
                        extra=BDEV), True, ""),
    "integral": (_d("writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    extra=BDEV), True, ""),
    "change": (_d("writeback_change", "Last writeback rate change step for this backing device.",
                  extra=BDEV), True, "/sec"),
}
TOTALS = (  # stats_total/ file -> family
    ("bypassed", _d("bypassed_bytes_total",
                    "Amount of IO (both reads and writes) that has bypassed the cache.",
                    "counter", BDEV)),
    ("cache_hits", _d("cache_hits_total", "Hits counted per individual IO as bcache sees them.",
                      "counter", BDEV)),
    ("cache_misses", _d("cache_misses_total",
                        "Misses counted per individual IO as bcache sees them.", "counter", BDEV)),
    ("cache_bypass_hits", _d("cache_bypass_hits_total", "Hits for IO intended to skip the cache.",
                             "counter", BDEV)),
    ("cache_bypass_misses", _d("cache_bypass_misses_total",
                               "Misses for IO intended to skip the cache.", "counter", BDEV)),
    ("cache_miss_collisions", _d("cache_miss_collisions_total",
                                 "Instances where data insertion from cache miss raced with write "
                                 "(data already present).", "counter", BDEV)),
    ("cache_readaheads", _d("cache_readaheads_total", "Count of times readahead occurred.",
                            "counter", BDEV)),
)
CDEV = "cache_device"
CACHE = (
    ("io_errors", _d("io_errors", "Number of errors that have occurred, decayed by "
                     "io_error_halflife.", extra=CDEV)),
    ("metadata_written", _d("metadata_written_bytes_total", "Sum of all non data writes (btree "
                            "writes and all other metadata).", "counter", CDEV)),
    ("written", _d("written_bytes_total", "Sum of all data that has been written to the cache.",
                   "counter", CDEV)),
)
PRIORITY = {"Unused:": _d("priority_stats_unused_percent",
                          "The percentage of the cache that doesn't contain any data.", extra=CDEV),
            "Metadata:": _d("priority_stats_metadata_percent", "Bcache's metadata overhead.",
                            extra=CDEV)}


def read_value(path: str) -> int:
    """procfs' readValue: a missing file is 0; the last byte (the newline) is dropped."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        return 0
    return dehumanize(text[:-1], path)


class BcacheCollector(Collector):
    name = "bcache"
    options = BcacheConfig

    def __init__(self, config) -> None:
        super().__init__(config)
        self.priority_stats = config.bcache.priority_stats

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("fs", "bcache")
        try:
            sets = sorted(e for e in os.listdir(base) if "-" in e)
        except FileNotFoundError:
            return  # as 1.5: no cache sets, nothing to report
        families: dict[str, Family] = {}

        def add(desc: Desc, labels: tuple[str, ...], value: float) -> None:
            families.setdefault(desc.name, Family(desc)).samples.append((labels, value))

        for uuid in sets:
            path = os.path.join(base, uuid)
            for file, desc, scale in SET:
                value = read_value(os.path.join(path, file))
                add(desc, (uuid,), value if scale == 1 else value * scale)
            for bdev in numbered(path, "bdev"):
                self.backing(os.path.join(path, bdev), (uuid, bdev), add)
            for cache in numbered(path, "cache"):
                self.cache(os.path.join(path, cache), (uuid, cache), add)
        yield from families.values()

    @staticmethod
    def backing(path: str, key: tuple[str, str], add) -> None:
        add(DIRTY_DATA, key, read_value(os.path.join(path, "dirty_data")))
        found = {}
        debug = os.path.join(path, "writeback_rate_debug")
        for line in read_text(debug).splitlines():
            name, sep, rest = line.partition(":")
            spec = WRITEBACK.get(name) if sep else None
            if spec is None or not rest.split():
                continue
            desc, signed, suffix = spec
            text = rest.split()[-1].removesuffix(suffix)
            found[name] = (dehumanize_signed if signed else dehumanize)(text, debug)
        for name, (desc, _, _) in WRITEBACK.items():
            add(desc, key, found.get(name, 0))
        for file, desc in TOTALS:
            add(desc, key, read_value(os.path.join(path, "stats_total", file)))

    def cache(self, path: str, key: tuple[str, str], add) -> None:
        for file, desc in CACHE:
            add(desc, key, read_value(os.path.join(path, file)))
        if not self.priority_stats:
            return
        stats = os.path.join(path, "priority_stats")
        found = dict.fromkeys(PRIORITY, 0)
        for line in read_text(stats).splitlines():
            prefix = next((p for p in PRIORITY if line.startswith(p)), None)
            if prefix is None:
                continue
            text = line.split()[-1].removesuffix("%")
            if not text.isdigit() or not text.isascii():
                raise ValueError(f"{stats}: expected a percentage, got {line[:40]!r}")
            found[prefix] = int(text)
        for prefix, desc in PRIORITY.items():
            add(desc, key, found[prefix])
