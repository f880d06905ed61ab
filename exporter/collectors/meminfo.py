"""`meminfo`: every /proc/meminfo field as node_memory_<Field>[_bytes], named as node_exporter.

`Active(anon)` becomes `Active_anon`; fields in kB become bytes with a `_bytes` suffix, the
unitless HugePages_* counts keep their name. Elsewhere, the fields psutil offers, same names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

PARENS = re.compile(r"\((.*)\)")

# psutil field -> node_exporter's /proc/meminfo name (for platforms without /proc/meminfo).
PSUTIL_VIRTUAL = {"total": "MemTotal", "available": "MemAvailable", "free": "MemFree",
                  "buffers": "Buffers", "cached": "Cached", "shared": "Shmem",
                  "active": "Active", "inactive": "Inactive", "slab": "Slab"}
PSUTIL_SWAP = {"total": "SwapTotal", "free": "SwapFree"}


class MeminfoCollector(Collector):
    name = "meminfo"
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        self._descs: dict[str, tuple[Desc, int]] = {}

    def desc(self, raw_key: str, has_unit: bool) -> tuple[Desc, int]:
        """The family and multiplier for a /proc/meminfo key, built once per key."""
        cache_key = raw_key if has_unit else raw_key + " "
        got = self._descs.get(cache_key)
        if got is None:
            key = PARENS.sub(r"_\1", raw_key)
            if has_unit:
                key += "_bytes"
            got = (Desc(f"node_memory_{key}", f"Memory information field {key}.", "gauge"),
                   1024 if has_unit else 1)
            self._descs[cache_key] = got
        return got

    def collect_procfs(self) -> Iterator[MetricFamily]:
        path = self.proc("meminfo")
        for line in read_text(path).splitlines():
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (2, 3) or not parts[0].endswith(":"):
                raise ValueError(f"{path}: invalid line {line!r}")
            desc, scale = self.desc(parts[0][:-1], len(parts) == 3)
            yield Family(desc, [((), int(parts[1]) * scale)])

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        for source, names in ((psutil.virtual_memory(), PSUTIL_VIRTUAL),
                              (psutil.swap_memory(), PSUTIL_SWAP)):
            values = source._asdict()
            for field, key in names.items():
                if field in values:
                    desc, _ = self.desc(key, True)
                    yield Family(desc, [((), int(values[field]))])
