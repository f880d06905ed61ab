"""Flags that read the live host, checked against Debian's node_exporter 1.5 given the same
flags on the same host: netdev's address-info, netlink and detailed metrics, and netclass'
netlink path (with rtnl stats). Families, HELP, TYPE and series must be the same; values
equal where they are stable, and between two node_exporter reads where they count traffic.
"""

from __future__ import annotations

import pytest

from tests import servers
from tests.exporter.helpers import headers, samples

pytestmark = pytest.mark.skipif(servers.NODE_EXPORTER is None,
                                reason="prometheus-node-exporter is not installed")

RUNS = {
    "netdev-address-info": ["--collector.netdev", "--collector.netdev.address-info"],
    "netdev-no-netlink": ["--collector.netdev", "--no-collector.netdev.netlink"],
    "netdev-detailed": ["--collector.netdev", "--collector.netdev.enable-detailed-metrics"],
    "netdev-detailed-no-netlink": ["--collector.netdev", "--no-collector.netdev.netlink",
                                   "--collector.netdev.enable-detailed-metrics"],
    # Debian's 1.5 refuses an include beside its non-empty default exclude: empty it.
    "netdev-include": ["--collector.netdev", "--collector.netdev.device-exclude=",
                       "--collector.netdev.device-include=^lo$"],
    "netclass-netlink": ["--collector.netclass", "--collector.netclass.netlink",
                         "--collector.netclass_rtnl.with-stats"],
}
# Families whose values move with traffic: compared between two node_exporter reads.
MOVING = ("_bytes_total", "_packets_total", "_multicast_total", "_errors_total",
          "_dropped_total", "_drop_total", "_errs_total")


def scrape(process: servers.Process) -> str:
    return servers.http_get(f"{process.url}/metrics")[1].decode()


def ours_only(text: str) -> dict:
    """The node_network_* samples (the self-metrics and scrape families aside)."""
    return {k: v for k, v in samples(text).items() if k[0].startswith("node_network_")}


@pytest.fixture(scope="module", params=sorted(RUNS))
def run(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    args = ["--collector.disable-defaults", *RUNS[request.param]]
    ours = servers.exporter(base / "ours", *args)
    theirs = servers.node_exporter(base / "theirs", *args)
    try:
        ours.start()
        theirs.start()
        before = scrape(theirs)
        mine = scrape(ours)
        after = scrape(theirs)
        yield request.param, before, mine, after
    finally:
        ours.stop()
        theirs.stop()


def test_same_families_help_and_type(run):
    _, before, mine, _ = run
    want = {f: h for f, h in headers(before).items() if f.startswith("node_network_")}
    got = {f: h for f, h in headers(mine).items() if f.startswith("node_network_")}
    assert want, "node_exporter reported no node_network_ family"
    assert got == want


def test_same_series_and_values(run):
    _, before, mine, after = run
    first, ours, second = ours_only(before), ours_only(mine), ours_only(after)
    assert set(ours) == set(first)
    for key, value in ours.items():
        if key[0].endswith(MOVING):
            assert min(first[key], second[key]) <= value <= max(first[key], second[key]), key
        else:
            assert value == first[key], key
