"""netclass: node_exporter 1.5's families from a made-up sysfs and from this host's /sys."""

from __future__ import annotations

import errno
import os

import pytest

from exporter.cli import build_parser, load
from exporter.collectors.base import NoDataError
from exporter.collectors.netclass import ATTRS, NetclassCollector, go_int
from tests.exporter.helpers import collect_text, headers, samples

ETH = {"address": "52:54:00:12:34:56", "broadcast": "ff:ff:ff:ff:ff:ff", "duplex": "full",
       "ifalias": "uplink", "operstate": "up", "addr_assign_type": "0", "carrier": "1",
       "carrier_changes": "3", "carrier_up_count": "2", "carrier_down_count": "1",
       "dev_id": "0x0", "dormant": "0", "flags": "0x1003", "ifindex": "2", "iflink": "2",
       "link_mode": "0", "mtu": "9000", "name_assign_type": "4", "netdev_group": "0",
       "speed": "10000", "tx_queue_len": "1000", "type": "1", "uevent": "INTERFACE=eth0"}


def make(sysfs, name: str, attrs: dict[str, str], link: bool = False) -> None:
    net = sysfs / "class" / "net"
    net.mkdir(parents=True, exist_ok=True)
    target = sysfs / "devices" / "virtual" / "net" / name if link else net / name
    target.mkdir(parents=True)
    for key, value in attrs.items():
        (target / key).write_text(value + "\n")
    if link:
        (net / name).symlink_to(target)


def collector(sysfs, *flags: str) -> NetclassCollector:
    return NetclassCollector(load(build_parser().parse_args([f"--path.sysfs={sysfs}", *flags])))


def by_device(c) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for (name, labels), value in samples(collect_text(c)).items():
        labels = dict(labels)
        device = labels.pop("device")
        out.setdefault(device, {})[name] = labels or value
    return out


def test_all_families_of_a_device(tmp_path):
    make(tmp_path, "eth0", ETH, link=True)
    (tmp_path / "class" / "net" / "bonding_masters").write_text("bond0\n")
    text = collect_text(collector(tmp_path))
    assert by_device(collector(tmp_path)) == {"eth0": {
        "node_network_up": 1,
        "node_network_info": {"address": "52:54:00:12:34:56", "broadcast": "ff:ff:ff:ff:ff:ff",
                              "duplex": "full", "ifalias": "uplink", "operstate": "up"},
        "node_network_address_assign_type": 0, "node_network_carrier": 1,
        "node_network_carrier_changes_total": 3, "node_network_carrier_up_changes_total": 2,
        "node_network_carrier_down_changes_total": 1, "node_network_device_id": 0,
        "node_network_dormant": 0, "node_network_flags": 0x1003, "node_network_iface_id": 2,
        "node_network_iface_link": 2, "node_network_iface_link_mode": 0,
        "node_network_mtu_bytes": 9000, "node_network_name_assign_type": 4,
        "node_network_net_dev_group": 0, "node_network_speed_bytes": 1_250_000_000,
        "node_network_transmit_queue_length": 1000, "node_network_protocol_type": 1}}
    head = headers(text)
    assert head["node_network_carrier_changes_total"] == {
        "HELP": "Network device property: carrier_changes_total", "TYPE": "counter"}
    assert head["node_network_up"]["HELP"] == "Value is 1 if operstate is 'up', 0 otherwise."


def test_missing_attributes_are_left_out_and_info_labels_empty(tmp_path):
    make(tmp_path, "tun0", {"operstate": "unknown", "mtu": "1500", "flags": "0x1091"})
    assert by_device(collector(tmp_path)) == {"tun0": {
        "node_network_up": 0,
        "node_network_info": {"address": "", "broadcast": "", "duplex": "", "ifalias": "",
                              "operstate": "unknown"},
        "node_network_mtu_bytes": 1500, "node_network_flags": 0x1091}}


@pytest.mark.parametrize("flags,speed", [([], -125_000),
                                         (["--collector.netclass.ignore-invalid-speed"], None)])
def test_unknown_speed(tmp_path, flags, speed):
    make(tmp_path, "veth0", {"operstate": "up", "speed": "-1"})
    got = by_device(collector(tmp_path, *flags))["veth0"]
    assert got.get("node_network_speed_bytes") == speed


