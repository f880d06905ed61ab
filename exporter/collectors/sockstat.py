"""`sockstat`: socket counts from /proc/net/sockstat and /proc/net/sockstat6, as node_exporter 1.5.

Each `PROTO: key value ...` line becomes node_sockstat_PROTO_key for the keys node_exporter
knows (`inuse` always, the others where the line has them), plus `PROTO_mem_bytes` (pages
times the page size) where there is `mem`. A file that is absent (IPv6 disabled) is skipped;
one that does not parse fails the collector.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text, to_int
from exporter.exposition import Desc, Family, MetricFamily, single

PAGE_SIZE = os.sysconf("SC_PAGESIZE") if hasattr(os, "sysconf") else 4096
# node_exporter's keys, in the order it emits them; `inuse` is reported even when absent.
KEYS = ("inuse", "orphan", "tw", "alloc", "mem", "memory")
USED = Desc("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", "gauge")

_descs: dict[tuple[str, str], Desc] = {}


def desc(protocol: str, key: str) -> Desc:
    """node_sockstat_PROTO_KEY, built once per pair (the kernel has a dozen protocols)."""
    got = _descs.get((protocol, key))
    if got is None:
        if len(_descs) > 1000:  # a garbled file must not grow this without bound
            _descs.clear()
        got = _descs[(protocol, key)] = Desc(
            f"node_sockstat_{protocol}_{key}",
            f"Number of {protocol} sockets in state {key}.", "gauge")
    return got


def parse(path: str, text: str) -> tuple[int | None, list[tuple[str, dict[str, int]]]]:
    """(sockets used or None, [(protocol, {key: value})]) from a sockstat file."""
    used = None
    protocols = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 3 or len(fields) % 2 == 0:
            raise ValueError(f"{path}: malformed line {line!r}")
        values = {fields[i]: to_int(fields[i + 1], path) for i in range(1, len(fields), 2)}
        protocol = fields[0].removesuffix(":")
        if protocol == "sockets":
            used = values.get("used", 0)
        else:
            protocols.append((protocol, values))
    return used, protocols


class SockstatCollector(Collector):
    name = "sockstat"

    def collect(self) -> Iterator[MetricFamily]:
        parsed = []
        for leaf in ("sockstat", "sockstat6"):
            path = self.proc("net", leaf)
            try:
                text = read_text(path)
            except FileNotFoundError:
                continue  # IPv4 or IPv6 disabled in this kernel
            parsed.append((leaf == "sockstat6", parse(path, text)))
        for ipv6, (used, protocols) in parsed:
            if used is not None and not ipv6:
                yield single(USED, used)
            for protocol, values in protocols:
                yield from self.protocol(protocol, values)

    @staticmethod
    def protocol(protocol: str, values: dict[str, int]) -> Iterator[Family]:
        for key in KEYS:
            if key in values or key == "inuse":
                yield single(desc(protocol, key), values.get(key, 0))
        if "mem" in values:
            yield single(desc(protocol, "mem_bytes"), values["mem"] * PAGE_SIZE)
