"""`network_route`: the kernel's unicast routes over rtnetlink (off by default).

As node_exporter 1.5: one RTM_GETROUTE dump of every family and table; each unicast route
(RTN_UNICAST) is `node_network_route_info{device,src,dest,gw,priority,proto,weight}` 1,
a multipath route one series per next hop (weight = hops + 1), and
`node_network_routes{device}` counts them. `dest` is `default` for a zero-length prefix,
`src` is the preferred source (RTA_PREFSRC), `device` the output interface's name (empty
when the index has none). The dump is read with a timeout and a bound on its size, so a
huge or stuck table fails the collector instead of stalling the scrape.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator

from exporter.collectors.base import Collector
from exporter.collectors.netlink import NETLINK_ROUTE, attributes, request
from exporter.exposition import Desc, Family, MetricFamily

ROUTE_INFO = Desc("node_network_route_info", "network routing table information", "gauge",
                  ("device", "src", "dest", "gw", "priority", "proto", "weight"))
ROUTES = Desc("node_network_routes", "network routes by interface", "gauge", ("device",))

RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTN_UNICAST = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH = 1, 4, 5, 6, 7, 9
RTMSG = struct.Struct("=BBBBBBBBI")
RTNEXTHOP = struct.Struct("=HBBi")
MAX_DUMP_BYTES = 256 << 20  # ~1M routes; a full BGP table is about this
# include/uapi/linux/rtnetlink.h, as node_exporter names them.
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated",
             9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
             15: "ntk", 16: "dhcp", 17: "mrouted", 42: "babel", 186: "bgp", 187: "isis",
             188: "ospf", 189: "rip", 192: "eigrp"}


def ip_text(data: bytes | None) -> str:
    """Go's net.IP.String() of a 4- or 16-byte address ("" when absent)."""
    if not data:
        return ""
    if len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if len(data) == 16:
        addr = ipaddress.IPv6Address(data)
        return str(addr.ipv4_mapped) if addr.ipv4_mapped is not None else str(addr)
    return "?" + data.hex()  # Go prints "?" and the hex of an address of another length


def dest_text(data: bytes | None, length: int) -> str:
    """networkRouteIPWithPrefixToString: "default" for /0, else ADDRESS/LENGTH."""
    if length == 0:
        return "default"
    return f"{ip_text(data)}/{length}"


def next_hops(data: bytes) -> list[tuple[int, int, bytes | None]]:
    """RTA_MULTIPATH's rtnexthops as (ifindex, hops, gateway)."""
    hops, offset = [], 0
    while offset + RTNEXTHOP.size <= len(data):
        length, _flags, count, ifindex = RTNEXTHOP.unpack_from(data, offset)
        if length < RTNEXTHOP.size or offset + length > len(data):
            raise ValueError(f"malformed RTA_MULTIPATH next hop of {length} bytes")
        attrs = attributes(data[offset:offset + length], RTNEXTHOP.size)
        hops.append((ifindex, count, attrs.get(RTA_GATEWAY)))
        offset += (length + 3) & ~3
    return hops


def dump_routes() -> list[bytes]:
    """Every RTM_NEWROUTE message of one dump (all families, all tables)."""
    body = RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)
    replies = request(NETLINK_ROUTE, RTM_GETROUTE, body, dump=True, max_bytes=MAX_DUMP_BYTES)
    return [payload for kind, payload in replies if kind == RTM_NEWROUTE]


class NetworkRouteCollector(Collector):
    name = "network_route"
    default_enabled = False

    def messages(self) -> list[bytes]:
        """This scrape's route messages (the kernel's; tests hand in their own)."""
        return dump_routes()

    def collect(self) -> Iterator[MetricFamily]:
        info, per_device = Family(ROUTE_INFO), {}
        names: dict[int, str] = {}

        def device(index: int) -> str:
            if index not in names:
                try:
                    names[index] = socket.if_indextoname(index)
                except OSError:
                    names[index] = ""
            return names[index]

        seen: set[tuple[str, ...]] = set()
        for message in self.messages():
            if len(message) < RTMSG.size:
                raise ValueError(f"route message of {len(message)} bytes")
            _family, dst_len, _src_len, _tos, _table, proto, _scope, kind, _flags = \
                RTMSG.unpack_from(message)
            if kind != RTN_UNICAST:
                continue
            attrs = attributes(message, RTMSG.size)
            src, dest = ip_text(attrs.get(RTA_PREFSRC)), dest_text(attrs.get(RTA_DST), dst_len)
            priority = str(int.from_bytes(attrs.get(RTA_PRIORITY, b"")[:4], "little"))
            protocol = PROTOCOLS.get(proto, "unknown")
            hops = [(device(i), gw, str(n + 1)) for i, n, gw in
                    next_hops(attrs.get(RTA_MULTIPATH, b""))]
            if not hops:
                oif = int.from_bytes(attrs.get(RTA_OIF, b"")[:4], "little")
                hops = [(device(oif), attrs.get(RTA_GATEWAY), "")]
            for name, gateway, weight in hops:
                labels = (name, src, dest, ip_text(gateway), priority, protocol, weight)
                per_device[name] = per_device.get(name, 0) + 1  # 1.5 counts repeats too
                if labels not in seen:  # client_golang drops a repeated series
                    seen.add(labels)
                    info.add(labels, 1)
        routes = Family(ROUTES, [((name,), n) for name, n in per_device.items()])
        if info.samples:
            yield info
            yield routes
