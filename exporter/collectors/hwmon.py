"""`hwmon`: temperatures from /sys/class/hwmon, named as node_exporter's hwmon collector.

Only temperature sensors are exported (`node_hwmon_temp_celsius` and its max/crit/alarm
siblings), plus `node_hwmon_chip_names` and `node_hwmon_sensor_label` to name them. Chips are
named from their device path, which is stable across reboots (hwmonN numbering is not).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, NoDataError, read_optional
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

LABELS = ("chip", "sensor")
CHIP_NAMES = Desc("node_hwmon_chip_names", "Annotation metric for human-readable chip names",
                  "gauge", ("chip", "chip_name"))
SENSOR_LABEL = Desc("node_hwmon_sensor_label", "Label for given chip and sensor", "gauge",
                    ("chip", "label", "sensor"))
TEMP_FILE = re.compile(r"^(temp\d+)_(input|max|crit|crit_alarm|min|lcrit|emergency|"
                       r"highest|lowest|alarm|max_alarm|min_alarm)$")
CLEAN = re.compile(r"_*[^0-9A-Za-z_]+_*")


def clean_name(name: str) -> str:
    """node_exporter's cleanMetricName: runs of odd characters become `_`, lower case."""
    return CLEAN.sub("_", name).lower().strip("_")


def chip_name(directory: str) -> str:
    """A stable chip name: device type + device name, else the `name` file, else hwmonN."""
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
    name = read_optional(os.path.join(directory, "name"))
    if name and clean_name(name):
        return clean_name(name)
    return clean_name(os.path.basename(os.path.realpath(directory)))


class HwmonCollector(Collector):
    name = "hwmon"

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self._descs: dict[str, Desc] = {}

    def desc(self, element: str) -> Desc:
        got = self._descs.get(element)
        if got is None:
            name = "node_hwmon_temp_celsius" if element == "input" else \
                f"node_hwmon_temp_{element}_celsius"
            got = self._descs[element] = Desc(
                name, f"Hardware monitor for temperature ({element})", "gauge", LABELS)
        return got

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("class", "hwmon")
        try:
            entries = sorted(os.listdir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist: no hardware monitors") from None
        families: dict[str, Family] = {}
        names, labels = Family(CHIP_NAMES), Family(SENSOR_LABEL)
        for entry in entries:
            directory = os.path.join(base, entry)
            chip = chip_name(directory)
            human = read_optional(os.path.join(directory, "name"))
            if human:
                names.add((chip, human), 1)
            for sub in (directory, os.path.join(directory, "device")):
                self.read_sensors(sub, chip, families, labels)
        yield from families.values()
        if names.samples:
            yield names
        if labels.samples:
            yield labels

    def read_sensors(self, directory: str, chip: str, families: dict[str, Family],
                     labels: Family) -> None:
        try:
            files = sorted(os.listdir(directory))
        except OSError:
            return
        seen_labels = {s[0] for s in labels.samples}
        for file in files:
            m = TEMP_FILE.match(file)
            if m is None:
                continue
            raw = read_optional(os.path.join(directory, file))
            try:
                value = int(raw) * 0.001 if raw is not None else None
            except ValueError:
                continue
            if value is None:
                continue
            sensor, element = m.group(1), m.group(2)
            fam = families.get(element)
            if fam is None:
                fam = families[element] = Family(self.desc(element))
            if any(k == (chip, sensor) for k, _ in fam.samples):
                continue  # hwmonN/ and hwmonN/device/ both list it: first wins
            fam.add((chip, sensor), value)
            label = read_optional(os.path.join(directory, f"{sensor}_label"))
            if label is not None and (chip, label, sensor) not in seen_labels:
                labels.add((chip, label, sensor), 1)
                seen_labels.add((chip, label, sensor))
