"""`tapestats`: SCSI tape drive statistics from /sys/class/scsi_tape, as node_exporter 1.5.

For each `stN` (not its n/a/l/m variants), the ten counters of its `stats/` directory:
I/Os in flight, reads, writes, other commands, bytes, times (ns to seconds) and residuals; a
counter the kernel lacks is 0, as in 1.5. `--collector.tapestats.ignored-devices` leaves
drives out. Without the class directory the families are left out with success 0; a garbled
counter fails the collector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import Collector, NoDataError, go_uint, option, read_attr
from exporter.exposition import Desc, Family, MetricFamily

DEVICE = re.compile(r"st[0-9]+")


def _d(name: str, help: str, type: str = "counter") -> Desc:
    return Desc(f"node_tape_{name}", help, type, ("device",))


# (stats file, family, scale)
STATS = (
    ("in_flight", _d("io_now", "The number of I/Os currently outstanding to this device.",
                     "gauge"), 1),
    ("io_ns", _d("io_time_seconds_total",
                 "The amount of time spent waiting for all I/O to complete (including read and "
                 "write). This includes tape movement commands such as seeking between file or "
                 "set marks and implicit tape movement such as when rewind on close tape devices "
                 "are used."), 0.000000001),
    ("other_cnt", _d("io_others_total",
                     "The number of I/Os issued to the tape drive other than read or write "
                     "commands. The time taken to complete these commands uses the following "
                     "calculation io_time_seconds_total-read_time_seconds_total-"
                     "write_time_seconds_total"), 1),
    ("read_byte_cnt", _d("read_bytes_total", "The number of bytes read from the tape drive."), 1),
    ("read_cnt", _d("reads_completed_total",
                    "The number of read requests issued to the tape drive."), 1),
    ("read_ns", _d("read_time_seconds_total",
                   "The amount of time spent waiting for read requests to complete."),
     0.000000001),
    ("resid_cnt", _d("residual_total",
                     "The number of times during a read or write we found the residual amount "
                     "to be non-zero. This should mean that a program is issuing a read larger "
                     "thean the block size on tape. For write not all data made it to tape."), 1),
    ("write_byte_cnt", _d("written_bytes_total", "The number of bytes written to the tape drive."),
     1),
    ("write_cnt", _d("writes_completed_total",
                     "The number of write requests issued to the tape drive."), 1),
    ("write_ns", _d("write_time_seconds_total",
                    "The amount of time spent waiting for write requests to complete."),
     0.000000001),
)


@dataclass(frozen=True)
class TapestatsConfig:
    ignored_devices: str = option("--collector.tapestats.ignored-devices", "^$",
                                  "regex of tape devices to leave out", regex=True)


class TapestatsCollector(Collector):
    name = "tapestats"
    options = TapestatsConfig

    def __init__(self, config) -> None:
        super().__init__(config)
        self.ignored = re.compile(config.tapestats.ignored_devices).search

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "scsi_tape")
        try:
            entries = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist") from None
        families = [Family(desc) for _, desc, _ in STATS]
        for device in entries:
            if DEVICE.fullmatch(device) is None or self.ignored(device):
                continue
            stats = os.path.join(base, device, "stats")
            present = set(os.listdir(stats))
            for (file, _, scale), family in zip(STATS, families, strict=True):
                value = 0
                if file in present:
                    path = os.path.join(stats, file)
                    text = read_attr(path)
                    parsed = go_uint(text)
                    if parsed is None:
                        raise ValueError(f"{path}: expected a counter, got {text[:40]!r}")
                    value = parsed
                family.samples.append(((device,), value if scale == 1 else value * scale))
        yield from (family for family in families if family.samples)
