"""`hwmon`: every sensor of /sys/class/hwmon, named as node_exporter 1.5's hwmon collector.

Temperatures, voltages (`in`, `cpu`), fans, PWM, current, power, energy, humidity and
intrusion sensors, alarms, faults and beeps, `node_hwmon_chip_names` and
`node_hwmon_sensor_label`, each family named, scaled and described as 1.5 does (e.g. `in0_input`
is node_hwmon_in_volts in volts, `energy1_input` node_hwmon_energy_joule_total in joules,
`fan1_input` node_hwmon_fan_rpm). Files of a chip directory and of its `device/` directory are
merged, the device's winning, as in 1.5. Chips are named from their device path (stable
across reboots; hwmonN numbering is not), else the `name` file, else hwmonN.

Each sensor file is read with one read of at most 128 bytes (some drivers return EAGAIN
forever: 1.5 does the same); unreadable or non-numeric values are skipped, as in 1.5. When
two chip directories get the same chip name, the first (in directory order) keeps the
series, which is what 1.5's registry serves after reporting the duplicates.

Later releases' `--collector.hwmon.chip-include/-exclude` and `sensor-include/-exclude`
(CHIP;SENSOR) are accepted too; an excluded chip's files are not read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, DeviceFilter, NoDataError, option
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

LABELS = ("chip", "sensor")
CHIP_NAMES = Desc("node_hwmon_chip_names", "Annotation metric for human-readable chip names",
                  "gauge", ("chip", "chip_name"))
SENSOR_LABEL = Desc("node_hwmon_sensor_label", "Label for given chip and sensor", "gauge",
                    ("chip", "label", "sensor"))
SENSOR_TYPES = frozenset(("vrm", "beep_enable", "update_interval", "in", "cpu", "fan", "pwm",
                          "temp", "curr", "power", "energy", "humidity", "intrusion"))
FILENAME = re.compile(r"^([^0-9]+)([0-9]*)?(_(.+))?$")
INVALID = re.compile(r"[^a-z0-9:_]")
READ_SIZE = 128
# strconv.ParseFloat's decimal forms (no surrounding space, no underscores).
GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
                      r"[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])")
MAX_DESCS = 10_000


def clean_name(name: str) -> str:
    """node_exporter's cleanMetricName: lower case, each char outside [a-z0-9:_] becomes
    `_`, then leading and trailing `_` trimmed."""
    return INVALID.sub("_", name.lower()).strip("_")


def go_float(text: str) -> float | None:
    return float(text) if GO_FLOAT.fullmatch(text) else None


def explode(filename: str) -> tuple[str, str, str] | None:
    """`temp1_crit_alarm` -> ("temp", "temp1", "crit_alarm"); ("update_interval",
    "update_interval0", "") for files without a number, as 1.5 names them."""
    m = FILENAME.match(filename)
    if m is None:
        return None
    kind, number = m.group(1), m.group(2) or "0"
    return kind, f"{kind}{int(number)}", m.group(4) or ""


def chip_name(directory: str, name: str | None) -> str:
    """1.5's hwmonName: device type + device name, else the `name` file's text (`name`,
    read once by the caller), else hwmonN."""
    try:
        device = os.path.realpath(os.path.join(directory, "device"), strict=True)
        prefix, dev_name = os.path.split(device)
        dev_type = os.path.basename(prefix.rstrip("/"))
        clean_dev, clean_type = clean_name(dev_name), clean_name(dev_type)
        if clean_type and clean_dev:
            return f"{clean_type}_{clean_dev}"
        if clean_dev:
            return clean_dev
    except OSError:
        pass
    if name and clean_name(name):
        return clean_name(name)
    return clean_name(os.path.basename(os.path.realpath(directory)))


def read_file(path: str, dir_fd: int | None = None) -> str | None:
    """One read of at most 128 bytes, trailing newlines cut (sysReadFile); None on error."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        data = os.read(fd, READ_SIZE)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip("\n")


def sensor_files(directory: str, data: dict[str, dict[str, str]]) -> None:
    """Read every file of `directory` named like a sensor of a known type into
    data[sensor][property] (later directories overwrite, as 1.5's map does)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        for filename in sorted(os.listdir(dir_fd)):
            parts = explode(filename)
            if parts is None or parts[0] not in SENSOR_TYPES:
                continue
            value = read_file(filename, dir_fd)
            if value is not None:
                data.setdefault(parts[1], {})[parts[2]] = value
    finally:
        os.close(dir_fd)


MILLI, MICRO = 0.001, -1e6  # 1.5 multiplies by 0.001 and divides by 1000000.0


def scaled(value: float, scale: float) -> float:
    """`value` as 1.5 computes it: times a positive scale, divided by a negative one's
    magnitude (the float results differ in the last bit otherwise)."""
    return value * scale if scale > 0 else value / -scale


def describe(kind: str, element: str, name: str) -> tuple[str, str, str, float]:
    """(family name, HELP, type, scale for `scaled`) of one sensor element, by 1.5's rules."""
    if element in ("fault", "alarm"):
        return name, f"Hardware sensor {element} status ({kind})", "gauge", 1
    if element == "beep":
        return f"{name}_enabled", "Hardware monitor sensor has beeping enabled", "gauge", 1
    if kind in ("in", "cpu"):
        return f"{name}_volts", f"Hardware monitor for voltage ({element})", "gauge", MILLI
    if kind == "temp" and element != "type":
        return (f"{name}_celsius", f"Hardware monitor for temperature ({element or 'input'})",
                "gauge", MILLI)
    if kind == "curr":
        return f"{name}_amps", f"Hardware monitor for current ({element})", "gauge", MILLI
    if kind == "energy":
        return (f"{name}_joule_total", f"Hardware monitor for joules used so far ({element})",
                "counter", MICRO)
    if kind == "power":
        if element == "accuracy":
            return name, "Hardware monitor power meter accuracy, as a ratio", "gauge", MICRO
        if element in ("average_interval", "average_interval_min", "average_interval_max"):
            return (f"{name}_seconds", f"Hardware monitor power usage update interval "
                    f"({element})", "gauge", MILLI)
        return (f"{name}_watt", f"Hardware monitor for power usage in watts ({element})",
                "gauge", MICRO)
    if kind == "humidity":
        return (name, "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get "
                f"the humidity as a percentage) ({element})", "gauge", MICRO)
    if kind == "fan" and element in ("input", "min", "max", "target"):
        return (f"{name}_rpm", f"Hardware monitor for fan revolutions per minute ({element})",
                "gauge", 1)
    return name, f"Hardware monitor {kind} element {element}", "gauge", 1


