"""drbd: /proc/drbd's key:value words, as node_exporter 1.5."""

from __future__ import annotations

import pytest

from exporter.collectors.drbd import DrbdCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(DrbdCollector(e2e_config()), ("node_drbd_",))


def collector(tmp_path, text: str) -> DrbdCollector:
    (tmp_path / "drbd").write_text(text)
    return DrbdCollector(fixture_config(tmp_path))


def test_two_devices_and_states(tmp_path):
    text = ("version: 8.4.3\n 0: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown\n"
            "    ns:2 oos:1\n 1: cs:Connected ro:Primary/Secondary ds:Diskless/UpToDate\n")
    got = samples(collect_text(collector(tmp_path, text)))
    assert got == {
        ("node_drbd_connected", (("device", "drbd0"),)): 0,
        ("node_drbd_node_role_is_primary", (("device", "drbd0"), ("node", "local"))): 0,
        ("node_drbd_node_role_is_primary", (("device", "drbd0"), ("node", "remote"))): 0,
        ("node_drbd_disk_state_is_up_to_date", (("device", "drbd0"), ("node", "local"))): 1,
        ("node_drbd_disk_state_is_up_to_date", (("device", "drbd0"), ("node", "remote"))): 0,
        ("node_drbd_network_sent_bytes_total", (("device", "drbd0"),)): 2048,
        ("node_drbd_out_of_sync_bytes", (("device", "drbd0"),)): 1024,
        ("node_drbd_connected", (("device", "drbd1"),)): 1,
        ("node_drbd_node_role_is_primary", (("device", "drbd1"), ("node", "local"))): 1,
        ("node_drbd_node_role_is_primary", (("device", "drbd1"), ("node", "remote"))): 0,
        ("node_drbd_disk_state_is_up_to_date", (("device", "drbd1"), ("node", "local"))): 0,
        ("node_drbd_disk_state_is_up_to_date", (("device", "drbd1"), ("node", "remote"))): 1}


@pytest.mark.parametrize("text,match", [("1: ns:12a\n", "no number"),
                                        ("1: ro:Primary\n", "pair")])
def test_malformed_values_fail(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, text).collect())


def test_absent_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "drbd", 0)


def test_garbled_file_fails_only_drbd(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "drbd", {"proc/drbd": " 1: cs:Connected dw:-\n"})
