"""`diskstats`: per-device I/O counters from /proc/diskstats, as node_exporter 1.5.

Partitions, loop, ram and floppy devices are left out by the same default regex. Sectors are
512 bytes and times milliseconds, whatever the device's real sector size (the kernel's unit).
`node_disk_info` carries udev's properties when /run/udev/data is there (else empty labels).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, DeviceFilter, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

SECTOR = 512
TICK = 0.001  # node_exporter multiplies milliseconds by this (not / 1000): same floats


def _d(name: str, help: str, type: str = "counter") -> Desc:
    return Desc(f"node_disk_{name}", help, type, ("device",))


# (family, column after the device name, scale); None = raw integer.
BASE = (
    (_d("reads_completed_total", "The total number of reads completed successfully."), 0, None),
    (_d("reads_merged_total", "The total number of reads merged."), 1, None),
    (_d("read_bytes_total", "The total number of bytes read successfully."), 2, SECTOR),
    (_d("read_time_seconds_total", "The total number of seconds spent by all reads."), 3, TICK),
    (_d("writes_completed_total", "The total number of writes completed successfully."), 4,
     None),
    (_d("writes_merged_total", "The number of writes merged."), 5, None),
    (_d("written_bytes_total", "The total number of bytes written successfully."), 6, SECTOR),
    (_d("write_time_seconds_total", "This is the total number of seconds spent by all writes."),
     7, TICK),
    (_d("io_now", "The number of I/Os currently in progress.", "gauge"), 8, None),
    (_d("io_time_seconds_total", "Total seconds spent doing I/Os."), 9, TICK),
    (_d("io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os."), 10,
     TICK),
)
DISCARD = (  # kernels >= 4.18 (18 columns in total)
    (_d("discards_completed_total", "The total number of discards completed successfully."),
     11, None),
    (_d("discards_merged_total", "The total number of discards merged."), 12, None),
    (_d("discarded_sectors_total", "The total number of sectors discarded successfully."), 13,
     None),
    (_d("discard_time_seconds_total",
        "This is the total number of seconds spent by all discards."), 14, TICK),
)
FLUSH = (  # kernels >= 5.5 (20 columns in total)
    (_d("flush_requests_total", "The total number of flush requests completed successfully"),
     15, None),
    (_d("flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests."), 16, TICK),
)
INFO_LABELS = ("device", "major", "minor", "model", "path", "revision", "serial", "wwn")
INFO = Desc("node_disk_info", "Info of /sys/block/<block_device>.", "gauge", INFO_LABELS)
# From udev's database, when it has the properties (node_exporter 1.5 does the same).
FS_INFO = Desc("node_disk_filesystem_info", "Info about disk filesystem.", "gauge",
               ("device", "type", "usage", "uuid", "version"))
DM_INFO = Desc("node_disk_device_mapper_info", "Info about disk device mapper.", "gauge",
               ("device", "lv_layer", "lv_name", "name", "uuid", "vg_name"))
ATA = (  # (family, udev property), reported for ATA disks (ID_ATA=1)
    (_d("ata_write_cache", "ATA disk has a write cache.", "gauge"), "ID_ATA_WRITE_CACHE"),
    (_d("ata_write_cache_enabled", "ATA disk has its write cache enabled.", "gauge"),
     "ID_ATA_WRITE_CACHE_ENABLED"),
    (_d("ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs).", "gauge"),
     "ID_ATA_ROTATION_RATE_RPM"),
)


DEFAULT_DISK_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"


@dataclass(frozen=True)
class DiskstatsConfig:
    device_exclude: str = option("--collector.diskstats.device-exclude",
                                 DEFAULT_DISK_DEVICE_EXCLUDE,
                                 "regex of block devices to leave out (mutually exclusive "
                                 "to device-include)", regex=True)
    device_include: str = option(
        "--collector.diskstats.device-include", "",
        "regex of block devices to report (mutually exclusive to device-exclude; given alone "
        "it drops device-exclude's default)", regex=True, exclusive_with="device_exclude")
    ignored_devices: str = option("--collector.diskstats.ignored-devices", "",
                                  "DEPRECATED: use --collector.diskstats.device-exclude",
                                  regex=True, replaces="device_exclude")


class DiskstatsCollector(Collector):
    name = "diskstats"
    options = DiskstatsConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        self.excluded = DeviceFilter(config.diskstats.device_exclude,
                                     config.diskstats.device_include).ignored
        self.udev_dir = config.paths.udev_data
        # Like node_exporter: without a udev database, stop looking for it.
        self.use_udev = os.path.isdir(self.udev_dir)

    def udev(self, major: str, minor: str) -> dict[str, str]:
        props: dict[str, str] = {}
        if not self.use_udev:
            return props
        try:
            text = read_text(os.path.join(self.udev_dir, f"b{major}:{minor}"))
        except OSError:
            return props
        for line in text.splitlines():
            if line.startswith("E:"):
                key, _, value = line[2:].partition("=")
                props[key] = value
        return props

    def collect_procfs(self) -> Iterator[MetricFamily]:
        families = [Family(d) for d, _, _ in BASE + DISCARD + FLUSH]
        info, fs_info, dm_info = Family(INFO), Family(FS_INFO), Family(DM_INFO)
        ata = [Family(d) for d, _ in ATA]
        path = self.proc("diskstats")
        for line in read_text(path).splitlines():
            fields = line.split()
            if len(fields) < 14:
                if fields:
                    raise ValueError(f"{path}: invalid line {line!r}")
                continue
            major, minor, device = fields[0], fields[1], fields[2]
            if self.excluded(device):
                continue
            stats = fields[3:]
            key = (device,)
            columns = BASE
            if len(fields) >= 20:
                columns = BASE + DISCARD + FLUSH
            elif len(fields) >= 18:
                columns = BASE + DISCARD
            for fam, (_, column, scale) in zip(families, columns, strict=False):
                value = int(stats[column])
                fam.samples.append((key, value if scale is None else value * scale))
            props = self.udev(major, minor)
            serial = props.get("ID_SERIAL_SHORT") or props.get("SCSI_IDENT_SERIAL", "")
            info.samples.append(((device, major, minor, props.get("ID_MODEL", ""),
                                  props.get("ID_PATH", ""), props.get("ID_REVISION", ""),
                                  serial, props.get("ID_WWN", "")), 1))
            if props:
                self.udev_families(device, props, fs_info, dm_info, ata)
        yield info
        for fam in (*families, fs_info, dm_info, *ata):
            if fam.samples:
                yield fam

    @staticmethod
    def udev_families(device: str, props: dict[str, str], fs_info: Family, dm_info: Family,
                      ata: list[Family]) -> None:
        if props.get("ID_FS_TYPE"):
            fs_info.add((device, props["ID_FS_TYPE"], props.get("ID_FS_USAGE", ""),
                         props.get("ID_FS_UUID", ""), props.get("ID_FS_VERSION", "")), 1)
        if props.get("DM_NAME"):
            dm_info.add((device, props.get("DM_LV_LAYER", ""), props.get("DM_LV_NAME", ""),
                         props["DM_NAME"], props.get("DM_UUID", ""),
                         props.get("DM_VG_NAME", "")), 1)
        if props.get("ID_ATA") == "1":
            for fam, (_, key) in zip(ata, ATA, strict=True):
                try:
                    fam.add((device,), float(props[key]))
                except (KeyError, ValueError):
                    continue  # a property udev did not set for this disk

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        counters = psutil.disk_io_counters(perdisk=True) or {}
        mapping = {"read_count": 0, "read_merged_count": 1, "read_bytes": 2, "read_time": 3,
                   "write_count": 4, "write_merged_count": 5, "write_bytes": 6,
                   "write_time": 7, "busy_time": 9}
        families = {i: Family(d) for d, i, _ in BASE}
        for device, stats in sorted(counters.items()):
            if self.excluded(device):
                continue
            values = stats._asdict()
            for field, column in mapping.items():
                if field in values:
                    value = values[field]
                    if column in (3, 7, 9):
                        value = value * TICK  # psutil reports milliseconds
                    families[column].add((device,), value)
        for fam in families.values():
            if fam.samples:
                yield fam
