"""bonding: slaves per bonding master, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.bonding import BondingCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(BondingCollector(e2e_config()), ("node_bonding_",))


def test_newer_lower_prefix(tmp_path):
    net = tmp_path / "class" / "net"
    (net / "bond1" / "bonding").mkdir(parents=True)
    (net / "bonding_masters").write_text("bond1\n")
    (net / "bond1" / "bonding" / "slaves").write_text("eth0 eth1\n")
    for slave, state in (("eth0", "up"), ("eth1", "down")):
        (net / "bond1" / f"lower_{slave}" / "bonding_slave").mkdir(parents=True)
        (net / "bond1" / f"lower_{slave}" / "bonding_slave" / "mii_status").write_text(state)
    got = samples(collect_text(BondingCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_bonding_slaves", (("master", "bond1"),)): 2,
                   ("node_bonding_active", (("master", "bond1"),)): 1}


def test_no_bonding_module_is_no_data(tmp_path):
    assert_absent(tmp_path, "bonding", 0)


def test_master_without_slaves_file_fails_only_bonding(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "bonding", {"sys/class/net/bonding_masters": "bond0\n"})
