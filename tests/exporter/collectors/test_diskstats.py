"""diskstats: counters and units, node_exporter's device filter, udev properties."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.cli import configure
from exporter.collectors.diskstats import DiskstatsCollector, DiskstatsConfig
from exporter.config import PathsConfig
from tests.exporter.helpers import PROC, collect_text, fixture_config, samples


def devices(got):
    return {dict(k[1])["device"] for k in got}


def test_default_exclusions():
    got = samples(collect_text(DiskstatsCollector(fixture_config())))
    names = devices(got)
    assert {"sda", "vda", "nvme0n1", "mmcblk0", "mmcblk0p1", "dm-0", "sr0"} <= names
    assert not names & {"ram0", "loop0", "sda1", "vda1", "fd0", "nvme0n1p1"}


def test_units_and_optional_columns():
    got = samples(collect_text(DiskstatsCollector(fixture_config())))
    sda = (("device", "sda"),)
    assert got[("node_disk_read_bytes_total", sda)] == 1003346126 * 512
    assert got[("node_disk_read_time_seconds_total", sda)] == 18492.372
    assert ("node_disk_discards_completed_total", sda) not in got  # 14-column line
    assert got[("node_disk_discards_completed_total", (("device", "sdb"),))] == 68851
    assert ("node_disk_flush_requests_total", (("device", "sdb"),)) not in got
    assert got[("node_disk_flush_requests_total", (("device", "sdc"),))] == 1555


def test_custom_exclude():
    config = dataclasses.replace(fixture_config(),
                                 diskstats=DiskstatsConfig(device_exclude="^(sd|dm-|ram|loop)"))
    names = devices(samples(collect_text(DiskstatsCollector(config))))
    assert "sda" not in names and "sda1" not in names and "vda1" in names


def test_udev_properties_label_disk_info(tmp_path):
    (tmp_path / "diskstats").write_text(
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n")
    udev = tmp_path / "udev"
    udev.mkdir()
    (udev / "b8:0").write_text("S:disk/by-id/x\nE:ID_MODEL=Disk_X\nE:ID_PATH=pci-0000:00:1f.2"
                               "\nE:ID_SERIAL_SHORT=SER1\nE:ID_REVISION=1.0\nE:ID_WWN=0x5\n"
                               "E:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=5400\n"
                               "E:ID_FS_TYPE=xfs\nE:ID_FS_UUID=u\nE:DM_NAME=vg-x\n")
    config = fixture_config(tmp_path)
    config = dataclasses.replace(config, paths=dataclasses.replace(
        config.paths, udev_data=str(udev)))
    got = samples(collect_text(DiskstatsCollector(config)))
    info = [k for k in got if k[0] == "node_disk_info"]
    assert dict(info[0][1]) == {"device": "sda", "major": "8", "minor": "0",
                                "model": "Disk_X", "path": "pci-0000:00:1f.2",
                                "revision": "1.0", "serial": "SER1", "wwn": "0x5"}
    assert isinstance(config.paths, PathsConfig)
    sda = (("device", "sda"),)
    assert got[("node_disk_ata_rotation_rate_rpm", sda)] == 5400
    assert ("node_disk_ata_write_cache", sda) not in got  # udev did not say: left out
    assert got[("node_disk_filesystem_info", (("device", "sda"), ("type", "xfs"),
                ("usage", ""), ("uuid", "u"), ("version", "")))] == 1
    assert got[("node_disk_device_mapper_info", (("device", "sda"), ("lv_layer", ""),
                ("lv_name", ""), ("name", "vg-x"), ("uuid", ""), ("vg_name", "")))] == 1


def test_malformed_line_raises(tmp_path):
    (tmp_path / "diskstats").write_text("   8 0 sda 1 2 3\n")
    with pytest.raises(ValueError):
        list(DiskstatsCollector(fixture_config(tmp_path)).collect())


def test_psutil_backend_matches_proc():
    procfs = samples(collect_text(DiskstatsCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(DiskstatsCollector(fixture_config("/proc"),
                                                         backend="psutil")))
    key = [k for k in procfs if k[0] == "node_disk_reads_completed_total"]
    assert key
    for k in key:
        assert procfs[k] <= via_psutil[k] <= procfs[k] + 1000


def flagged(*flags: str) -> set[str]:
    """The disks reported on node_exporter's fixture /proc with these flags."""
    config = configure([f"--path.procfs={PROC}", "--path.sysfs=/nonexistent/sys",
                        "--path.udev.data=/nonexistent/udev", *flags])
    return devices(samples(collect_text(DiskstatsCollector(config))))


def test_device_include_alone_reports_just_those_even_the_default_excluded():
    assert flagged("--collector.diskstats.device-include=^(loop|sda)") == \
        {"sda", "sda1", "sda2", "sda3", "sda4", *(f"loop{i}" for i in range(8))}


def test_deprecated_ignored_devices_is_the_exclude():
    names = flagged("--collector.diskstats.ignored-devices=^(ram|loop|sd)")
    assert not names & {"ram0", "loop0", "sda", "sda1"}
    assert {"vda1", "nvme0n1p1", "fd0"} <= names  # the default exclude is replaced
    assert names == flagged("--collector.diskstats.device-exclude=^(ram|loop|sd)")
