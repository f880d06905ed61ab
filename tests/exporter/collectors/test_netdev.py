"""netdev: /proc/net/dev columns as node_exporter names them, lo excluded by default."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from exporter.cli import configure
from exporter.collectors.netdev import (
    COLUMNS,
    DETAILED_NETLINK,
    NetdevCollector,
    NetdevConfig,
    scope,
)
from tests.exporter.helpers import collect_text, fixture_config, headers, samples

HEAD = ("Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n")


@pytest.fixture
def procfs(tmp_path):
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "dev").write_text(
        HEAD
        + "    lo:  150206     358    0    0    0     0          0         0   150206     358"
          "    0    0    0     0       0          0\n"
        + "  eth0:12345678901234 1625 1 2 3 4 5 6 99288 927 7 8 9 10 11 12\n")
    stats = tmp_path / "sys" / "class" / "net" / "eth0" / "statistics"
    stats.mkdir(parents=True)
    (stats / "rx_nohandler").write_text("42\n")
    return tmp_path


def test_columns_and_names(procfs):
    text = collect_text(NetdevCollector(fixture_config(procfs / "proc", procfs / "sys")))
    got = samples(text)
    eth0 = (("device", "eth0"),)
    assert got[("node_network_receive_bytes_total", eth0)] == 12345678901234
    assert got[("node_network_transmit_compressed_total", eth0)] == 12
    assert got[("node_network_receive_nohandler_total", eth0)] == 42
    assert not any(dict(k[1])["device"] == "lo" for k in got)
    assert len(headers(text)) == len(COLUMNS) + 1
    assert headers(text)["node_network_receive_drop_total"] == {
        "HELP": "Network device statistic receive_drop.", "TYPE": "counter"}


def test_include_loopback_when_asked(procfs):
    config = dataclasses.replace(fixture_config(procfs / "proc"),
                                 netdev=NetdevConfig(device_exclude="^$"))
    got = samples(collect_text(NetdevCollector(config)))
    assert got[("node_network_receive_packets_total", (("device", "lo"),))] == 358
    assert ("node_network_receive_nohandler_total", (("device", "lo"),)) not in got


def test_wrong_column_count_raises(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "dev").write_text(HEAD + "eth0: 1 2 3\n")
    with pytest.raises(ValueError, match="expected 16"):
        list(NetdevCollector(fixture_config(tmp_path)).collect())


def test_psutil_backend_matches_proc():
    procfs = samples(collect_text(NetdevCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(NetdevCollector(fixture_config("/proc"),
                                                      backend="psutil")))
    keys = [k for k in procfs if k[0] == "node_network_receive_packets_total"]
    assert keys
    for k in keys:
        assert procfs[k] <= via_psutil[k] <= procfs[k] + 10_000


def flagged(procfs, *flags: str):
    """The netdev collector as `python -m exporter` configures it with these flags."""
    config = configure([f"--path.procfs={procfs / 'proc'}", f"--path.sysfs={procfs / 'sys'}",
                        *flags])
    return samples(collect_text(NetdevCollector(config)))


def test_device_include_alone_reports_only_those_and_lo_with_them(procfs):
    got = flagged(procfs, "--collector.netdev.device-include=^lo$")
    assert {dict(k[1])["device"] for k in got} == {"lo"}


@pytest.mark.parametrize(("flag", "devices"), [
    ("--collector.netdev.device-whitelist=^lo$", {"lo"}),
    ("--collector.netdev.device-blacklist=^eth", {"lo"}),
    ("--collector.netdev.device-exclude=^$", {"lo", "eth0"}),
])
def test_deprecated_spellings_filter_as_the_new_flags(procfs, flag, devices):
    assert {dict(k[1])["device"] for k in flagged(procfs, flag)} == devices


def test_without_netlink_there_is_no_nohandler(procfs):
    """1.5's --no-collector.netdev.netlink parses /proc/net/dev alone."""
    got = flagged(procfs, "--no-collector.netdev.netlink")
    assert {k[0] for k in got} == {f"node_network_{c}_total" for c in COLUMNS}


def test_detailed_names_from_proc_net_dev(procfs):
    got = flagged(procfs, "--no-collector.netdev.netlink",
                  "--collector.netdev.enable-detailed-metrics")
    eth0 = (("device", "eth0"),)
    assert got[("node_network_receive_errors_total", eth0)] == 1
    assert got[("node_network_receive_dropped_total", eth0)] == 2
    assert got[("node_network_transmit_errors_total", eth0)] == 7
    assert got[("node_network_transmit_dropped_total", eth0)] == 8
    assert got[("node_network_transmit_colls_total", eth0)] == 10
    assert not any(k[0] in ("node_network_receive_errs_total",
                            "node_network_receive_nohandler_total") for k in got)


def test_detailed_names_from_the_links_statistics(procfs):
    stats = procfs / "sys" / "class" / "net" / "eth0" / "statistics"
    for i, attr in enumerate(DETAILED_NETLINK):
        (stats / attr).write_text(f"{100 + i}\n")
    got = flagged(procfs, "--collector.netdev.enable-detailed-metrics")
    eth0 = (("device", "eth0"),)
    for i, name in enumerate(DETAILED_NETLINK.values()):
        assert got[(f"node_network_{name}_total", eth0)] == 100 + i
    assert {k[0] for k in got} == {f"node_network_{n}_total" for n in DETAILED_NETLINK.values()}


@pytest.mark.parametrize(("address", "scope_"), [
    ("127.0.0.1", "link-local"), ("::1", "link-local"), ("169.254.1.2", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.251", "link-local"), ("ff02::1", "link-local"),
    ("ff01::1", "interface-local"), ("10.0.0.1", "global"), ("2001:db8::1", "global"),
    ("8.8.8.8", "global"), ("0.0.0.0", ""), ("ff05::2", ""), ("255.255.255.255", ""),
])
def test_address_scope_as_go_classifies_it(address, scope_):
    assert scope(ipaddress.ip_address(address)) == scope_


def test_address_info_is_off_by_default_and_lists_every_address_when_on(procfs):
    assert not any(k[0] == "node_network_address_info" for k in flagged(procfs))
    got = flagged(procfs, "--collector.netdev.address-info")
    info = {dict(k[1])["address"]: dict(k[1]) for k in got
            if k[0] == "node_network_address_info"}
    # lo is in it although netdev excludes lo: 1.5 does not filter addresses by device.
    assert info["127.0.0.1"] == {"device": "lo", "address": "127.0.0.1", "netmask": "8",
                                 "scope": "link-local"}
