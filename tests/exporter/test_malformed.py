"""A malformed /proc or /sys file fails only its collector: success 0, the rest is served."""

from __future__ import annotations

import logging

import pytest

from exporter.collectors import COLLECTORS
from exporter.registry import Registry
from tests.exporter.helpers import PROC, fixture_config, samples

# collector -> {path under the tree: garbled content}; "sys/..." paths go to the sysfs tree.
GARBLED = {
    "sockstat": {"net/sockstat": "sockets: used 1\nTCP: inuse 4 orphan\n"},
    "netstat": {"net/netstat": "TcpExt: ListenDrops ListenOverflows\nTcpExt: 1\n",
                "net/snmp": "Tcp: InSegs\nTcp: 1\n"},
    "softnet": {"net/softnet_stat": "00049279 00000000\n"},  # truncated
    "udp_queues": {"net/udp": "  sl  local_address rem_address\n   0: 0000"},  # truncated
    "arp": {"net/arp": "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1\n"},
    "conntrack": {"sys/net/netfilter/nf_conntrack_count": "twelve\n",
                  "sys/net/netfilter/nf_conntrack_max": "65536\n"},
    "netclass": {"sysfs:class/net/eth0/operstate": "up\n",
                 "sysfs:class/net/eth0/mtu": "1500 bytes\n"},
}


@pytest.mark.parametrize("name", sorted(GARBLED))
def test_malformed_file_fails_only_its_collector(tmp_path, caplog, name):
    proc, sys = tmp_path / "proc", tmp_path / "sys"
    for where, text in GARBLED[name].items():
        root, _, rel = where.rpartition(":")
        path = (sys if root == "sysfs" else proc) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc.mkdir(exist_ok=True)
    (proc / "loadavg").write_text((PROC / "loadavg").read_text())
    config = fixture_config(proc, sysfs=sys)
    registry = Registry(config, {n: COLLECTORS[n](config) for n in (name, "loadavg")})
    with caplog.at_level(logging.ERROR, logger="exporter"):
        got = samples(registry.render())
        samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", name),))] == 0
    assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
    assert ("node_load1", ()) in got
    failures = [r for r in caplog.records if f"collector {name} failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not on every scrape
