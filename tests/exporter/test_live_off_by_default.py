"""node_exporter 1.5's off-by-default collectors that promwire has too, side by side with
Debian's prometheus-node-exporter on this host: the same families, HELP, TYPE and series,
and the same values where they are stable. (softirqs is newer than 1.5: fixture parity
only.)"""

from __future__ import annotations

import pytest

from tests import servers
from tests.exporter.test_live import by_family, scrape

pytestmark = pytest.mark.integration

COLLECTORS = ("cgroups", "drbd", "ethtool", "lnstat", "network_route", "slabinfo", "sysctl")
FLAGS = ("--collector.disable-defaults", *(f"--collector.{n}" for n in COLLECTORS),
         "--collector.sysctl.include=kernel.threads-max",
         "--collector.sysctl.include=fs.file-nr",
         "--collector.sysctl.include=net.ipv4.ip_local_port_range:low,high",
         "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
         "--collector.ethtool.device-exclude=^ifb1$")
# Families whose values do not move while the host is idle.
STABLE_PREFIXES = ("node_network_", "node_ethtool_info", "node_cgroups_enabled",
                   "node_sysctl_kernel_threads_max", "node_sysctl_net_ipv4",
                   "node_sysctl_info", "node_scrape_collector_success",
                   "node_slabinfo_object_size_bytes", "node_slabinfo_objects_per_slab",
                   "node_slabinfo_pages_per_slab")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("off-by-default")
    with servers.exporter_pair(base, *FLAGS) as both:
        yield both


def test_same_families_and_series_as_node_exporter(pair):
    ours, theirs = pair
    mine, reference = by_family(scrape(ours.url)), by_family(scrape(theirs.url))
    assert set(mine) == set(reference)
    for name, ref in reference.items():
        assert (mine[name]["type"], mine[name]["help"]) == (ref["type"], ref["help"]), name
        if name != "node_scrape_collector_duration_seconds":
            assert set(mine[name]["series"]) == set(ref["series"]), name
    # This host has routes, cgroups, a NIC that answers ethtool, slabs (root) and sysctls.
    for family in ("node_network_route_info", "node_cgroups_cgroups", "node_ethtool_info",
                   "node_slabinfo_objects", "node_sysctl_kernel_threads_max",
                   "node_sysctl_info", "node_lnstat_entries_total"):
        assert reference[family]["series"], family


def test_stable_values_and_counters_agree(pair):
    ours, theirs = pair
    before = by_family(scrape(theirs.url))
    mine = by_family(scrape(ours.url))
    after = by_family(scrape(theirs.url))
    compared = 0
    for name, fam in before.items():
        if name.startswith(STABLE_PREFIXES) and name != "node_scrape_collector_duration_seconds":
            assert mine[name]["series"] == fam["series"] == after[name]["series"], name
            compared += len(fam["series"])
        elif name.startswith("node_lnstat_"):
            for labels, low in fam["series"].items():
                assert low <= mine[name]["series"][labels] <= after[name]["series"][labels]
                compared += 1
    assert compared > 50
    assert mine["node_scrape_collector_success"]["series"][(("collector", "drbd"),)] == 0
