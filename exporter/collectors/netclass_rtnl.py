"""netclass over netlink (`--collector.netclass.netlink`), as node_exporter 1.5's
netclass_rtnl_linux.go reports it: one RTM_GETLINK dump for the links, and one dump of
ethtool's generic netlink link modes for speed and duplex.

1.5's netlink path differs from its sysfs one, and this keeps the differences: it has no
address_assign_type, device_id or name_assign_type; `flags` are the link's ifi_flags (with
IFF_LOWER_UP and friends, which sysfs' `flags` lacks); `carrier` and the counters are always
there (0 where the kernel sends none); `dormant` repeats the link mode (1.5's bug); duplex
is ethtool's "Full", "Half" or "Unknown" ("" for a device without link modes); and speed is
the link modes' u32 as is, so an unknown speed (0xffffffff) is 536870911875000 bytes/s
(promwire leaves it out under --collector.netclass.ignore-invalid-speed, which 1.5 ignores
here). `--collector.netclass_rtnl.with-stats` adds the link's rtnl_link_stats64 as gauges.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.collectors.netlink import (
    GENLMSG,
    NETLINK_GENERIC,
    NETLINK_ROUTE,
    NLA_F_NESTED,
    attribute,
    attributes,
    genl_family,
    request,
)
from exporter.exposition import Desc, Family

RTM_NEWLINK, RTM_GETLINK = 16, 18
IFINFOMSG = struct.Struct("=BxHiII")
IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 2, 3, 4, 5
IFLA_TXQLEN, IFLA_OPERSTATE, IFLA_LINKMODE, IFLA_IFALIAS, IFLA_STATS64 = 13, 16, 17, 20, 23
IFLA_GROUP, IFLA_CARRIER, IFLA_CARRIER_CHANGES = 27, 33, 35
IFLA_CARRIER_UP_COUNT, IFLA_CARRIER_DOWN_COUNT = 47, 48
ETHTOOL_MSG_LINKMODES_GET = 4
ETHTOOL_A_LINKMODES_HEADER, ETHTOOL_A_LINKMODES_SPEED, ETHTOOL_A_LINKMODES_DUPLEX = 1, 5, 6
ETHTOOL_A_HEADER_DEV_NAME, ETHTOOL_A_HEADER_FLAGS = 2, 3
ETHTOOL_FLAG_COMPACT_BITSETS = 1
SPEED_UNKNOWN = 0xFFFFFFFF
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
DUPLEX = {0: "Half", 1: "Full", 0xFF: "Unknown"}  # mdlayher/ethtool's Duplex.String()
# rtnl_link_stats64's fields in order, as with-stats names them.
STATS64 = ("receive_packets", "transmit_packets", "receive_bytes", "transmit_bytes",
           "receive_errors", "transmit_errors", "receive_dropped", "transmit_dropped",
           "multicast", "collisions", "receive_length_errors", "receive_over_errors",
           "receive_crc_errors", "receive_frame_errors", "receive_fifo_errors",
           "receive_missed_errors", "transmit_aborted_errors", "transmit_carrier_errors",
           "transmit_fifo_errors", "transmit_heartbeat_errors", "transmit_window_errors",
           "receive_compressed", "transmit_compressed", "receive_nohandler")

UP = Desc("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", "gauge",
          ("device",))
INFO = Desc("node_network_info", "Non-numeric data of <iface>, value is always 1.", "gauge",
            ("device", "address", "broadcast", "duplex", "operstate", "ifalias"))


def _prop(name: str, type: str = "gauge") -> Desc:
    return Desc(f"node_network_{name}", f"Network device property: {name}", type, ("device",))


SPEED = _prop("speed_bytes")
# (family, the Link attribute it reports), in 1.5's order.
PROPS = (
    (_prop("carrier"), "carrier"),
    (_prop("carrier_changes_total", "counter"), "carrier_changes"),
    (_prop("carrier_up_changes_total", "counter"), "carrier_up"),
    (_prop("carrier_down_changes_total", "counter"), "carrier_down"),
    (_prop("flags"), "flags"),
    (_prop("iface_id"), "index"),
    (_prop("iface_link_mode"), "link_mode"),
    (_prop("dormant"), "link_mode"),  # 1.5 reports the link mode as dormant
    (_prop("iface_link"), "iface_link"),
    (_prop("mtu_bytes"), "mtu"),
    (_prop("net_dev_group"), "group"),
    (_prop("transmit_queue_length"), "txqlen"),
    (_prop("protocol_type"), "type"),
)
STATS_DESCS = tuple(_prop(f"{name}_total") for name in STATS64)  # gauges, as 1.5


@dataclass
class Link:
    """One RTM_NEWLINK message, the fields 1.5 reports (0 / "" where the kernel sent none)."""

    name: str
    index: int
    type: int
    flags: int
    address: str = ""
    broadcast: str = ""
    operstate: str = "unknown"
    ifalias: str = ""
    carrier: int = 0
    carrier_changes: int = 0
    carrier_up: int = 0
    carrier_down: int = 0
    link_mode: int = 0
    iface_link: int = 0
    mtu: int = 0
    group: int = 0
    txqlen: int = 0
    stats: tuple[int, ...] | None = field(default=None)


def _u(data: bytes | None, fmt: str = "=I") -> int:
    return struct.unpack_from(fmt, data)[0] if data and len(data) >= struct.calcsize(fmt) else 0


def _text(data: bytes | None) -> str:
    return (data or b"").split(b"\0", 1)[0].decode("utf-8", "replace")


def _hwaddr(data: bytes | None) -> str:
    """Go's net.HardwareAddr.String(): lower-case hex bytes joined by colons."""
    return ":".join(f"{b:02x}" for b in data or b"")


