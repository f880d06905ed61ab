"""Parity with node_exporter: our collectors on its fixture /proc against its e2e output.

For every family a promwire collector implements from /proc, each sample node_exporter printed
for that input must be printed by promwire with the same labels and value, with the same HELP
and TYPE, and promwire must print no sample node_exporter did not.
"""

from __future__ import annotations

import pytest

from exporter.collectors import COLLECTORS
from exporter.collectors.arp import ArpConfig
from exporter.collectors.netclass import NetclassConfig
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, headers, samples

E2E = (FIXTURES / "e2e-output.txt").read_text()
# Labels later releases added to e2e-output.txt's families, which 1.5 does not have: 1.5 wins.
NEWER_LABELS = {
    "node_network_info": "adminstate",  # added after 1.5 (from the IFF_UP flag)
}


def as_1_5(got: dict) -> dict:
    out = {}
    for (name, labels), value in got.items():
        newer = NEWER_LABELS.get(name)
        out[(name, tuple(kv for kv in labels if kv[0] != newer))] = value
    return out


E2E_SAMPLES = as_1_5(samples(E2E))
E2E_HEADERS = headers(E2E)

# node_disk_info is left out: the e2e run had udev data and a sysfs tree not in the fixture,
# and a newer node_exporter (its `rotational` label is not in 1.5).
SKIP = {"node_disk_info"}
# The collector flags of node_exporter's end-to-end-test.sh, as config sections.
E2E_FLAGS = {
    "arp": {"arp": ArpConfig(device_exclude="nope")},  # --collector.arp.device-exclude=nope
    # --collector.netclass.ignore-invalid-speed --collector.netclass.ignored-devices=(dmz|int)
    "netclass": {"netclass": NetclassConfig(ignored_devices="(dmz|int)",
                                            ignore_invalid_speed=True)},
}


def e2e_config(name: str):
    """The e2e run's --path.procfs=proc --path.sysfs=sys and its flags for `name`."""
    return fixture_config(sysfs=FIXTURES / "sys", **E2E_FLAGS.get(name, {}))


@pytest.fixture(autouse=True)
def _four_kib_pages():
    # e2e-output.txt is node_exporter's output with 4 KiB pages (node_sockstat_*_mem_bytes is
    # pages times the page size); its 64 KiB-page twin is for other machines.
    import os

    assert os.sysconf("SC_PAGESIZE") == 4096, "the fixture output assumes 4 KiB pages"


# The collectors compared with the e2e output, and the prefixes of the families they own there.
PARITY = ("cpu", "meminfo", "loadavg", "diskstats", "stat", "vmstat", "pressure", "entropy",
          "filefd", "sockstat", "netstat", "softnet", "udp_queues", "arp", "conntrack",
          "netclass")
PREFIXES = ("node_cpu_seconds", "node_cpu_guest", "node_memory_", "node_load", "node_disk_",
            "node_boot_time", "node_context", "node_intr", "node_forks", "node_procs_",
            "node_vmstat_", "node_pressure_", "node_entropy_", "node_filefd_", "node_sockstat_",
            "node_netstat_", "node_softnet_", "node_udp_queues", "node_arp_",
            "node_nf_conntrack_", "node_network_up", "node_network_info",
            "node_network_address_assign_type", "node_network_carrier",
            "node_network_device_id", "node_network_dormant", "node_network_flags",
            "node_network_iface_", "node_network_mtu_bytes", "node_network_name_assign_type",
            "node_network_net_dev_group", "node_network_speed_bytes",
            "node_network_transmit_queue_length", "node_network_protocol_type")


@pytest.mark.parametrize("name", PARITY)
def test_collector_matches_node_exporter(name):
    collector = COLLECTORS[name](e2e_config(name))
    ours_text = collect_text(collector)
    ours = samples(ours_text)
    our_headers = headers(ours_text)
    families = {f for f in our_headers if f not in SKIP}
    assert families, "the collector produced nothing on the fixture"
    theirs = {k: v for k, v in E2E_SAMPLES.items() if _family(k[0], families)}
    mine = {k: v for k, v in ours.items() if _family(k[0], families)}
    assert len(theirs) >= len(families)
    assert mine == theirs
    for fam in families:
        assert our_headers[fam] == E2E_HEADERS[fam], fam


def _family(sample_name: str, families: set[str]) -> bool:
    return sample_name in families


# e2e-output.txt families node_exporter 1.5 does not print for the same input: 1.5 wins.
NOT_IN_1_5 = {
    # Later releases added these two to --collector.netstat.fields' default; 1.5's has neither.
    "node_netstat_TcpExt_TCPOFOQueue", "node_netstat_TcpExt_TCPRcvQDrop",
    # 1.5's softnet reports the first three columns only (processed, dropped, squeezed).
    "node_softnet_backlog_len", "node_softnet_cpu_collision_total",
    "node_softnet_flow_limit_count_total", "node_softnet_received_rps_total",
}


def test_every_e2e_family_of_our_collectors_is_produced():
    """Nothing node_exporter prints for these collectors' prefixes is missing in promwire."""
    ours = set()
    for name in PARITY:
        ours |= set(headers(collect_text(COLLECTORS[name](e2e_config(name)))))
    expected = {f for f in E2E_HEADERS if f.startswith(PREFIXES)}
    # Families of a collector promwire lacks (meminfo_numa), and udev-derived disk families,
    # which need the udev database the fixture does not include.
    other = {f for f in expected if f.startswith((
        "node_memory_numa_", "node_disk_ata_", "node_disk_device_mapper", "node_disk_filesystem"))}
    assert expected - other - NOT_IN_1_5 - ours == set()
    assert NOT_IN_1_5 <= set(E2E_HEADERS) and not NOT_IN_1_5 & ours
