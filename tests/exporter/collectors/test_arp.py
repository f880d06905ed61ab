"""arp: entries counted per device, the include/exclude flags, a malformed table."""

from __future__ import annotations

import pytest

from exporter.cli import build_parser, load
from exporter.collectors.arp import ArpCollector
from tests.exporter.helpers import collect_text, samples

TABLE = """IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1    0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0
192.168.1.2    0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.1       0x1         0x2         de:ad:be:ef:00:00     *        wg0
fe80::1        0x1         0x2         de:ad:be:ef:00:01     *        br-lan
"""


def collector(tmp_path, text=TABLE, *flags: str) -> ArpCollector:
    (tmp_path / "net").mkdir(parents=True)
    (tmp_path / "net" / "arp").write_text(text)
    return ArpCollector(load(build_parser().parse_args([f"--path.procfs={tmp_path}", *flags])))


def counts(c) -> dict[str, float]:
    return {dict(k)["device"]: v for (_, k), v in samples(collect_text(c)).items()}


def test_entries_per_device(tmp_path):
    # Incomplete entries (flags 0x0) count too, as in node_exporter.
    assert counts(collector(tmp_path)) == {"eth0": 2, "wg0": 1, "br-lan": 1}


@pytest.mark.parametrize("flags,expected", [
    (["--collector.arp.device-exclude=^wg"], {"eth0": 2, "br-lan": 1}),
    (["--collector.arp.device-include=eth"], {"eth0": 2}),  # searched, as Go's MatchString
    (["--collector.arp.device-include=^(eth0|wg0)$", "--collector.arp.device-exclude=wg"],
     {"eth0": 2}),  # 1.5 applies both when both are given
])
def test_device_filters(tmp_path, flags, expected):
    assert counts(collector(tmp_path, TABLE, *flags)) == expected


def test_no_entries_is_no_family(tmp_path):
    assert collect_text(collector(tmp_path, TABLE.splitlines(True)[0])) == ""
    assert collect_text(collector(tmp_path / "x", TABLE, "--collector.arp.device-include=^$")) \
        == ""


def test_short_line_fails(tmp_path):
    with pytest.raises(ValueError, match="line 6: 4 columns"):
        list(collector(tmp_path, TABLE + "10.0.0.2 0x1 0x2 eth0\n").collect())
