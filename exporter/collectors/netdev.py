"""`netdev`: per-interface counters, as node_exporter 1.5 names them (lo excluded).

1.5 reads them over rtnetlink by default (`--collector.netdev.netlink`) and folds the detailed
error counters into /proc/net/dev's columns (`legacy()` in its netdev_common.go), which is
what the kernel itself prints in /proc/net/dev (net/core/net-procfs.c sums the same
fields): so the default path parses /proc/net/dev for the same values and adds
`receive_nohandler`, which netlink has and /proc/net/dev lacks, from sysfs. With
`--no-collector.netdev.netlink` 1.5 parses /proc/net/dev alone (no receive_nohandler).
`--collector.netdev.enable-detailed-metrics` keeps the unfolded names: netlink's
rtnl_link_stats64 fields, read from sysfs `statistics/` (the same dev_get_stats() values
netlink carries), or /proc/net/dev's columns with errs/drop spelt errors/dropped.
`--collector.netdev.address-info` adds node_network_address_info for every interface's
addresses (getifaddrs via psutil, as Go's net.Interfaces; 1.5 does not filter it by device).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import (
    Collector,
    DeviceFilter,
    option,
    read_optional,
    read_text,
)
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

COLUMNS = ("receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo",
           "receive_frame", "receive_compressed", "receive_multicast", "transmit_bytes",
           "transmit_packets", "transmit_errs", "transmit_drop", "transmit_fifo",
           "transmit_colls", "transmit_carrier", "transmit_compressed")
NOHANDLER = "receive_nohandler"
# /proc/net/dev's columns as 1.5 names them with enable-detailed-metrics and no netlink.
DETAILED_PROC = {"receive_errs": "receive_errors", "receive_drop": "receive_dropped",
                 "transmit_errs": "transmit_errors", "transmit_drop": "transmit_dropped"}
# rtnl_link_stats64 (sysfs statistics/ file -> 1.5's detailed name), in the struct's order.
DETAILED_NETLINK = {
    "rx_packets": "receive_packets", "tx_packets": "transmit_packets",
    "rx_bytes": "receive_bytes", "tx_bytes": "transmit_bytes",
    "rx_errors": "receive_errors", "tx_errors": "transmit_errors",
    "rx_dropped": "receive_dropped", "tx_dropped": "transmit_dropped",
    "multicast": "multicast", "collisions": "collisions",
    "rx_length_errors": "receive_length_errors", "rx_over_errors": "receive_over_errors",
    "rx_crc_errors": "receive_crc_errors", "rx_frame_errors": "receive_frame_errors",
    "rx_fifo_errors": "receive_fifo_errors", "rx_missed_errors": "receive_missed_errors",
    "tx_aborted_errors": "transmit_aborted_errors",
    "tx_carrier_errors": "transmit_carrier_errors", "tx_fifo_errors": "transmit_fifo_errors",
    "tx_heartbeat_errors": "transmit_heartbeat_errors",
    "tx_window_errors": "transmit_window_errors", "rx_compressed": "receive_compressed",
    "tx_compressed": "transmit_compressed", "rx_nohandler": "receive_nohandler"}


def _desc(key: str) -> Desc:
    return Desc(f"node_network_{key}_total", f"Network device statistic {key}.", "counter",
                ("device",))


DESCS = {key: _desc(key) for key in
         (*COLUMNS, NOHANDLER, *DETAILED_PROC.values(), *DETAILED_NETLINK.values())}
ADDRESS_INFO = Desc("node_network_address_info", "node network address by device", "gauge",
                    ("device", "address", "netmask", "scope"))
PSUTIL_FIELDS = {"bytes_recv": "receive_bytes", "packets_recv": "receive_packets",
                 "errin": "receive_errs", "dropin": "receive_drop",
                 "bytes_sent": "transmit_bytes", "packets_sent": "transmit_packets",
                 "errout": "transmit_errs", "dropout": "transmit_drop"}


DEFAULT_NETDEV_DEVICE_EXCLUDE = r"^lo$"


@dataclass(frozen=True)
class NetdevConfig:
    device_include: str = option(
        "--collector.netdev.device-include", "",
        "regex of network devices to report (mutually exclusive to device-exclude; given "
        "alone it drops device-exclude's default)", regex=True, exclusive_with="device_exclude")
    # Debian's 1.5 default; upstream's is empty.
    device_exclude: str = option("--collector.netdev.device-exclude",
                                 DEFAULT_NETDEV_DEVICE_EXCLUDE,
                                 "regex of network devices to leave out (mutually exclusive "
                                 "to device-include)", regex=True)
    device_whitelist: str = option("--collector.netdev.device-whitelist", "",
                                   "DEPRECATED: use --collector.netdev.device-include",
                                   regex=True, replaces="device_include")
    device_blacklist: str = option("--collector.netdev.device-blacklist", "",
                                   "DEPRECATED: use --collector.netdev.device-exclude",
                                   regex=True, replaces="device_exclude")
    address_info: bool = option("--collector.netdev.address-info", False,
                                "report node_network_address_info for every address")
    enable_detailed_metrics: bool = option(
        "--collector.netdev.enable-detailed-metrics", False,
        "use 1.5's (incompatible) detailed names: receive_errors, receive_missed_errors, ...")
    netlink: bool = option("--collector.netdev.netlink", True,
                           "netlink's statistics (adds receive_nohandler); off: /proc/net/dev "
                           "alone")


def proc_net_dev(path: str) -> Iterator[tuple[str, list[str]]]:
    """(device, its 16 columns) per line of /proc/net/dev; ValueError on a malformed one."""
    for line in read_text(path).splitlines()[2:]:
        device, sep, rest = line.partition(":")
        device = device.strip()
        if not sep or not device:
            raise ValueError(f"{path}: invalid line {line!r}")
        values = rest.split()
        if len(values) != len(COLUMNS):
            raise ValueError(f"{path}: expected {len(COLUMNS)} values for {device}, "
                             f"got {len(values)}")
        yield device, values


def scope(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go's net.IP classification as 1.5's scope() uses it."""
    packed = ip.packed
    multicast_scope = packed[1] & 0x0F if ip.version == 6 and packed[0] == 0xFF else None
    if ip.is_loopback or ip.is_link_local or multicast_scope == 2 \
            or (ip.version == 4 and packed[:3] == b"\xe0\x00\x00"):
        return "link-local"
    if multicast_scope == 1:
        return "interface-local"
    if not (ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address(0xFFFFFFFF)):
        return "global"
    return ""


