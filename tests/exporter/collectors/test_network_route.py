"""network_route: rtnetlink route messages decoded as node_exporter 1.5 labels them (the
kernel's own dump, side by side with node_exporter, is in test_live_off_by_default.py)."""

from __future__ import annotations

import socket
import struct

import pytest

from exporter.collectors import network_route as nr
from exporter.collectors.network_route import NetworkRouteCollector, dest_text, ip_text
from tests.exporter.helpers import collect_text, fixture_config, samples


def attr(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def route(dst_len: int, proto: int, attrs: bytes, kind: int = nr.RTN_UNICAST,
          family: int = socket.AF_INET) -> bytes:
    return nr.RTMSG.pack(family, dst_len, 0, 0, 254, proto, 0, kind, 0) + attrs


def hop(ifindex: int, hops: int, gateway: bytes) -> bytes:
    attrs = attr(nr.RTA_GATEWAY, gateway)
    return nr.RTNEXTHOP.pack(8 + len(attrs), 0, hops, ifindex) + attrs


LO = socket.if_nametoindex("lo")
V4 = socket.inet_aton


class Canned(NetworkRouteCollector):
    def __init__(self, messages: list[bytes]) -> None:
        super().__init__(fixture_config())
        self.canned = messages

    def messages(self) -> list[bytes]:
        return self.canned


def test_routes_labelled_as_1_5():
    messages = [
        route(0, 3, attr(nr.RTA_GATEWAY, V4("10.0.0.1")) + attr(nr.RTA_OIF,
                                                                   struct.pack("=I", LO))),
        route(24, 2, attr(nr.RTA_DST, V4("10.0.0.0")) + attr(nr.RTA_PREFSRC, V4("10.0.0.5"))
              + attr(nr.RTA_OIF, struct.pack("=I", LO))
              + attr(nr.RTA_PRIORITY, struct.pack("=I", 100))),
        route(64, 186, attr(nr.RTA_DST, socket.inet_pton(socket.AF_INET6, "fd00::"))
              + attr(nr.RTA_MULTIPATH, hop(LO, 0, V4("10.0.0.2")) + hop(2 ** 31 - 1, 4,
                                                                        V4("10.0.0.3"))),
              family=socket.AF_INET6),
        route(32, 2, attr(nr.RTA_DST, V4("127.0.0.1")), kind=2),  # RTN_LOCAL: skipped
    ]
    got = samples(collect_text(Canned(messages)))

    def info(*values: str) -> tuple:
        names = ("device", "dest", "gw", "priority", "proto", "src", "weight")
        return ("node_network_route_info", tuple(sorted(zip(names, values, strict=True))))

    assert got == {
        info("lo", "default", "10.0.0.1", "0", "boot", "", ""): 1,
        info("lo", "10.0.0.0/24", "", "100", "kernel", "10.0.0.5", ""): 1,
        info("lo", "fd00::/64", "10.0.0.2", "0", "bgp", "", "1"): 1,
        info("", "fd00::/64", "10.0.0.3", "0", "bgp", "", "5"): 1,
        ("node_network_routes", (("device", "lo"),)): 3,
        ("node_network_routes", (("device", ""),)): 1}


def test_no_unicast_route_is_no_family():
    assert collect_text(Canned([route(8, 2, b"", kind=5)])) == ""


@pytest.mark.parametrize("message,match", [
    (route(0, 3, struct.pack("=HH", 40, nr.RTA_GATEWAY) + b"\0" * 4), "truncated"),
    (route(0, 3, attr(nr.RTA_MULTIPATH, struct.pack("=HBBi", 64, 0, 0, 1))), "next hop"),
    (b"\0" * 5, "5 bytes"),
])
def test_malformed_messages_fail(message, match):
    with pytest.raises(ValueError, match=match):
        list(Canned([message]).collect())


def test_addresses_as_go_prints_them():
    assert ip_text(b"") == ""
    assert ip_text(socket.inet_pton(socket.AF_INET6, "::ffff:1.2.3.4")) == "1.2.3.4"
    assert ip_text(socket.inet_pton(socket.AF_INET6, "2001:db8::1")) == "2001:db8::1"
    assert dest_text(V4("0.0.0.0"), 0) == "default"
    assert dest_text(V4("192.168.0.0"), 16) == "192.168.0.0/16"


def test_this_hosts_dump_is_read():
    # The kernel's real dump: the loopback's local routes are never unicast; whatever this
    # host routes is reported with a device and a dest.
    got = samples(collect_text(NetworkRouteCollector(fixture_config())))
    for name, labels in got:
        assert name in ("node_network_route_info", "node_network_routes")
        if name == "node_network_route_info":
            assert dict(labels)["dest"] != ""
