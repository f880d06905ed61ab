"""`netdev`: per-interface counters from /proc/net/dev, as node_exporter 1.5 (lo excluded).

`receive_nohandler`, which /proc/net/dev lacks, comes from sysfs where the kernel has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, Matcher, option, read_optional, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

COLUMNS = ("receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo",
           "receive_frame", "receive_compressed", "receive_multicast", "transmit_bytes",
           "transmit_packets", "transmit_errs", "transmit_drop", "transmit_fifo",
           "transmit_colls", "transmit_carrier", "transmit_compressed")
NOHANDLER = "receive_nohandler"


def _desc(key: str) -> Desc:
    return Desc(f"node_network_{key}_total", f"Network device statistic {key}.", "counter",
                ("device",))


DESCS = {key: _desc(key) for key in (*COLUMNS, NOHANDLER)}
PSUTIL_FIELDS = {"bytes_recv": "receive_bytes", "packets_recv": "receive_packets",
                 "errin": "receive_errs", "dropin": "receive_drop",
                 "bytes_sent": "transmit_bytes", "packets_sent": "transmit_packets",
                 "errout": "transmit_errs", "dropout": "transmit_drop"}


DEFAULT_NETDEV_DEVICE_EXCLUDE = r"^lo$"


@dataclass(frozen=True)
class NetdevConfig:
    device_exclude: str = option("--collector.netdev.device-exclude",
                                 DEFAULT_NETDEV_DEVICE_EXCLUDE,
                                 "regex of network devices to leave out", regex=True)


class NetdevCollector(Collector):
    name = "netdev"
    options = NetdevConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        self.excluded = Matcher(config.netdev.device_exclude)

    def collect_procfs(self) -> Iterator[MetricFamily]:
        families = [Family(DESCS[key]) for key in COLUMNS]
        nohandler = Family(DESCS[NOHANDLER])
        path = self.proc("net", "dev")
        for line in read_text(path).splitlines()[2:]:
            device, sep, rest = line.partition(":")
            device = device.strip()
            if not sep or not device:
                raise ValueError(f"{path}: invalid line {line!r}")
            if self.excluded(device):
                continue
            values = rest.split()
            if len(values) != len(COLUMNS):
                raise ValueError(f"{path}: expected {len(COLUMNS)} values for {device}, "
                                 f"got {len(values)}")
            key = (device,)
            for fam, value in zip(families, values, strict=True):
                fam.samples.append((key, int(value)))
            extra = read_optional(self.sys("class", "net", device, "statistics", "rx_nohandler"))
            if extra is not None and extra.isdigit():
                nohandler.samples.append((key, int(extra)))
        yield from families
        if nohandler.samples:
            yield nohandler

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        families = {key: Family(DESCS[key]) for key in PSUTIL_FIELDS.values()}
        for device, stats in sorted(psutil.net_io_counters(pernic=True).items()):
            if self.excluded(device):
                continue
            for field, value in stats._asdict().items():
                if field in PSUTIL_FIELDS:
                    families[PSUTIL_FIELDS[field]].add((device,), int(value))
        yield from families.values()
