"""`dmi`: the firmware's identity from /sys/class/dmi/id, as node_exporter 1.5's dmi collector.

One `node_dmi_info` sample whose labels are the DMI fields this host has (a field the kernel
lets only root read, like the serials and product_uuid, is left out as a label, as in 1.5).
Invalid UTF-8 becomes U+FFFD. Without /sys/class/dmi (VMs, ARM boards) there is no family and
success is 0, as 1.5's ErrNoData.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_attr_at, valid_utf8
from exporter.exposition import Desc, MetricFamily, single

# DMI file -> label, for the files 1.5 reports.
LABELS = {
    "bios_date": "bios_date", "bios_release": "bios_release", "bios_vendor": "bios_vendor",
    "bios_version": "bios_version", "board_asset_tag": "board_asset_tag",
    "board_name": "board_name", "board_serial": "board_serial", "board_vendor": "board_vendor",
    "board_version": "board_version", "chassis_asset_tag": "chassis_asset_tag",
    "chassis_serial": "chassis_serial", "chassis_vendor": "chassis_vendor",
    "chassis_version": "chassis_version", "product_family": "product_family",
    "product_name": "product_name", "product_serial": "product_serial",
    "product_sku": "product_sku", "product_uuid": "product_uuid",
    "product_version": "product_version", "sys_vendor": "system_vendor",
}
HELP = ("A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, "
        "bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, "
        "chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, "
        "product_name, product_serial, product_sku, product_uuid, product_version, "
        "system_vendor if provided by DMI.")


class DmiCollector(Collector):
    name = "dmi"

    def __init__(self, config) -> None:
        super().__init__(config)
        self._descs: dict[tuple[str, ...], Desc] = {}

    def desc(self, labels: tuple[str, ...]) -> Desc:
        got = self._descs.get(labels)
        if got is None:
            got = self._descs[labels] = Desc("node_dmi_info", HELP, "gauge", labels)
        return got

    def values(self, path: str) -> dict[str, str]:
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist: no DMI") from None
        values: dict[str, str] = {}
        try:
            for entry in sorted(os.scandir(dir_fd), key=lambda e: e.name):
                name, label = entry.name, LABELS.get(entry.name)
                if label is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    data = read_attr_at(dir_fd, name)
                except PermissionError:
                    continue  # root only: serials, product_uuid
                values[label] = valid_utf8(data.strip())
        finally:
            os.close(dir_fd)
        return values

    def collect(self) -> Iterator[MetricFamily]:
        path = self.sys("class", "dmi", "id")
        values = self.values(path)
        if not values:
            raise NoDataError(f"{path}: no DMI attributes")
        labels = tuple(sorted(values))
        yield single(self.desc(labels), 1, tuple(values[label] for label in labels))
