"""A malformed /proc or /sys file fails only its collector: success 0, the rest is served."""

from __future__ import annotations

import pytest

from tests.exporter.parity import assert_fails_alone

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
    files = {}
    for where, text in GARBLED[name].items():
        root, _, rel = where.rpartition(":")
        files[f"{'sys' if root == 'sysfs' else 'proc'}/{rel}"] = text
    # success 0 for it, loadavg served, the failure logged once over two scrapes
    assert_fails_alone(tmp_path, caplog, name, files)
