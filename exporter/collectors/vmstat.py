"""`vmstat`: the /proc/vmstat fields node_exporter exports by default (untyped, as it does)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig


DEFAULT_VMSTAT_FIELDS = r"^(oom_kill|pgpg|pswp|pg.*fault).*"


@dataclass(frozen=True)
class VmstatConfig:
    fields: str = option("--collector.vmstat.fields", DEFAULT_VMSTAT_FIELDS,
                         "regex of /proc/vmstat fields to report", regex=True)


class VmstatCollector(Collector):
    name = "vmstat"
    options = VmstatConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.fields = re.compile(config.vmstat.fields)
        self._descs: dict[str, Desc | None] = {}

    def desc(self, field: str) -> Desc | None:
        """The family for a field, or None when the field filter leaves it out; cached."""
        if field not in self._descs:
            self._descs[field] = (Desc(f"node_vmstat_{field}",
                                       f"/proc/vmstat information field {field}.", "untyped")
                                  if self.fields.match(field) else None)
        return self._descs[field]

    def collect(self) -> Iterator[MetricFamily]:
        for line in read_text(self.proc("vmstat")).splitlines():
            field, _, value = line.partition(" ")
            desc = self.desc(field)
            if desc is not None:
                yield Family(desc, [((), int(value))])