SPECIAL = {"beep_enable": ("node_hwmon_beep_enabled", "Hardware beep enabled", 1),
           "vrm": ("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", 1),
           "update_interval": ("node_hwmon_update_interval_seconds",
                               "Hardware monitor update interval", MILLI)}


@dataclass(frozen=True)
class HwmonConfig:
    # Later releases' filters (1.5 has none; node_exporter's e2e run uses chip-include).
    chip_include: str = option("--collector.hwmon.chip-include", "",
                               "regex of chips (their chip label) to report", regex=True)
    chip_exclude: str = option("--collector.hwmon.chip-exclude", "",
                               "regex of chips to leave out (not even read)", regex=True)
    sensor_include: str = option("--collector.hwmon.sensor-include", "",
                                 "regex of CHIP;SENSOR (e.g. platform_coretemp_0;temp1) to "
                                 "report", regex=True)
    sensor_exclude: str = option("--collector.hwmon.sensor-exclude", "",
                                 "regex of CHIP;SENSOR to leave out", regex=True)


class HwmonCollector(Collector):
    name = "hwmon"
    options = HwmonConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self._descs: dict[tuple[str, str, str], Desc] = {}
        options = config.hwmon
        self.chips = DeviceFilter(options.chip_exclude, options.chip_include)
        self.sensors = DeviceFilter(options.sensor_exclude, options.sensor_include)

    def desc(self, name: str, help: str, type: str) -> Desc:
        key = (name, help, type)
        got = self._descs.get(key)
        if got is None:
            if len(self._descs) >= MAX_DESCS:
                self._descs.clear()
            got = self._descs[key] = Desc(name, help, type, LABELS)
        return got

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "hwmon")
        try:
            entries = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist: no hardware monitors") from None
        scrape = Scrape(self)
        for entry in entries:
            directory = os.path.join(base, entry)
            if os.path.isdir(directory):  # follows the hwmonN link; files are skipped
                scrape.chip(directory)
        yield from scrape.families()


class Scrape:
    """One scrape's families, each (name, chip, sensor) reported once."""

    def __init__(self, collector: HwmonCollector) -> None:
        self.desc = collector.desc
        self.chips, self.sensors = collector.chips, collector.sensors
        self.by_name: dict[str, Family] = {}
        self.seen: set[tuple[str, str, str]] = set()
        self.names, self.labels = Family(CHIP_NAMES), Family(SENSOR_LABEL)
        self.seen_extra: set[tuple] = set()

    def chip(self, directory: str) -> None:
        human = read_file(os.path.join(directory, "name"))
        chip = chip_name(directory, human)
        if self.chips.ignored(chip):
            return
        data: dict[str, dict[str, str]] = {}
        sensor_files(directory, data)
        sensor_files(os.path.join(directory, "device"), data)
        if human and clean_name(human):
            self.extra(self.names, (chip, clean_name(human)))
        for sensor, values in sorted(data.items()):
            if not self.sensors.ignored(f"{chip};{sensor}"):
                self.sensor(chip, sensor, values)

    def extra(self, family: Family, key: tuple[str, ...]) -> None:
        if (family.name, key) not in self.seen_extra:
            self.seen_extra.add((family.name, key))
            family.samples.append((key, 1))

    def add(self, name: str, help: str, type: str, chip: str, sensor: str, value: float
            ) -> None:
        if (name, chip, sensor) in self.seen:
            return  # a second chip directory with this chip name
        self.seen.add((name, chip, sensor))
        family = self.by_name.get(name)
        if family is None:
            family = self.by_name[name] = Family(self.desc(name, help, type))
        family.samples.append(((chip, sensor), value))

    def sensor(self, chip: str, sensor: str, values: dict[str, str]) -> None:
        kind = explode(sensor)[0]  # type: ignore[index]  # sensor names always match
        if "label" in values:
            self.extra(self.labels, (chip, values["label"], sensor))
        if kind in SPECIAL:
            name, help, scale = SPECIAL[kind]
            if kind == "beep_enable":
                value: float | None = 1.0 if values.get("") == "1" else 0.0
            else:
                value = go_float(values.get("", ""))
            if value is not None:
                self.add(name, help, "gauge", chip, sensor, scaled(value, scale))
            return
        prefix = f"node_hwmon_{kind}"
        for element, text in values.items():
            if element == "label":
                continue
            value = go_float(text)
            if value is None:
                continue
            if element == "input":
                name = f"{prefix}_input" if "" in values else prefix
            elif element:
                name = f"{prefix}_{clean_name(element)}"
            else:
                name = prefix
            family, help, type, scale = describe(kind, element, name)
            self.add(family, help, type, chip, sensor, scaled(value, scale))

    def families(self) -> Iterator[MetricFamily]:
        yield from self.by_name.values()
        if self.names.samples:
            yield self.names
        if self.labels.samples:
            yield self.labels
