"""`ethtool`: NIC driver info, link modes and driver statistics via the SIOCETHTOOL ioctl
(off by default).

As node_exporter 1.5 (safchain/ethtool 0.2): for every device of /sys/class/net that the
device filters let through, ETHTOOL_GSET gives the supported / advertised speeds, ports,
autonegotiation and pause flags (`node_network_*`), ETHTOOL_GDRVINFO `node_ethtool_info`,
and ETHTOOL_GSTRINGS + GSTATS every driver statistic matching
`--collector.ethtool.metrics-include` as untyped `node_ethtool_<name>` (lower case,
sanitized, `rx`/`tx` spelled `received`/`transmitted`; rx_bytes & co keep 1.5's fixed
`_total` names; names that clash after sanitizing are dropped). A call a driver does not
support (EOPNOTSUPP: lo, most virtual devices) just leaves its families out for that
device; other errors are logged once per device and call. No /sys/class/net: success 0.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, DeviceFilter, NoDataError, option, valid_utf8
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

log = logging.getLogger("exporter.collectors.ethtool")

SIOCETHTOOL = 0x8946
ETHTOOL_GSET, ETHTOOL_GDRVINFO, ETHTOOL_GSTRINGS, ETHTOOL_GSTATS = 0x1, 0x3, 0x1B, 0x1D
ETH_SS_STATS = 1
ETH_GSTRING_LEN = 32
MAX_GSTRINGS = 32768  # safchain's limit; more stats than this fail the device's stats
IFNAMSIZ = 16
# struct ethtool_cmd: cmd, supported, advertising, speed, duplex, port, phy_address,
# transceiver, autoneg, mdio_support, maxtxpkt, maxrxpkt, speed_hi, eth_tp_mdix,
# eth_tp_mdix_ctrl, lp_advertising, reserved[2].
ETHTOOL_CMD = struct.Struct("=IIIHBBBBBBIIHBBI2I")
# struct ethtool_drvinfo: cmd, driver, version, fw_version, bus_info, erom_version,
# reserved2, n_priv_flags, n_stats, testinfo_len, eedump_len, regdump_len.
DRVINFO = struct.Struct("=I32s32s32s32s32s12sIIIII")

# ethtool_link_mode_bit_indices.
AUTONEG, PAUSE, ASYM_PAUSE = 6, 13, 14
PORTS = {"TP": 7, "AUI": 8, "MII": 9, "FIBRE": 10, "BNC": 11, "Backplane": 16}
# bit: (Mb/s, duplex, PHY). 1.5 also lists 2500baseT_Full (bit 47), which a 32-bit mask
# never has: it is never reported, here as there.
SPEEDS = {0: (10, "half", "T"), 1: (10, "full", "T"), 2: (100, "half", "T"),
          3: (100, "full", "T"), 4: (1000, "half", "T"), 5: (1000, "full", "T"),
          12: (10000, "full", "T"), 17: (1000, "full", "KX"), 18: (10000, "full", "KX4"),
          19: (10000, "full", "KR"), 20: (10000, "full", "R_FEC"),
          21: (20000, "full", "MLD2"), 22: (20000, "full", "KR2"), 23: (40000, "full", "KR4"),
          24: (40000, "full", "CR4"), 25: (40000, "full", "SR4"), 26: (40000, "full", "LR4"),
          27: (56000, "full", "KR4"), 28: (56000, "full", "CR4"), 29: (56000, "full", "SR4"),
          30: (56000, "full", "LR4"), 31: (25000, "full", "CR")}
MBPS = 1_000_000 / 8  # bytes per second, as netclass' speeds


def link_desc(name: str, help: str, labels: tuple[str, ...] = ("device",)) -> Desc:
    return Desc(f"node_network_{name}", help, "gauge", labels)


SPEED = ("device", "duplex", "mode")
LINK = {
    "supported_port": link_desc("supported_port_info",
                                "Type of ports or PHYs supported by network device",
                                ("device", "type")),
    "supported_speed": link_desc("supported_speed_bytes",
                                 "Combination of speeds and features supported by network "
                                 "device", SPEED),
    "supported_autonegotiate": link_desc("autonegotiate_supported",
                                         "If this port device supports autonegotiate"),
    "supported_pause": link_desc("pause_supported",
                                 "If this port device supports pause frames"),
    "supported_asymmetricpause": link_desc("asymmetricpause_supported",
                                           "If this port device supports asymmetric pause "
                                           "frames"),
    "advertised_speed": link_desc("advertised_speed_bytes",
                                  "Combination of speeds and features offered by network "
                                  "device", SPEED),
    "advertised_autonegotiate": link_desc("autonegotiate_advertised",
                                          "If this port device offers autonegotiate"),
    "advertised_pause": link_desc("pause_advertised",
                                  "If this port device offers pause capability"),
    "advertised_asymmetricpause": link_desc("asymmetricpause_advertised",
                                            "If this port device offers asymmetric pause "
                                            "capability"),
    "autonegotiate": link_desc("autonegotiate", "If this port is using autonegotiate"),
}
INFO = Desc("node_ethtool_info", "A metric with a constant '1' value labeled by bus_info, "
            "device, driver, expansion_rom_version, firmware_version, version.", "gauge",
            ("bus_info", "device", "driver", "expansion_rom_version", "firmware_version",
             "version"))
# Statistics 1.5 names by hand (its pre-made descriptions, used as they are).
FIXED = {
    "rx_bytes": ("node_ethtool_received_bytes_total", "Network interface bytes received"),
    "rx_dropped": ("node_ethtool_received_dropped_total", "Number of received frames dropped"),
    "rx_errors": ("node_ethtool_received_errors_total",
                  "Number of received frames with errors"),
    "rx_packets": ("node_ethtool_received_packets_total", "Network interface packets received"),
    "tx_bytes": ("node_ethtool_transmitted_bytes_total", "Network interface bytes sent"),
    "tx_errors": ("node_ethtool_transmitted_errors_total", "Number of sent frames with errors"),
    "tx_packets": ("node_ethtool_transmitted_packets_total", "Network interface packets sent"),
}
UNSAFE = re.compile(r"_*[^0-9A-Za-z_]+_*")  # node_exporter's SanitizeMetricName
RECEIVED = re.compile(r"(^|_)rx(_|$)")
TRANSMITTED = re.compile(r"(^|_)tx(_|$)")
MAX_DESCS = 20_000
MAX_LOGGED = 1_000


def stat_name(stat: str) -> str:
    """buildEthtoolFQName: node_ethtool_ + the sanitized, lower-cased statistic name."""
    name = UNSAFE.sub("_", stat).lower().lstrip("_")
    name = RECEIVED.sub(r"\1received\2", name)
    return "node_ethtool_" + TRANSMITTED.sub(r"\1transmitted\2", name)


def c_string(data: bytes) -> str:
    return valid_utf8(data.split(b"\0", 1)[0])


@dataclass(frozen=True)
class EthtoolConfig:
    device_include: str = option("--collector.ethtool.device-include", "",
                                 "regex of devices to include (mutually exclusive to "
                                 "device-exclude)", regex=True)
    device_exclude: str = option("--collector.ethtool.device-exclude", "",
                                 "regex of devices to exclude (mutually exclusive to "
                                 "device-include)", regex=True)
    metrics_include: str = option("--collector.ethtool.metrics-include", ".*",
                                  "regex of ethtool stats to include", regex=True)


class Ethtool:
    """SIOCETHTOOL calls on one socket; the string and stats buffers are allocated once, at
    safchain's maximum, since the kernel writes as many entries as it has *now*."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.strings = ctypes.create_string_buffer(12 + MAX_GSTRINGS * ETH_GSTRING_LEN)
        self.stats = ctypes.create_string_buffer(8 + MAX_GSTRINGS * 8)

    def close(self) -> None:
        self.sock.close()

    def ioctl(self, device: str, buffer: ctypes.Array) -> None:
        name = os.fsencode(device)[:IFNAMSIZ - 1]
        ifreq = struct.pack("16sP", name, ctypes.addressof(buffer)).ljust(40, b"\0")
        fcntl.ioctl(self.sock.fileno(), SIOCETHTOOL, ifreq)

    def call(self, device: str, layout: struct.Struct, cmd: int) -> tuple:
        """One fixed-size request: `layout`'s struct with its leading cmd set, as answered."""
        buffer = ctypes.create_string_buffer(struct.pack("=I", cmd).ljust(layout.size, b"\0"))
        self.ioctl(device, buffer)
        return layout.unpack(buffer.raw[:layout.size])

    def link_info(self, device: str) -> tuple:
        return self.call(device, ETHTOOL_CMD, ETHTOOL_GSET)

    def driver_info(self, device: str) -> tuple:
        return self.call(device, DRVINFO, ETHTOOL_GDRVINFO)

    def statistics(self, device: str) -> dict[str, int]:
        n_stats = self.driver_info(device)[8]
        if n_stats > MAX_GSTRINGS:
            raise ValueError(f"more than {MAX_GSTRINGS} statistics ({n_stats})")
        if n_stats == 0:
            return {}
        struct.pack_into("=III", self.strings, 0, ETHTOOL_GSTRINGS, ETH_SS_STATS, n_stats)
        self.ioctl(device, self.strings)
        count = min(n_stats, struct.unpack_from("=I", self.strings, 8)[0])
        struct.pack_into("=II", self.stats, 0, ETHTOOL_GSTATS, count)
        self.ioctl(device, self.stats)
        count = min(count, struct.unpack_from("=I", self.stats, 4)[0])
        names = self.strings.raw[12:12 + count * ETH_GSTRING_LEN]
        values = struct.unpack_from(f"={count}Q", self.stats, 8)
        out = {}
        for i, value in enumerate(values):
            key = names[i * ETH_GSTRING_LEN:(i + 1) * ETH_GSTRING_LEN].split(b"\0", 1)[0]
            if key:
                out[key.decode("utf-8", "replace")] = value
        return out


