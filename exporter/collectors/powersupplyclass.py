"""`powersupplyclass`: batteries and mains adapters from /sys/class/power_supply, as 1.5.

Per supply: one gauge per numeric attribute it has (`node_power_supply_<name>{power_supply}`;
µA, µV, µWh, µAh and µW become A, V, Wh, Ah and W; tenths of a degree become Celsius) and
`node_power_supply_info` with its text attributes as labels (only the non-empty ones).
`--collector.powersupply.ignored-supplies` (1.5's spelling, without "class") leaves supplies
out. Only the attributes reported are read. Without the class directory the families are left
out with success 0; a garbled number fails the collector (as procfs' parser does).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import (
    Collector,
    NoDataError,
    go_int,
    option,
    read_attr_at,
    valid_utf8,
)
from exporter.exposition import Desc, Family, MetricFamily, varying_labels

# sysfs file -> (metric name, divisor)
RAW = {"authentic": "authentic", "calibrate": "calibrate", "capacity": "capacity",
       "capacity_alert_max": "capacity_alert_max", "capacity_alert_min": "capacity_alert_min",
       "cycle_count": "cyclecount", "online": "online", "present": "present",
       "time_to_empty_now": "time_to_empty_seconds", "time_to_full_now": "time_to_full_seconds"}
MICRO = {"current_boot": "current_boot", "current_max": "current_max",
         "current_now": "current_ampere", "energy_empty": "energy_empty",
         "energy_empty_design": "energy_empty_design", "energy_full": "energy_full",
         "energy_full_design": "energy_full_design", "energy_now": "energy_watthour",
         "voltage_boot": "voltage_boot", "voltage_max": "voltage_max",
         "voltage_max_design": "voltage_max_design", "voltage_min": "voltage_min",
         "voltage_min_design": "voltage_min_design", "voltage_now": "voltage_volt",
         "voltage_ocv": "voltage_ocv", "charge_control_limit": "charge_control_limit",
         "charge_control_limit_max": "charge_control_limit_max",
         "charge_counter": "charge_counter", "charge_empty": "charge_empty",
         "charge_empty_design": "charge_empty_design", "charge_full": "charge_full",
         "charge_full_design": "charge_full_design", "charge_now": "charge_ampere",
         "charge_term_current": "charge_term_current",
         "constant_charge_current": "constant_charge_current",
         "constant_charge_current_max": "constant_charge_current_max",
         "constant_charge_voltage": "constant_charge_voltage",
         "constant_charge_voltage_max": "constant_charge_voltage_max",
         "precharge_current": "precharge_current", "input_current_limit": "input_current_limit",
         "power_now": "power_watt"}
DECI = {"temp": "temp_celsius", "temp_alert_max": "temp_alert_max_celsius",
        "temp_alert_min": "temp_alert_min_celsius", "temp_ambient": "temp_ambient_celsius",
        "temp_ambient_max": "temp_ambient_max_celsius",
        "temp_ambient_min": "temp_ambient_min_celsius", "temp_max": "temp_max_celsius",
        "temp_min": "temp_min_celsius"}
NUMERIC = {**{f: (m, 1) for f, m in RAW.items()}, **{f: (m, 1e6) for f, m in MICRO.items()},
           **{f: (m, 10.0) for f, m in DECI.items()}}
TEXT = ("capacity_level", "charge_type", "health", "manufacturer", "model_name",
        "serial_number", "status", "technology", "type", "usb_type", "scope")
INFO_HELP = "info of /sys/class/power_supply/<power_supply>."
# Read errors procfs skips: the attribute exists but this supply cannot report it.
SKIPPED = {errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL}


@dataclass(frozen=True)
class PowersupplyclassConfig:
    ignored_supplies: str = option("--collector.powersupply.ignored-supplies", "^$",
                                   "regex of power supplies to leave out", regex=True)


def read_at(dir_fd: int, name: str) -> str | None:
    """One attribute relative to the supply's directory; None where procfs skips it."""
    try:
        data = read_attr_at(dir_fd, name)
    except OSError as exc:
        if exc.errno in SKIPPED:
            return None
        raise
    return valid_utf8(data.strip())


class PowersupplyclassCollector(Collector):
    name = "powersupplyclass"
    options = PowersupplyclassConfig

    def __init__(self, config) -> None:
        super().__init__(config)
        self.ignored = re.compile(config.powersupplyclass.ignored_supplies).search
        self._descs: dict[object, Desc] = {}

    def desc(self, metric: str) -> Desc:
        got = self._descs.get(metric)
        if got is None:
            got = self._descs[metric] = Desc(
                f"node_power_supply_{metric}",
                f"{metric} value of /sys/class/power_supply/<power_supply>.", "gauge",
                ("power_supply",))
        return got

    def info_desc(self, labels: tuple[str, ...]) -> Desc:
        got = self._descs.get(labels)
        if got is None:
            got = self._descs[labels] = Desc("node_power_supply_info", INFO_HELP, "gauge",
                                             labels)
        return got

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "power_supply")
        try:
            supplies = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist") from None
        families: dict[str, Family] = {}
        infos: list[tuple[Desc, tuple[str, ...]]] = []
        for supply in supplies:
            if self.ignored(supply):
                continue
            dir_fd = os.open(os.path.join(base, supply), os.O_RDONLY | os.O_DIRECTORY)
            try:
                infos.append(self.supply(dir_fd, supply, families))
            finally:
                os.close(dir_fd)
        yield from families.values()
        if infos:
            yield varying_labels([(desc, values, 1) for desc, values in infos])

    def supply(self, dir_fd: int, supply: str, families: dict[str, Family]
               ) -> tuple[Desc, tuple[str, ...]]:
        """Adds the supply's numbers to `families`; returns its info sample."""
        info = {"power_supply": supply}
        for entry in os.scandir(dir_fd):
            if not entry.is_file(follow_symlinks=False):
                continue
            numeric, text = NUMERIC.get(entry.name), entry.name in TEXT
            if numeric is None and not text:
                continue
            value = read_at(dir_fd, entry.name)
            if value is None:
                continue
            if text:
                if value:
                    info[entry.name] = value
                continue
            metric, divisor = numeric
            number = go_int(value)
            if number is None:
                raise ValueError(f"power_supply {supply}: {entry.name}: expected an integer, "
                                 f"got {value[:40]!r}")
            family = families.setdefault(metric, Family(self.desc(metric)))
            family.samples.append(((supply,), number if divisor == 1 else number / divisor))
        labels = tuple(sorted(info))
        return self.info_desc(labels), tuple(info[label] for label in labels)