def test_ignored_devices_are_searched(tmp_path):
    for name in ("eth0", "docker0", "veth12"):
        make(tmp_path, name, {"operstate": "up"})
    got = by_device(collector(tmp_path, "--collector.netclass.ignored-devices=^(docker|veth)"))
    assert set(got) == {"eth0"}
    assert set(by_device(collector(tmp_path))) == {"eth0", "docker0", "veth12"}


def test_a_vanished_device_is_left_out(tmp_path):
    make(tmp_path, "eth0", {"operstate": "up"})
    (tmp_path / "class" / "net" / "gone0").symlink_to(tmp_path / "nowhere")
    assert set(by_device(collector(tmp_path))) == {"eth0"}


def test_no_devices_no_families_and_no_sysfs_no_data(tmp_path):
    (tmp_path / "class" / "net").mkdir(parents=True)
    assert collect_text(collector(tmp_path)) == ""
    with pytest.raises(NoDataError):
        list(collector(tmp_path / "absent").collect())


@pytest.mark.parametrize("attr,value", [("mtu", "15OO"), ("flags", "0x"), ("ifindex", "08"),
                                        ("speed", "1_000"), ("mtu", "")])
def test_a_garbled_number_fails_the_collector(tmp_path, attr, value):
    make(tmp_path, "eth0", {"operstate": "up", attr: value})
    with pytest.raises(ValueError, match=attr):
        list(collector(tmp_path).collect())


def test_a_directory_where_an_attribute_should_be_fails(tmp_path):
    make(tmp_path, "eth0", {"operstate": "up"})
    (tmp_path / "class" / "net" / "eth0" / "mtu").mkdir()  # EISDIR: not a "no value" errno
    with pytest.raises(IsADirectoryError):
        list(collector(tmp_path).collect())


@pytest.mark.parametrize("text,value", [("0", 0), ("42", 42), ("-1", -1), ("0x1003", 4099),
                                        ("0X1f", 31), ("017", 15), ("0b101", 5), ("0o17", 15),
                                        ("+7", 7), ("9223372036854775807", 2**63 - 1)])
def test_go_int_is_parseint_base_0(text, value):
    assert go_int(text) == value


@pytest.mark.parametrize("text", ["", "x", "08", "1.5", "0x", " 1", "9223372036854775808"])
def test_go_int_rejects(text):
    assert go_int(text) is None


def test_this_hosts_sys_class_net():
    """Every attribute this host's kernel refuses (EINVAL: a down link's carrier, a virtual
    NIC's speed) is left out, every one it gives is reported, for every device."""
    base = "/sys/class/net"
    refused, given, einval = set(), {}, set()
    for device in os.listdir(base):
        if os.path.isfile(os.path.join(base, device)):
            continue
        for attr in ATTRS:
            try:
                with open(os.path.join(base, device, attr), "rb") as f:
                    given[(device, attr)] = f.read().decode().strip()
            except OSError as exc:
                assert exc.errno in (errno.EINVAL, errno.ENOENT, errno.EOPNOTSUPP), exc
                refused.add((device, attr))
                if exc.errno == errno.EINVAL:
                    einval.add((device, attr))
    got = by_device(collector("/sys"))
    assert set(got) == {device for device, _ in given}
    for device, values in got.items():
        assert values["node_network_up"] == (given.get((device, "operstate")) == "up")
        if (device, "mtu") in given:
            assert values["node_network_mtu_bytes"] == int(given[(device, "mtu")])
        carrier = values.get("node_network_carrier")
        assert (carrier is None) == ((device, "carrier") in refused), device
        speed = values.get("node_network_speed_bytes")
        assert (speed is None) == ((device, "speed") in refused), device
    # The loopback device has no link speed: its kernel read fails with EINVAL every time,
    # so the EINVAL path is exercised on every host, and the device is still reported.
    assert ("lo", "speed") in einval and "lo" in got


def test_an_attribute_that_would_block_fails_the_collector_instead_of_stalling(tmp_path):
    """A FIFO where `speed` should be (nothing ever writes it) blocks a plain open() for
    ever; the collector opens without blocking, reads nothing, and fails with the path."""
    make(tmp_path, "eth0", {"operstate": "up", "mtu": "1500"})
    os.mkfifo(tmp_path / "class" / "net" / "eth0" / "speed")
    with pytest.raises(ValueError, match="speed"):
        list(collector(tmp_path).collect())
