"""`btrfs`: Btrfs allocation and devices from /sys/fs/btrfs, as node_exporter 1.5 reports them.

Per filesystem (/sys/fs/btrfs/<uuid>): node_btrfs_info{label}, the global reserve, per block
group type (data, metadata, system) its reserved bytes and, per layout (raid1, ...), used
and allocated bytes and the allocation ratio. Devices come, as in 1.5, from the filesystem's
ioctls (BTRFS_IOC_FS_INFO / DEV_INFO / GET_DEV_STATS on a mount point, which need the
filesystem mounted and readable): their size, unused bytes and error counters, labelled with
the device's btrfs UUID; when that fails, from sysfs (devices/<name>/size, sizes only).

1.5 reports 0 for an attribute file it cannot find or parse; here a missing file leaves its
series out and a garbled number fails the collector. No btrfs: no families, success 1, as
in 1.5.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

SECTOR_SIZE = 512
BLOCK_GROUPS = ("data", "metadata", "system")
ERROR_TYPES = ("write", "read", "flush", "corruption", "generation")
UINT = re.compile(r"[0-9]{1,20}")

INFO = Desc("node_btrfs_info", "Filesystem information", "gauge", ("label", "uuid"))
GLOBAL_RSV = Desc("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", "gauge",
                  ("uuid",))
RESERVED = Desc("node_btrfs_reserved_bytes", "Amount of space reserved for a data type",
                "gauge", ("block_group_type", "uuid"))
_LAYOUT = ("block_group_type", "mode", "uuid")
USED = Desc("node_btrfs_used_bytes", "Amount of used space by a layout/data type", "gauge",
            _LAYOUT)
SIZE = Desc("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type",
            "gauge", _LAYOUT)
RATIO = Desc("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type",
             "gauge", _LAYOUT)
DEVICE_SIZE_HELP = "Size of a device that is part of the filesystem."
SYSFS_DEVICE_SIZE = Desc("node_btrfs_device_size_bytes", DEVICE_SIZE_HELP, "gauge",
                         ("device", "uuid"))
_DEVICE = ("btrfs_dev_uuid", "device", "uuid")
DEVICE_SIZE = Desc("node_btrfs_device_size_bytes", DEVICE_SIZE_HELP, "gauge", _DEVICE)
DEVICE_UNUSED = Desc("node_btrfs_device_unused_bytes",
                     "Unused bytes unused on a device that is part of the filesystem.", "gauge",
                     _DEVICE)
DEVICE_ERRORS = Desc("node_btrfs_device_errors_total", "Errors reported for the device",
                     "counter", ("btrfs_dev_uuid", "device", "type", "uuid"))


def _iowr(nr: int, size: int, read_only: bool = False) -> int:
    """Linux's _IOR/_IOWR(BTRFS_IOCTL_MAGIC, nr, size)."""
    return ((2 if read_only else 3) << 30) | (size << 16) | (0x94 << 8) | nr


FS_INFO_SIZE, DEV_INFO_SIZE, DEV_STATS_SIZE = 1024, 4096, 1032
IOC_FS_INFO = _iowr(31, FS_INFO_SIZE, read_only=True)
IOC_DEV_INFO = _iowr(30, DEV_INFO_SIZE)
IOC_GET_DEV_STATS = _iowr(52, DEV_STATS_SIZE)


@dataclass
class IoctlDevice:
    path: str
    uuid: str
    used: int
    total: int
    errors: tuple[int, ...]


@dataclass
class Filesystem:
    """What sysfs says about one filesystem; a missing attribute is None."""

    uuid: str
    label: str
    global_rsv: int | None
    devices: dict[str, int | None]
    reserved: dict[str, int | None] = field(default_factory=dict)
    layouts: dict[tuple[str, str], tuple[int | None, int | None]] = field(default_factory=dict)


def read_value(path: str) -> int | None:
    """An attribute's unsigned value; None when the file is absent."""
    try:
        text = read_text(path).strip()
    except FileNotFoundError:
        return None
    if UINT.fullmatch(text) is None or int(text) >= 1 << 64:
        raise ValueError(f"{path}: expected an unsigned integer, got {text[:40]!r}")
    return int(text)


def read_string(path: str) -> str:
    try:
        return read_text(path).strip()
    except FileNotFoundError:
        return ""


def subdirs(path: str) -> list[str]:
    """Directories in `path` (not following links, as Go's DirEntry.IsDir); none if absent."""
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def ratio(layout: str, devices: int) -> float:
    """procfs' calcRatio (float division as in Go: n/0 is +Inf, 0/0 NaN)."""
    if layout in ("single", "raid0"):
        return 1
    if layout in ("dup", "raid1", "raid10"):
        return 2
    spare = {"raid5": 1, "raid6": 2}.get(layout)
    if spare is None:
        return 0
    if devices == spare:
        return float("inf") if devices else float("nan")
    return devices / (devices - spare)


def read_filesystem(path: str) -> Filesystem:
    try:
        names = sorted(os.listdir(os.path.join(path, "devices")))
    except FileNotFoundError:
        names = []
    devices = {}
    for name in names:
        size = read_value(os.path.join(path, "devices", name, "size"))
        devices[name] = None if size is None else size * SECTOR_SIZE
    uuid = read_string(os.path.join(path, "metadata_uuid")) or os.path.basename(path)
    fs = Filesystem(uuid, read_string(os.path.join(path, "label")),
                    read_value(os.path.join(path, "allocation", "global_rsv_size")), devices)
    for group in BLOCK_GROUPS:
        base = os.path.join(path, "allocation", group)
        fs.reserved[group] = read_value(os.path.join(base, "bytes_reserved"))
        for layout in subdirs(base):
            fs.layouts[(group, layout)] = (read_value(os.path.join(base, layout, "used_bytes")),
                                           read_value(os.path.join(base, layout, "total_bytes")))
    return fs


