"""`time`: the system clock, the time zone offset and the kernel's clocksources."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_optional
from exporter.exposition import Desc, Family, MetricFamily, single

TIME = Desc("node_time_seconds", "System time in seconds since epoch (1970).", "gauge")
ZONE = Desc("node_time_zone_offset_seconds", "System time zone offset in seconds.", "gauge",
            ("time_zone",))
AVAILABLE = Desc("node_time_clocksource_available_info",
                 "Available clocksources read from '/sys/devices/system/clocksource'.", "gauge",
                 ("clocksource", "device"))
CURRENT = Desc("node_time_clocksource_current_info",
               "Current clocksource read from '/sys/devices/system/clocksource'.", "gauge",
               ("clocksource", "device"))


class TimeCollector(Collector):
    name = "time"
    platforms = ("any",)

    def collect(self) -> Iterator[MetricFamily]:
        now = time.time()
        yield single(TIME, now)
        local = time.localtime(now)
        yield single(ZONE, local.tm_gmtoff, (local.tm_zone,))
        yield from self.clocksources()

    def clocksources(self) -> Iterator[MetricFamily]:
        base = self.sys("devices", "system", "clocksource")
        try:
            entries = sorted(e for e in os.listdir(base) if e.startswith("clocksource"))
        except OSError:
            return  # not Linux, or no sysfs: data the platform lacks is left out
        available, current = Family(AVAILABLE), Family(CURRENT)
        for entry in entries:
            device = entry[len("clocksource"):]
            for source in (read_optional(os.path.join(base, entry, "available_clocksource"))
                           or "").split():
                available.add((source, device), 1)
            cur = read_optional(os.path.join(base, entry, "current_clocksource"))
            if cur:
                current.add((cur, device), 1)
        if available.samples:
            yield available
        if current.samples:
            yield current
