"""netdev: /proc/net/dev columns as node_exporter names them, lo excluded by default."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.collectors.netdev import COLUMNS, NetdevCollector, NetdevConfig
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