def parse_link(payload: bytes) -> Link:
    """An RTM_NEWLINK payload: ifinfomsg, then its attributes."""
    if len(payload) < IFINFOMSG.size:
        raise ValueError(f"RTM_NEWLINK of {len(payload)} bytes")
    _family, kind, index, flags, _change = IFINFOMSG.unpack_from(payload)
    a = attributes(payload, IFINFOMSG.size)
    state = _u(a.get(IFLA_OPERSTATE), "=B")
    stats = a.get(IFLA_STATS64)
    link = Link(_text(a.get(IFLA_IFNAME)), index, kind, flags,
                _hwaddr(a.get(IFLA_ADDRESS)), _hwaddr(a.get(IFLA_BROADCAST)),
                OPERSTATES[state] if state < len(OPERSTATES) else "unknown",
                _text(a.get(IFLA_IFALIAS)), _u(a.get(IFLA_CARRIER), "=B"),
                _u(a.get(IFLA_CARRIER_CHANGES)), _u(a.get(IFLA_CARRIER_UP_COUNT)),
                _u(a.get(IFLA_CARRIER_DOWN_COUNT)), _u(a.get(IFLA_LINKMODE), "=B"),
                _u(a.get(IFLA_LINK)), _u(a.get(IFLA_MTU)), _u(a.get(IFLA_GROUP)),
                _u(a.get(IFLA_TXQLEN)))
    if stats is not None and len(stats) >= 8 * len(STATS64):
        link.stats = struct.unpack_from(f"={len(STATS64)}Q", stats)
    if not link.iface_link:  # the kernel omits IFLA_LINK when it is the device itself
        link.iface_link = index
    return link


def dump_links() -> list[Link]:
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return [parse_link(p) for kind, p in request(NETLINK_ROUTE, RTM_GETLINK, body, dump=True)
            if kind == RTM_NEWLINK]


def parse_link_mode(payload: bytes) -> tuple[str, int, int]:
    """(device, speed in Mb/s as the kernel's u32, duplex) of one LINKMODES reply."""
    a = attributes(payload, GENLMSG.size)
    header = attributes(a.get(ETHTOOL_A_LINKMODES_HEADER, b""))
    return (_text(header.get(ETHTOOL_A_HEADER_DEV_NAME)),
            _u(a.get(ETHTOOL_A_LINKMODES_SPEED)), _u(a.get(ETHTOOL_A_LINKMODES_DUPLEX), "=B"))


def dump_link_modes() -> list[tuple[str, int, int]] | None:
    """Every device's link modes, or None where the kernel has no ethtool netlink (1.5 then
    reports no speed and an empty duplex)."""
    try:
        family = genl_family("ethtool")
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    header = attribute(ETHTOOL_A_HEADER_FLAGS, struct.pack("=I", ETHTOOL_FLAG_COMPACT_BITSETS))
    body = GENLMSG.pack(ETHTOOL_MSG_LINKMODES_GET, 1, 0) + \
        attribute(ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED, header)
    return [parse_link_mode(p) for _kind, p in request(NETLINK_GENERIC, family, body,
                                                        dump=True)]


def families(links: list[Link], modes: list[tuple[str, int, int]] | None,
             ignored: Callable[[str], object], with_stats: bool,
             ignore_invalid_speed: bool) -> list[Family]:
    """1.5's netclass families from the links and link modes; `ignored` is the device regex."""
    speed, duplex = Family(SPEED), {}
    for device, mbits, mode in modes or ():
        if ignored(device):
            continue
        duplex[device] = DUPLEX.get(mode, f"Duplex({mode})")
        if not (ignore_invalid_speed and mbits == SPEED_UNKNOWN):
            speed.samples.append(((device,), mbits * 125_000))
    up, info = Family(UP), Family(INFO)
    props = [Family(desc) for desc, _ in PROPS]
    stats = [Family(desc) for desc in STATS_DESCS]
    for link in links:
        if ignored(link.name):
            continue
        key = (link.name,)
        up.samples.append((key, 1 if link.operstate == "up" else 0))
        info.samples.append(((link.name, link.address, link.broadcast,
                              duplex.get(link.name, ""), link.operstate, link.ifalias), 1))
        for fam, (_, attr) in zip(props, PROPS, strict=True):
            fam.samples.append((key, getattr(link, attr)))
        if with_stats and link.stats is not None:
            for fam, value in zip(stats, link.stats, strict=True):
                fam.samples.append((key, value))
    return [f for f in (speed, up, info, *props, *stats) if f.samples]
