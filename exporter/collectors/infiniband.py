"""`infiniband`: InfiniBand HCAs and ports from /sys/class/infiniband, as node_exporter 1.5.

Per device `node_infiniband_info{device,board_id,firmware_version,hca_type}`; per port its
state and physical state ids, its rate in bytes per second and every counter of `counters/`
and `counters_ext/` (the legacy ones) it has. Data counters count 4-byte words per lane and
are multiplied by 4, as in 1.5; a counter reading `N/A (no PMA)` is left out. Without the
class directory the families are left out with success 0; a garbled state, rate or counter
fails the collector. Only the files reported are read.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, go_uint, read_attr, read_text
from exporter.exposition import Desc, Family, MetricFamily

LABELS = ("device", "port")
INFO = Desc("node_infiniband_info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.", "gauge",
            ("device", "board_id", "firmware_version", "hca_type"))
STATE = Desc("node_infiniband_state_id", "State of the InfiniBand port (0: no change, 1: down, "
             "2: init, 3: armed, 4: active, 5: act defer)", "gauge", LABELS)
PHYS_STATE = Desc("node_infiniband_physical_state_id", "Physical state of the InfiniBand port "
                  "(0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, "
                  "6: link error recover, 7: phytest)", "gauge", LABELS)
RATE = Desc("node_infiniband_rate_bytes_per_second", "Maximum signal transfer rate", "gauge",
            LABELS)


def _c(name: str, help: str) -> Desc:
    return Desc(f"node_infiniband_{name}", help, "counter", LABELS)


# (directory, file) -> (family, multiplier)
COUNTERS = {
    ("counters_ext", "port_multicast_rcv_packets"): (_c(
        "legacy_multicast_packets_received_total", "Number of multicast packets received"), 1),
    ("counters_ext", "port_multicast_xmit_packets"): (_c(
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted"), 1),
    ("counters_ext", "port_rcv_data_64"): (_c(
        "legacy_data_received_bytes_total", "Number of data octets received on all links"), 4),
    ("counters_ext", "port_rcv_packets_64"): (_c(
        "legacy_packets_received_total", "Number of data packets received on all links"), 1),
    ("counters_ext", "port_unicast_rcv_packets"): (_c(
        "legacy_unicast_packets_received_total", "Number of unicast packets received"), 1),
    ("counters_ext", "port_unicast_xmit_packets"): (_c(
        "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted"), 1),
    ("counters_ext", "port_xmit_data_64"): (_c(
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links"), 4),
    ("counters_ext", "port_xmit_packets_64"): (_c(
        "legacy_packets_transmitted_total", "Number of data packets received on all links"), 1),
    ("counters", "excessive_buffer_overrun_errors"): (_c(
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, "
        "each having at least one overrun error."), 1),
    ("counters", "link_downed"): (_c(
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down"), 1),
    ("counters", "link_error_recovery"): (_c(
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state"), 1),
    ("counters", "local_link_integrity_errors"): (_c(
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold "
        "specified by LocalPhyErrors."), 1),
    ("counters", "multicast_rcv_packets"): (_c(
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)"), 1),
    ("counters", "multicast_xmit_packets"): (_c(
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)"), 1),
    ("counters", "port_rcv_constraint_errors"): (_c(
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded"), 1),
    ("counters", "port_xmit_constraint_errors"): (_c(
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port"), 1),
    ("counters", "port_rcv_data"): (_c(
        "port_data_received_bytes_total", "Number of data octets received on all links"), 4),
    ("counters", "port_xmit_data"): (_c(
        "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links"), 4),
    ("counters", "port_rcv_discards"): (_c(
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or "
        "congested"), 1),
    ("counters", "port_xmit_discards"): (_c(
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or "
        "congested"), 1),
    ("counters", "port_rcv_errors"): (_c(
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port"), 1),
    ("counters", "port_rcv_packets"): (_c(
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)"), 1),
    ("counters", "port_xmit_packets"): (_c(
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)"), 1),
    ("counters", "port_xmit_wait"): (_c(
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent "
        "during the entire tick"), 1),
    ("counters", "unicast_rcv_packets"): (_c(
        "unicast_packets_received_total", "Number of unicast packets received (including errors)"),
        1),
    ("counters", "unicast_xmit_packets"): (_c(
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)"), 1),
    ("counters", "port_rcv_remote_physical_errors"): (_c(
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the "
        "port."), 1),
    ("counters", "port_rcv_switch_relay_errors"): (_c(
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch."), 1),
    ("counters", "symbol_error"): (_c(
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes."), 1),
    ("counters", "VL15_dropped"): (_c(
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations."), 1),
}
BY_DIR = {d: {f: v for (dd, f), v in COUNTERS.items() if dd == d}
          for d in ("counters", "counters_ext")}
SKIPPED = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EOPNOTSUPP, errno.EINVAL}
U64 = (1 << 64) - 1


def parse_state(text: str, where: str) -> int:
    """`4: ACTIVE` into 4 (procfs' parseState)."""
    parts = text.split(":")
    number = parts[0].strip()
    if len(parts) != 2 or not number.isdigit() or not number.isascii():
        raise ValueError(f"{where}: expected 'ID: NAME', got {text[:40]!r}")
    return int(number)


def parse_rate(text: str, where: str) -> int:
    """`100 Gb/sec (4X EDR)` into bytes per second, through a float32 as procfs parses it."""
    head, sep, _ = text.partition(" ")
    try:
        if not sep:
            raise ValueError
        value = struct.unpack("f", struct.pack("f", float(head.strip())))[0]
    except (ValueError, OverflowError):
        raise ValueError(f"{where}: expected a rate like '40 Gb/sec', got {text[:40]!r}") from None
    return int(value * 125_000_000)


class InfinibandCollector(Collector):
    name = "infiniband"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "infiniband")
        try:
            devices = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist") from None
        info, state, phys, rate = Family(INFO), Family(STATE), Family(PHYS_STATE), Family(RATE)
        counters = {desc.name: Family(desc) for desc, _ in COUNTERS.values()}
        for device in devices:
            path = os.path.join(base, device)
            try:
                hca = read_attr(os.path.join(path, "hca_type"))
            except FileNotFoundError:
                hca = ""  # not every driver has it
            info.samples.append(((device, read_attr(os.path.join(path, "board_id")),
                                  read_attr(os.path.join(path, "fw_ver")), hca), 1))
            ports = os.path.join(path, "ports")
            for port in sorted(os.listdir(ports), key=lambda p: (len(p), p)):
                if not port.isdigit():
                    raise ValueError(f"{ports}: port {port!r} is not a number")
                port_path, key = os.path.join(ports, port), (device, str(int(port)))
                state.samples.append((key, parse_state(
                    read_text(os.path.join(port_path, "state")), port_path)))
                phys.samples.append((key, parse_state(
                    read_text(os.path.join(port_path, "phys_state")), port_path)))
                rate.samples.append((key, parse_rate(
                    read_text(os.path.join(port_path, "rate")), port_path)))
                self.port_counters(port_path, key, counters)
        if info.samples:
            yield info
        yield from (family for family in (state, phys, rate) if family.samples)
        yield from (family for family in counters.values() if family.samples)

    @staticmethod
    def port_counters(port_path: str, key: tuple[str, str], families: dict[str, Family]) -> None:
        for directory, wanted in BY_DIR.items():
            path = os.path.join(port_path, directory)
            try:
                names = sorted(os.listdir(path))
            except FileNotFoundError:
                if directory == "counters_ext":
                    continue  # only some HCAs have the legacy counters
                raise
            for name in names:
                got = wanted.get(name)
                if got is None:
                    continue
                try:
                    text = read_attr(os.path.join(path, name))
                except OSError as exc:
                    if exc.errno in SKIPPED:
                        continue
                    raise
                value = go_uint(text)
                if value is None:
                    if "N/A (no PMA)" in text:
                        continue
                    raise ValueError(f"{path}/{name}: expected a counter, got {text[:40]!r}")
                desc, times = got
                families[desc.name].samples.append((key, (value * times) & U64))
