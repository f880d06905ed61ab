"""`conntrack`: netfilter connection tracking, as node_exporter 1.5 reports it.

Entries and the table limit come from /proc/sys/net/netfilter; the statistics, summed over
the per-CPU lines of /proc/net/stat/nf_conntrack (hex), are gauges in 1.5. Without the
nf_conntrack module those files do not exist: the families are left out and the collector
reports success 0 (no data), never a 0 that would read as "no connections". As in 1.5, the
entries and limit are still reported when only the statistics file is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text, to_int
from exporter.exposition import Desc, MetricFamily, single

ENTRIES = Desc("node_nf_conntrack_entries",
               "Number of currently allocated flow entries for connection tracking.", "gauge")
LIMIT = Desc("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.",
             "gauge")


def _stat(name: str, help: str) -> Desc:
    return Desc(f"node_nf_conntrack_stat_{name}", help, "gauge")


# (column of /proc/net/stat/nf_conntrack, family), in node_exporter's order.
STATS = (
    (2, _stat("found", "Number of searched entries which were successful.")),
    (4, _stat("invalid", "Number of packets seen which can not be tracked.")),
    (5, _stat("ignore", "Number of packets seen which are already connected to a conntrack "
                        "entry.")),
    (8, _stat("insert", "Number of entries inserted into the list.")),
    (9, _stat("insert_failed", "Number of entries for which list insertion was attempted but "
                               "failed.")),
    (10, _stat("drop", "Number of packets dropped due to conntrack failure.")),
    (11, _stat("early_drop", "Number of dropped conntrack entries to make room for new ones, "
                             "if maximum table size was reached.")),
    (16, _stat("search_restart", "Number of conntrack table lookups which had to be restarted "
                                 "due to hashtable resizes.")),
)
COLUMNS = 17
HEX = re.compile(r"[0-9a-fA-F]{1,16}")


def stat_sums(path: str, text: str) -> list[int]:
    """STATS' columns summed over the CPU lines after the header."""
    sums = [0] * len(STATS)
    for number, line in enumerate(text.splitlines()[1:], 2):
        fields = line.split()
        if len(fields) != COLUMNS or not all(HEX.fullmatch(f) for f in fields):
            raise ValueError(f"{path}: line {number}: expected {COLUMNS} hex fields")
        for i, (column, _) in enumerate(STATS):
            sums[i] += int(fields[column], 16)
    return sums


class ConntrackCollector(Collector):
    name = "conntrack"

    def read_uint(self, leaf: str) -> int:
        path = self.proc("sys", "net", "netfilter", leaf)
        try:
            text = read_text(path).strip()
        except FileNotFoundError:
            raise NoDataError(f"{path} is absent: conntrack probably not loaded") from None
        value = to_int(text, path)
        if value < 0:
            raise ValueError(f"{path}: expected an unsigned integer, got {text!r}")
        return value

    def collect(self) -> Iterator[MetricFamily]:
        yield single(ENTRIES, self.read_uint("nf_conntrack_count"))
        yield single(LIMIT, self.read_uint("nf_conntrack_max"))
        path = self.proc("net", "stat", "nf_conntrack")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} is absent: conntrack probably not loaded") from None
        for (_, desc), value in zip(STATS, stat_sums(path, text), strict=True):
            yield single(desc, value)