class EthtoolCollector(Collector):
    name = "ethtool"
    options = EthtoolConfig
    default_enabled = False

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.filter = DeviceFilter(config.ethtool.device_exclude, config.ethtool.device_include)
        self.metrics = re.compile(config.ethtool.metrics_include).search
        self.descs: dict[str, Desc] = {}  # statistic -> its Desc (names only, no values)
        self.logged: set[tuple[str, str, int]] = set()
        self.ethtool: Ethtool | None = None

    def close(self) -> None:
        if self.ethtool is not None:
            self.ethtool.close()
            self.ethtool = None

    def devices(self) -> list[str]:
        path = self.sys("class", "net")
        try:
            names = sorted(os.listdir(path))
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            raise NoDataError(f"{path} cannot be read") from None
        if not names:
            raise ValueError("no network devices found")
        return names

    def collect(self) -> Iterator[MetricFamily]:
        devices = self.devices()
        if self.ethtool is None:
            self.ethtool = Ethtool()
        families: dict[str, Family] = {}
        for device in devices:
            if not self.filter.ignored(device):
                self.device(device, families)
        yield from families.values()

    def failed(self, device: str, call: str, exc: OSError) -> None:
        """EOPNOTSUPP at debug level; other errors once per device, call and errno."""
        if exc.errno == errno.EOPNOTSUPP:
            log.debug("ethtool %s of %s: %s", call, device, exc)
            return
        key = (device, call, exc.errno or 0)
        if key not in self.logged and len(self.logged) < MAX_LOGGED:
            self.logged.add(key)
            log.error("ethtool %s of %s failed: %s", call, device, exc)

    def device(self, device: str, families: dict[str, Family]) -> None:
        assert self.ethtool is not None

        def add(desc: Desc, labels: tuple[str, ...], value: float) -> None:
            family = families.get(desc.name)
            if family is None:
                family = families[desc.name] = Family(desc)
            family.add(labels, value)

        try:
            cmd = self.ethtool.link_info(device)
        except OSError as exc:
            self.failed(device, "link info", exc)
        else:
            self.link(device, cmd[1], cmd[2], cmd[8], add)
        try:
            info = self.ethtool.driver_info(device)
        except OSError as exc:
            self.failed(device, "driver info", exc)
        else:
            add(INFO, (c_string(info[4]), device, c_string(info[1]), c_string(info[5]),
                       c_string(info[3]), c_string(info[2])), 1)
        try:
            stats = self.ethtool.statistics(device)
        except OSError as exc:
            self.failed(device, "stats", exc)
            return
        self.statistics(device, stats, add)

    @staticmethod
    def link(device: str, supported: int, advertising: int, autoneg: int, add) -> None:
        for prefix, modes in (("supported", supported), ("advertised", advertising)):
            for bit, (speed, duplex, phy) in SPEEDS.items():
                if modes & (1 << bit):
                    add(LINK[f"{prefix}_speed"], (device, duplex, f"{speed}base{phy}"),
                        speed * MBPS)
            if prefix == "supported":
                for port, bit in PORTS.items():
                    if modes & (1 << bit):
                        add(LINK["supported_port"], (device, port), 1)
            for flag, bit in (("autonegotiate", AUTONEG), ("pause", PAUSE),
                              ("asymmetricpause", ASYM_PAUSE)):
                add(LINK[f"{prefix}_{flag}"], (device,), 1 if modes & (1 << bit) else 0)
        add(LINK["autonegotiate"], (device,), autoneg)

    def statistics(self, device: str, stats: dict[str, int], add) -> None:
        by_name: dict[str, str | None] = {}
        for stat in stats:
            if not self.metrics(stat):
                continue
            name = stat_name(stat)
            by_name[name] = None if name in by_name else stat  # a clash drops all of them
        for name, stat in sorted(by_name.items()):
            if stat is not None:
                add(self.desc(stat, name), (device,), stats[stat])

    def desc(self, stat: str, name: str) -> Desc:
        got = self.descs.get(stat)
        if got is None:
            if len(self.descs) >= MAX_DESCS:
                self.descs.clear()
            fixed_name, help = FIXED.get(stat, (name, f"Network interface {stat}"))
            got = self.descs[stat] = Desc(fixed_name, help, "untyped", ("device",))
        return got
