"""`netclass`: network device properties from /sys/class/net, as node_exporter 1.5 reports them.

Per device: `node_network_up` (operstate is "up"), `node_network_info` (address, broadcast,
duplex, operstate, ifalias), and one gauge or counter per numeric attribute it has (carrier,
MTU, speed in bytes per second, ...). node_exporter reads every file of every device's
directory, which makes it its costliest default collector; this reads only the attributes it
reports, each opened relative to the device's directory (one path walk per device, not per
file), with one read of at most 128 bytes, as procfs' SysReadFile does.

Attributes the kernel refuses to give (EINVAL for a virtual NIC's speed or a down link's
carrier, EOPNOTSUPP, EACCES) or that the device lacks are left out, as in node_exporter; any
other read error, or a numeric attribute that is no number, fails the collector (1.5 reports
such a value as 0, which would be false). A device that disappears mid-scrape is left out.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors import netclass_rtnl
from exporter.collectors.base import Collector, NoDataError, go_int, option
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

UP = Desc("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", "gauge",
          ("device",))
INFO_ATTRS = ("address", "broadcast", "duplex", "ifalias", "operstate")
INFO = Desc("node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            "gauge", ("address", "broadcast", "device", "duplex", "ifalias", "operstate"))


def _prop(name: str, type: str = "gauge") -> Desc:
    return Desc(f"node_network_{name}", f"Network device property: {name}", type, ("device",))


# (sysfs attribute, family), in node_exporter's order; speed is handled apart.
NUMERIC = (
    ("addr_assign_type", _prop("address_assign_type")),
    ("carrier", _prop("carrier")),
    ("carrier_changes", _prop("carrier_changes_total", "counter")),
    ("carrier_up_count", _prop("carrier_up_changes_total", "counter")),
    ("carrier_down_count", _prop("carrier_down_changes_total", "counter")),
    ("dev_id", _prop("device_id")),
    ("dormant", _prop("dormant")),
    ("flags", _prop("flags")),
    ("ifindex", _prop("iface_id")),
    ("iflink", _prop("iface_link")),
    ("link_mode", _prop("iface_link_mode")),
    ("mtu", _prop("mtu_bytes")),
    ("name_assign_type", _prop("name_assign_type")),
    ("netdev_group", _prop("net_dev_group")),
    ("speed", _prop("speed_bytes")),
    ("tx_queue_len", _prop("transmit_queue_length")),
    ("type", _prop("protocol_type")),
)
ATTRS = INFO_ATTRS + tuple(attr for attr, _ in NUMERIC)
# Errors procfs treats as "this attribute has no value here".
SKIPPED = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EOPNOTSUPP, errno.EINVAL}
READ_SIZE = 128
def read_attrs(dir_fd: int) -> dict[str, str] | None:
    """The attributes the device has, stripped; None when the device is gone."""
    values: dict[str, str] = {}
    missing = 0
    for attr in ATTRS:
        try:
            # O_NONBLOCK: no effect on a sysfs attribute, but a FIFO in a fake or bind-mounted
            # tree would block open() until a writer came; this way it reads as "".
            fd = os.open(attr, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
            try:
                data = os.read(fd, READ_SIZE)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno not in SKIPPED:
                raise
            missing += exc.errno == errno.ENOENT
            continue
        values[attr] = data.decode("utf-8", "replace").strip()
    if missing == len(ATTRS):
        return None  # removed between listing and reading
    return values


@dataclass(frozen=True)
class NetclassConfig:
    ignored_devices: str = option(
        "--collector.netclass.ignored-devices", "^$",
        "regex of network devices to leave out (searched in the name)", regex=True)
    # 1.5 reports -1 (unknown) as -125000 unless this is set.
    ignore_invalid_speed: bool = option(
        "--collector.netclass.ignore-invalid-speed", False,
        "leave out speeds the kernel reports as -1")
    netlink: bool = option(
        "--collector.netclass.netlink", False,
        "read the links over rtnetlink and ethtool netlink instead of sysfs (1.5's families "
        "of that path; see exporter/collectors/netclass_rtnl.py)")
    # 1.5 spells it with its own prefix; only with netlink.
    rtnl_with_stats: bool = option(
        "--collector.netclass_rtnl.with-stats", False,
        "with --collector.netclass.netlink, each link's statistics as "
        "node_network_*_total gauges")


class NetclassCollector(Collector):
    name = "netclass"
    options = NetclassConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.ignored = re.compile(config.netclass.ignored_devices).search
        self.ignore_invalid_speed = config.netclass.ignore_invalid_speed

    def devices(self, base: str) -> list[str]:
        """Entries of /sys/class/net that are not regular files (bonding_masters is one)."""
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, PermissionError) as exc:
            raise NoDataError(f"{base}: {exc.strerror}") from None
        return sorted(e.name for e in entries
                      if not e.is_file(follow_symlinks=False) and not self.ignored(e.name))

    def collect(self) -> Iterator[MetricFamily]:
        if self.config.netclass.netlink:
            options = self.config.netclass
            yield from netclass_rtnl.families(
                netclass_rtnl.dump_links(), netclass_rtnl.dump_link_modes(), self.ignored,
                options.rtnl_with_stats, options.ignore_invalid_speed)
            return
        base = self.sys("class", "net")
        up, info = Family(UP), Family(INFO)
        numeric = [Family(desc) for _, desc in NUMERIC]
        for device in self.devices(base):
            try:
                dir_fd = os.open(os.path.join(base, device),
                                 os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # gone since the listing
            try:
                values = read_attrs(dir_fd)
            finally:
                os.close(dir_fd)
            if values is not None:
                self.device(base, device, values, up, info, numeric)
        if up.samples:  # no devices: no families, as node_exporter
            yield up
            yield info
        yield from (family for family in numeric if family.samples)

    def device(self, base: str, device: str, values: dict[str, str], up: Family, info: Family,
               numeric: list[Family]) -> None:
        key = (device,)
        operstate = values.get("operstate", "")
        up.samples.append((key, 1 if operstate == "up" else 0))
        info.samples.append(((values.get("address", ""), values.get("broadcast", ""), device,
                              values.get("duplex", ""), values.get("ifalias", ""), operstate), 1))
        for (attr, _), family in zip(NUMERIC, numeric, strict=True):
            text = values.get(attr)
            if text is None:
                continue
            value = go_int(text)
            if value is None:
                raise ValueError(f"{base}/{device}/{attr}: expected an integer, "
                                 f"got {text[:40]!r}")
            if attr == "speed":
                # Mb/s to bytes/s; some devices say -1 for unknown, which 1.5 reports as
                # -125000 unless --collector.netclass.ignore-invalid-speed.
                if value < 0 and self.ignore_invalid_speed:
                    continue
                value *= 125_000
            family.samples.append((key, value))
