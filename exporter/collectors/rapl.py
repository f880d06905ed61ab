"""`rapl`: Intel/AMD RAPL energy counters from /sys/class/powercap, as node_exporter 1.5.

Each powercap zone with a `name` is one counter of joules: `node_rapl_<name>_joules_total
{index,path}` (a name like `package-0` gives `package` with index 0; repeated names are
numbered in directory order), or with `--collector.rapl.enable-zone-label` one family
`node_rapl_joules_total{index,path,rapl_zone}`. Without powercap, or where `energy_uj` is root
only (kernels since 5.10), the families are left out with success 0, as in 1.5.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import Collector, NoDataError, option, read_attr, read_uint
from exporter.exposition import Desc, Family, MetricFamily

ZONE_LABEL = Desc("node_rapl_joules_total", "Current RAPL value in joules", "counter",
                  ("index", "path", "rapl_zone"))
UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class RaplConfig:
    enable_zone_label: bool = option(
        "--collector.rapl.enable-zone-label", False,
        "one node_rapl_joules_total family with a rapl_zone label instead of one per zone")


def index_and_name(counts: dict[str, int], name: str) -> tuple[int, str]:
    """procfs' getIndexAndName: `name-N` is (N, name); else the name's count so far."""
    base, sep, suffix = name.partition("-")
    if sep and "-" not in suffix and re.fullmatch(r"[+-]?[0-9]+", suffix):
        return int(suffix), base
    return counts.get(name, 0), name


class RaplCollector(Collector):
    name = "rapl"
    options = RaplConfig

    def __init__(self, config) -> None:
        super().__init__(config)
        self.zone_label = config.rapl.enable_zone_label
        self._descs: dict[str, Desc] = {}

    def desc(self, zone: str) -> Desc:
        got = self._descs.get(zone)
        if got is None:
            got = self._descs[zone] = Desc(
                f"node_rapl_{UNSAFE.sub('_', zone)}_joules_total",
                f"Current RAPL {zone} value in joules", "counter", ("index", "path"))
        return got

    def zones(self, base: str) -> list[tuple[int, str, str]]:
        """(index, name, directory) of every zone, in directory order."""
        try:
            entries = sorted(os.listdir(base))
        except (FileNotFoundError, PermissionError) as exc:
            raise NoDataError(f"{base}: {exc.strerror}") from None
        counts: dict[str, int] = {}
        zones = []
        for entry in entries:
            path = os.path.normpath(os.path.join(base, entry))
            try:
                raw = read_attr(os.path.join(path, "name"))
            except OSError:
                continue  # not a zone (the intel-rapl control directory)
            index, name = index_and_name(counts, raw)
            counts[name] = index + 1
            zones.append((index, name, path))
        return zones

    def collect(self) -> Iterator[MetricFamily]:
        families: dict[str, Family] = {}
        for index, name, path in self.zones(self.sys("class", "powercap")):
            try:
                joules = read_uint(os.path.join(path, "energy_uj")) / 1_000_000.0
            except PermissionError:
                raise NoDataError(f"{path}/energy_uj: root only") from None
            if self.zone_label:
                family = families.setdefault("", Family(ZONE_LABEL))
                family.samples.append(((str(index), path, name), joules))
            else:
                family = families.setdefault(name, Family(self.desc(name)))
                family.samples.append(((str(index), path), joules))
        yield from families.values()