def dashed(hex_uuid: str) -> str:
    """A device UUID as 1.5 labels it (8-4-4-4-12); filesystem ids stay plain hex."""
    h = hex_uuid
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ioctl_devices(mount_point: str) -> tuple[str, list[IoctlDevice]]:
    """(fsid as hex, devices) of the filesystem mounted there, through its ioctls."""
    fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        info = bytearray(FS_INFO_SIZE)
        fcntl.ioctl(fd, IOC_FS_INFO, info)
        max_id, num_devices = struct.unpack_from("=QQ", info)
        fsid = info[16:32].hex()
        devices: list[IoctlDevice] = []
        for devid in range(max_id + 1):
            dev = bytearray(DEV_INFO_SIZE)
            struct.pack_into("=Q", dev, 0, devid)
            try:
                fcntl.ioctl(fd, IOC_DEV_INFO, dev)
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    continue  # device ids have gaps
                raise
            used, total = struct.unpack_from("=QQ", dev, 24)
            path = bytes(dev[DEV_INFO_SIZE - 1024:]).split(b"\0", 1)[0].decode("utf-8",
                                                                              "replace")
            stats = bytearray(DEV_STATS_SIZE)
            struct.pack_into("=QQQ", stats, 0, devid, len(ERROR_TYPES), 0)
            fcntl.ioctl(fd, IOC_GET_DEV_STATS, stats)
            errors = struct.unpack_from(f"={len(ERROR_TYPES)}Q", stats, 24)
            devices.append(IoctlDevice(path, dashed(dev[8:24].hex()), used, total, errors))
            if len(devices) == num_devices:
                break
        return fsid, devices
    finally:
        os.close(fd)


def unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


class BtrfsCollector(Collector):
    name = "btrfs"

    def mounts(self) -> list[tuple[str, str]]:
        """(device, mount point) of the btrfs mounts, from /proc/1/mounts as 1.5 reads them."""
        for leaf in (("1", "mounts"), ("mounts",)):
            try:
                text = read_text(self.proc(*leaf))
                break
            except FileNotFoundError:
                continue
        else:
            return []
        out = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "btrfs":
                out.append((parts[0], unescape(parts[1])))
        return out

    def ioctl_stats(self) -> dict[str, list[IoctlDevice]]:
        """Devices per filesystem UUID (hex, no dashes); filesystems whose mount point cannot
        be opened or queried are left to sysfs, as in 1.5."""
        found: dict[str, list[IoctlDevice]] = {}
        done: set[str] = set()
        for device, mount_point in self.mounts():
            if device in done:
                continue
            path = os.path.join(self.rootfs, mount_point.lstrip("/"))
            try:
                fsid, devices = ioctl_devices(path)
            except OSError:
                continue
            if fsid not in found:
                done.add(device)
                found[fsid] = devices
        return found

    def collect(self) -> Iterator[MetricFamily]:
        paths = sorted(glob.glob(os.path.join(glob.escape(self.sys("fs", "btrfs")), "*-*")))
        filesystems = [read_filesystem(path) for path in paths]
        if not filesystems:
            return
        ioctl = self.ioctl_stats()
        families = {desc.name: Family(desc) for desc in (INFO, GLOBAL_RSV, RESERVED, USED, SIZE,
                                                          RATIO, DEVICE_UNUSED, DEVICE_ERRORS)}
        # One label set per family: the ioctl one as soon as one filesystem has it.
        sizes = Family(DEVICE_SIZE if ioctl else SYSFS_DEVICE_SIZE)
        for fs in filesystems:
            self.filesystem(fs, families)
            devices = ioctl.get(fs.uuid.replace("-", ""))
            if devices is None:
                for name, size in fs.devices.items():
                    if size is not None:
                        sizes.add(("", name, fs.uuid) if ioctl else (name, fs.uuid), size)
                continue
            for dev in devices:
                name = os.path.basename(dev.path)
                key = (dev.uuid, name, fs.uuid)
                sizes.add(key, dev.total)
                families[DEVICE_UNUSED.name].add(key, dev.total - dev.used)
                for kind, count in zip(ERROR_TYPES, dev.errors, strict=True):
                    families[DEVICE_ERRORS.name].add((dev.uuid, name, kind, fs.uuid), count)
        families[sizes.name] = sizes
        yield from (family for family in families.values() if family.samples)

    @staticmethod
    def filesystem(fs: Filesystem, families: dict[str, Family]) -> None:
        families[INFO.name].add((fs.label, fs.uuid), 1)
        if fs.global_rsv is not None:
            families[GLOBAL_RSV.name].add((fs.uuid,), fs.global_rsv)
        for group, reserved in fs.reserved.items():
            if reserved is not None:
                families[RESERVED.name].add((group, fs.uuid), reserved)
        for (group, layout), (used, total) in fs.layouts.items():
            key = (group, layout, fs.uuid)
            if used is not None:
                families[USED.name].add(key, used)
            if total is not None:
                families[SIZE.name].add(key, total)
            families[RATIO.name].add(key, ratio(layout, len(fs.devices)))