class NetdevCollector(Collector):
    name = "netdev"
    options = NetdevConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        self.options_ = config.netdev
        self.filter = DeviceFilter(config.netdev.device_exclude, config.netdev.device_include)

    def collect(self) -> Iterator[MetricFamily]:
        yield from self.by_backend("collect")()
        if self.options_.address_info:
            yield self.address_info()

    def collect_procfs(self) -> Iterator[MetricFamily]:
        families: dict[str, Family] = {}
        for device, values in proc_net_dev(self.proc("net", "dev")):
            if self.filter.ignored(device):
                continue
            for name, value in self.device_stats(device, values):
                fam = families.get(name)
                if fam is None:
                    fam = families[name] = Family(DESCS[name])
                fam.samples.append(((device,), value))
        yield from families.values()

    def device_stats(self, device: str, values: list[str]) -> list[tuple[str, int]]:
        """One device's (name, value) pairs, as 1.5 names them under these flags."""
        detailed, netlink = self.options_.enable_detailed_metrics, self.options_.netlink
        if detailed and netlink:
            stats = self.sysfs_stats(device)
            if stats is not None:
                return stats
        names = [DETAILED_PROC.get(c, c) for c in COLUMNS] if detailed else COLUMNS
        out = [(name, int(value)) for name, value in zip(names, values, strict=True)]
        if netlink and not detailed:
            extra = read_optional(self.sys("class", "net", device, "statistics", "rx_nohandler"))
            if extra is not None and extra.isdigit():
                out.append((NOHANDLER, int(extra)))
        return out

    def sysfs_stats(self, device: str) -> list[tuple[str, int]] | None:
        """rtnl_link_stats64 from sysfs `statistics/`, or None where sysfs lacks the device
        (then /proc/net/dev's columns are used)."""
        base = self.sys("class", "net", device, "statistics")
        if not os.path.isdir(base):
            return None
        out = []
        for attr, name in DETAILED_NETLINK.items():
            text = read_optional(os.path.join(base, attr))
            if text is not None and text.isdigit():
                out.append((name, int(text)))
        return out

    def address_info(self) -> MetricFamily:
        """Every address of every interface (1.5 applies no device filter here)."""
        fam = Family(ADDRESS_INFO)
        for device, addrs in self.psutil().net_if_addrs().items():
            for addr in addrs:
                if addr.family not in (socket.AF_INET, socket.AF_INET6) or not addr.netmask:
                    continue
                ip = ipaddress.ip_address(addr.address.split("%", 1)[0])
                mask = ipaddress.ip_address(addr.netmask.split("%", 1)[0])
                prefix = bin(int(mask)).count("1")
                fam.samples.append(((device, str(ip), str(prefix), scope(ip)), 1))
        return fam

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        families = {key: Family(DESCS[key]) for key in PSUTIL_FIELDS.values()}
        for device, stats in sorted(psutil.net_io_counters(pernic=True).items()):
            if self.filter.ignored(device):
                continue
            for field, value in stats._asdict().items():
                if field in PSUTIL_FIELDS:
                    families[PSUTIL_FIELDS[field]].add((device,), int(value))
        yield from families.values()
