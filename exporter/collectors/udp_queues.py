"""`udp_queues`: bytes queued in UDP sockets, summed over /proc/net/udp and /proc/net/udp6.

As node_exporter 1.5: node_udp_queues{ip="v4"|"v6",queue="tx"|"rx"}, the sums of every
socket line's tx_queue and rx_queue (hex). A missing file (IPv6 disabled) leaves its `ip`
out; both missing is no data. A line that is not a socket line fails the collector.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

QUEUES = Desc("node_udp_queues",
              "Number of allocated memory in the kernel for UDP datagrams in bytes.", "gauge",
              ("ip", "queue"))
HEX = "[0-9A-Fa-f]"
ADDRESS = f"(?:{HEX}{{8}}|{HEX}{{32}}):{HEX}+"
# sl, local and remote address, st, tx:rx, tr:tm->when, retrnsmt, uid, timeout, inode, ...:
# every line checked in one C-level pass, however many sockets there are.
SOCKET_LINE = re.compile(
    rf"^ *[0-9]+: +{ADDRESS} +{ADDRESS} +{HEX}+ +({HEX}+):({HEX}+) +\S+ +\S+ +[0-9]+ +\S+"
    rf" +[0-9]+(?: .*)?$", re.MULTILINE)


def queue_sums(path: str, text: str) -> tuple[int, int]:
    """(tx, rx) summed over the socket lines after the header."""
    _, _, body = text.partition("\n")
    queues = SOCKET_LINE.findall(body)
    lines = sum(1 for line in body.splitlines() if line.strip())
    if len(queues) != lines:
        bad = next(line for line in body.splitlines()
                   if line.strip() and not SOCKET_LINE.fullmatch(line))
        raise ValueError(f"{path}: not a socket line: {bad[:120]!r}")
    return sum(int(tx, 16) for tx, _ in queues), sum(int(rx, 16) for _, rx in queues)


class UdpQueuesCollector(Collector):
    name = "udp_queues"

    def collect(self) -> Iterator[MetricFamily]:
        family = Family(QUEUES)
        for ip, leaf in (("v4", "udp"), ("v6", "udp6")):
            path = self.proc("net", leaf)
            try:
                text = read_text(path)
            except FileNotFoundError:
                continue
            tx, rx = queue_sums(path, text)
            family.add((ip, "tx"), tx)
            family.add((ip, "rx"), rx)
        if not family.samples:
            raise NoDataError("neither /proc/net/udp nor /proc/net/udp6 exists")
        yield family
