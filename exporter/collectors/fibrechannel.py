"""`fibrechannel`: Fibre Channel HBAs from /sys/class/fc_host, as node_exporter reports them.

Per host: `node_fibrechannel_info` (speed, port state/type/id/name, fabric name, ...; the
`0x` of the hexadecimal ones removed) and fourteen counters from `statistics/` (hexadecimal
in sysfs). A counter of 2^64-1 is one the firmware does not implement and is left out, as in
1.5. An attribute the HBA lacks is an empty label and a missing counter is left out, as newer
node_exporters do (1.5 fails the whole collector on such a host). Without fc_host the
families are left out with success 0; a garbled counter fails the collector.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, go_uint, read_attr
from exporter.exposition import Desc, Family, MetricFamily

# Info label -> sysfs attribute; the hexadecimal ones lose their first two characters.
INFO_ATTRS = ("speed", "port_state", "port_type", "port_id", "port_name", "fabric_name",
              "symbolic_name", "supported_classes", "supported_speeds", "dev_loss_tmo")
HEX = {"port_id", "port_name", "fabric_name"}
INFO = Desc("node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.", "gauge",
            ("fc_host", *INFO_ATTRS))
COUNTERS = (  # (statistics file, metric, help)
    ("dumped_frames", "dumped_frames_total", "Number of dumped frames"),
    ("error_frames", "error_frames_total", "Number of errors in frames"),
    ("invalid_crc_count", "invalid_crc_total", "Invalid Cyclic Redundancy Check count"),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    ("rx_words", "rx_words_total", "Number of words received by host port"),
    ("tx_frames", "tx_frames_total", "Number of frames transmitted by host port"),
    ("tx_words", "tx_words_total", "Number of words transmitted by host port"),
    ("seconds_since_last_reset", "seconds_since_last_reset_total",
     "Number of seconds since last host port reset"),
    ("invalid_tx_word_count", "invalid_tx_words_total",
     "Number of invalid words transmitted by host port"),
    ("link_failure_count", "link_failure_total", "Number of times the host port link has failed"),
    ("loss_of_sync_count", "loss_of_sync_total",
     "Number of failures on either bit or transmission word boundaries"),
    ("loss_of_signal_count", "loss_of_signal_total", "Number of times signal has been lost"),
    ("nos_count", "nos_total", "Number Not_Operational Primitive Sequence received by host port"),
    ("fcp_packet_aborts", "fcp_packet_aborts_total", "Number of aborted packets"),
)
DESCS = tuple(Desc(f"node_fibrechannel_{metric}", help, "counter", ("fc_host",))
              for _, metric, help in COUNTERS)
UNIMPLEMENTED = (1 << 64) - 1
# Read errors procfs skips in statistics/ (write-only files).
SKIPPED = {errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL}


def attr(path: str) -> str | None:
    try:
        return read_attr(path)
    except OSError as exc:
        if exc.errno in SKIPPED:
            return None
        raise


class FibrechannelCollector(Collector):
    name = "fibrechannel"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "fc_host")
        try:
            hosts = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist") from None
        info = Family(INFO)
        counters = [Family(desc) for desc in DESCS]
        for host in hosts:
            path = os.path.join(base, host)
            labels = []
            for name in INFO_ATTRS:
                value = attr(os.path.join(path, name)) or ""
                labels.append(value[2:] if name in HEX and len(value) > 2 else value)
            info.samples.append(((host, *labels), 1))
            for (file, _, _), family in zip(COUNTERS, counters, strict=True):
                self.counter(os.path.join(path, "statistics", file), host, family)
        if info.samples:
            yield info
        yield from (family for family in counters if family.samples)

    @staticmethod
    def counter(path: str, host: str, family: Family) -> None:
        text = attr(path)
        if text is None:
            return
        value = go_uint(text)
        if value is None:
            raise ValueError(f"{path}: expected a counter, got {text[:40]!r}")
        if value != UNIMPLEMENTED:
            family.samples.append(((host,), value))
