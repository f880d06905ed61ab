"""`tcpstat` (off by default): TCP sockets per state over netlink sock_diag, as 1.5.

`node_tcp_connection_states{state}`: the number of IPv4 and IPv6 TCP sockets in each state
(`established`, `listen`, `time_wait`, ...) seen by one INET_DIAG dump per address family,
and the bytes in their queues as the states `rx_queued_bytes` and `tx_queued_bytes`. As in
1.5 only states that occur are reported (no socket at all: no family), and IPv6 is asked for
only where `<procfs>/net/tcp6` exists. The dump is read in 64 KiB datagrams and counted as it
comes (nothing is kept per socket), with a timeout so a stuck kernel never stalls the scrape.
A netlink error (no `inet_diag` module: ENOENT) fails the collector, as in 1.5.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

from exporter.collectors.base import Collector
from exporter.exposition import Desc, Family, MetricFamily

STATES = Desc("node_tcp_connection_states", "Number of connection states.", "gauge",
              ("state",))
# TCP_ESTABLISHED (1) ... TCP_CLOSING (11), as the kernel numbers them.
NAMES = {1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2",
         6: "time_wait", 7: "close", 8: "close_wait", 9: "last_ack", 10: "listen",
         11: "closing"}
NETLINK_SOCK_DIAG = 4  # NETLINK_INET_DIAG
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCPF_ALL = 0xFFF
HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
# inet_diag_req_v2: family, protocol, ext, pad, states, then a zeroed inet_diag_sockid.
REQUEST = struct.Struct("=BBBBI48x")
# inet_diag_msg: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, ...
MESSAGE = struct.Struct("=BBBB48xIII")
RECV_SIZE = 65536
TIMEOUT = 5.0


def request(family: int, seq: int) -> bytes:
    """A dump request for every TCP socket of `family` in any state."""
    body = REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, TCPF_ALL)
    return HEADER.pack(HEADER.size + len(body), SOCK_DIAG_BY_FAMILY,
                       NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def count(data: bytes, counts: dict[str, int]) -> bool:
    """Add one datagram's sockets to `counts`; True when it ends the dump."""
    offset = 0
    while offset + HEADER.size <= len(data):
        length, kind, _, _, _ = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > len(data):
            raise ValueError(f"sock_diag: truncated netlink message ({length} bytes)")
        body = offset + HEADER.size
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, body)[0]
            if code:
                raise OSError(code, f"sock_diag: {os.strerror(code)}")
        elif length - HEADER.size >= MESSAGE.size:
            _, state, _, _, _, rqueue, wqueue = MESSAGE.unpack_from(data, body)
            name = NAMES.get(state, "unknown")
            counts[name] = counts.get(name, 0) + 1
            counts["rx_queued_bytes"] = counts.get("rx_queued_bytes", 0) + rqueue
            counts["tx_queued_bytes"] = counts.get("tx_queued_bytes", 0) + wqueue
        offset += (length + 3) & ~3
    return False


def dump(family: int, counts: dict[str, int]) -> None:
    """One INET_DIAG dump of `family`'s TCP sockets into `counts`."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                       NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(request(family, 1), (0, 0))
        while True:
            data = sock.recv(RECV_SIZE)
            if not data:
                raise OSError(errno.EIO, "sock_diag: the dump ended without NLMSG_DONE")
            if count(data, counts):
                return


class TcpstatCollector(Collector):
    name = "tcpstat"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        counts: dict[str, int] = {}
        dump(socket.AF_INET, counts)
        if os.path.exists(self.proc("net", "tcp6")):
            dump(socket.AF_INET6, counts)
        if counts:
            yield Family(STATES, [((state,), n) for state, n in counts.items()])
