"""fibrechannel: /sys/class/fc_host, as node_exporter reports it."""

from __future__ import annotations

from exporter.collectors.fibrechannel import FibrechannelCollector
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    # host1 lacks most attributes: empty labels, as e2e-output.txt (1.5 would fail on it).
    assert_parity(FibrechannelCollector(e2e_config()), ("node_fibrechannel_",))


def test_no_fc_host_is_no_data(tmp_path):
    assert_absent(tmp_path, "fibrechannel", 0)


def test_garbled_counter_fails_only_fibrechannel(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "fibrechannel",
                       {"sys/class/fc_host/host0/speed": "16 Gbit\n",
                        "sys/class/fc_host/host0/statistics/rx_frames": "0xzz\n"})
