"""ethtool: statistic names, link-mode bits, device filters, and real SIOCETHTOOL calls on this
host's devices and on ones the kernel does not have. The side-by-side with node_exporter is in
tests/exporter/test_live_off_by_default.py."""

from __future__ import annotations

import logging
import os

import pytest

from exporter.cli import build_parser, load
from exporter.collectors.ethtool import MBPS, EthtoolCollector, stat_name
from tests.exporter.helpers import collect_text, samples
from tests.exporter.parity import assert_absent


def collector(*flags: str) -> EthtoolCollector:
    return EthtoolCollector(load(build_parser().parse_args(list(flags))))


@pytest.mark.parametrize("stat,name", [
    ("rx_queue_0_packets", "node_ethtool_received_queue_0_packets"),
    ("tx-timeout", "node_ethtool_transmitted_timeout"),
    ("RX_CRC_Errors", "node_ethtool_received_crc_errors"),
    ("port.rx_dropped", "node_ethtool_port_received_dropped"),
    ("rxtx", "node_ethtool_rxtx"),  # rx/tx only as words
    ("__tx", "node_ethtool_transmitted"),
])
def test_stat_names_as_1_5(stat, name):
    assert stat_name(stat) == name


def families(add_calls) -> dict:
    out: dict = {}
    for desc, labels, value in add_calls:
        out[(desc.name, labels)] = value
    return out


def test_link_modes():
    calls = []
    # 1000baseT_Full (5), 10000baseKR_Full (19), TP (7), Autoneg (6), Pause (13) supported;
    # 100baseT_Half (2) and Asym_Pause (14) advertised.
    EthtoolCollector.link("eth9", 1 << 5 | 1 << 19 | 1 << 7 | 1 << 6 | 1 << 13,
                          1 << 2 | 1 << 14, 1, lambda *a: calls.append(a))
    got = families(calls)
    assert got == {
        ("node_network_supported_speed_bytes", ("eth9", "full", "1000baseT")): 1000 * MBPS,
        ("node_network_supported_speed_bytes", ("eth9", "full", "10000baseKR")): 10000 * MBPS,
        ("node_network_supported_port_info", ("eth9", "TP")): 1,
        ("node_network_autonegotiate_supported", ("eth9",)): 1,
        ("node_network_pause_supported", ("eth9",)): 1,
        ("node_network_asymmetricpause_supported", ("eth9",)): 0,
        ("node_network_advertised_speed_bytes", ("eth9", "half", "100baseT")): 100 * MBPS,
        ("node_network_autonegotiate_advertised", ("eth9",)): 0,
        ("node_network_pause_advertised", ("eth9",)): 0,
        ("node_network_asymmetricpause_advertised", ("eth9",)): 1,
        ("node_network_autonegotiate", ("eth9",)): 1}


def test_statistics_names_clashes_and_metrics_include():
    calls = []
    stats = {"rx_bytes": 5, "rx-drops": 1, "rx_drops": 2, "tx_packets": 3, "other": 4}
    collector("--collector.ethtool.metrics-include=^(rx|tx)").statistics(
        "eth9", stats, lambda *a: calls.append(a))
    got = {(d.name, d.help, d.type): v for d, _, v in calls}
    # rx-drops and rx_drops both become node_ethtool_received_drops: both are dropped.
    assert got == {
        ("node_ethtool_received_bytes_total", "Network interface bytes received", "untyped"): 5,
        ("node_ethtool_transmitted_packets_total", "Network interface packets sent",
         "untyped"): 3}


def sysfs_with(tmp_path, *devices: str):
    for device in devices:
        (tmp_path / "class" / "net" / device).mkdir(parents=True)
    return f"--path.sysfs={tmp_path}"


def test_devices_the_kernel_lacks_are_logged_once_per_call(tmp_path, caplog):
    c = collector(sysfs_with(tmp_path, "nosuchdev0"))
    with caplog.at_level(logging.ERROR, logger="exporter"):
        assert collect_text(c) == ""
        assert collect_text(c) == ""
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages  # link info, driver info, stats: each once
    assert all("nosuchdev0" in m for m in messages)
    c.close()


def test_loopback_has_no_link_info_and_no_error(tmp_path, caplog):
    c = collector(sysfs_with(tmp_path, "lo"))
    with caplog.at_level(logging.ERROR, logger="exporter"):
        text = collect_text(c)
    assert caplog.records == []  # EOPNOTSUPP: debug only, as 1.5
    assert "node_network_autonegotiate" not in text
    c.close()


def test_device_filters(tmp_path):
    host = sorted(os.listdir("/sys/class/net"))
    flag = sysfs_with(tmp_path, *host)

    def devices(*flags: str) -> set[str]:
        c = collector(flag, *flags)
        try:
            return {dict(labels)["device"] for _, labels in samples(collect_text(c))}
        finally:
            c.close()

    answered = devices()  # the host's devices with any ethtool data (lo has none)
    assert answered, "no device of this host answers SIOCETHTOOL"
    first = sorted(answered)[0]
    assert devices(f"--collector.ethtool.device-exclude=^{first}$") == answered - {first}
    assert devices(f"--collector.ethtool.device-include=^{first}$") == {first}


def test_no_class_net_is_no_data(tmp_path):
    assert_absent(tmp_path, "ethtool", 0)


def test_no_devices_fails(tmp_path):
    (tmp_path / "class" / "net").mkdir(parents=True)
    with pytest.raises(ValueError, match="no network devices"):
        list(collector(f"--path.sysfs={tmp_path}").collect())
