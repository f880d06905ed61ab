"""infiniband: /sys/class/infiniband devices and ports, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.infiniband import InfinibandCollector, parse_rate
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(InfinibandCollector(e2e_config()), ("node_infiniband_",))


def test_rate_goes_through_float32_as_procfs():
    assert parse_rate("100 Gb/sec (4X EDR)\n", "x") == 12_500_000_000
    assert parse_rate("2.5 Gb/sec (1X SDR)\n", "x") == 312_500_000
    # 0.1 is not exact in float32: procfs' answer, not 12.5 MB/s
    assert parse_rate("0.1 Gb/sec\n", "x") == int(0.10000000149011612 * 125_000_000)


def test_no_infiniband_is_no_data(tmp_path):
    assert_absent(tmp_path, "infiniband", 0)


def test_garbled_state_fails_only_infiniband(tmp_path, caplog):
    port = "sys/class/infiniband/mlx4_0/ports/1/"
    assert_fails_alone(tmp_path, caplog, "infiniband",
                       {"sys/class/infiniband/mlx4_0/board_id": "b\n",
                        "sys/class/infiniband/mlx4_0/fw_ver": "1\n",
                        port + "state": "ACTIVE\n", port + "phys_state": "5: LinkUp\n",
                        port + "rate": "40 Gb/sec\n", port + "counters/link_downed": "0\n"})
