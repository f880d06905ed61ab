"""`thermal_zone`: kernel thermal zones and cooling devices, as node_exporter 1.5.

From /sys/class/thermal: `node_thermal_zone_temp{zone,type}` (millidegrees to Celsius) per
`thermal_zoneN`, and `node_cooling_device_{cur,max}_state{name,type}` per `cooling_deviceN`.
A zone whose sensor answers ENODATA is skipped, as in 1.5; any other unreadable or garbled
value fails the collector. Without /sys/class/thermal nothing is reported (success 1, as 1.5).
Only the reported attributes are read (1.5 also reads each zone's policy, mode and passive).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, numbered, read_attr, read_int
from exporter.exposition import Desc, Family, MetricFamily

ZONE_TEMP = Desc("node_thermal_zone_temp", "Zone temperature in Celsius", "gauge",
                 ("type", "zone"))
CUR_STATE = Desc("node_cooling_device_cur_state", "Current throttle state of the cooling device",
                 "gauge", ("name", "type"))
MAX_STATE = Desc("node_cooling_device_max_state", "Maximum throttle state of the cooling device",
                 "gauge", ("name", "type"))


class ThermalZoneCollector(Collector):
    name = "thermal_zone"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "thermal")
        temp = Family(ZONE_TEMP)
        for zone in numbered(base, "thermal_zone"):
            path = os.path.join(base, zone)
            try:
                kind = read_attr(os.path.join(path, "type"))
                value = read_int(os.path.join(path, "temp"))
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    continue  # a sensor with no reading now, skipped as in 1.5
                raise
            temp.samples.append(((kind, zone[len("thermal_zone"):]), value / 1000.0))
        cur, top = Family(CUR_STATE), Family(MAX_STATE)
        for device in numbered(base, "cooling_device"):
            path = os.path.join(base, device)
            key = (device[len("cooling_device"):], read_attr(os.path.join(path, "type")))
            top_value = read_int(os.path.join(path, "max_state"))
            cur.samples.append((key, read_int(os.path.join(path, "cur_state"))))  # may be -1
            top.samples.append((key, top_value))
        yield from (family for family in (temp, cur, top) if family.samples)
