"""`cgroups`: controllers' cgroup counts and enabled state from /proc/cgroups (off by default).

As node_exporter 1.5 (procfs' CgroupSummarys): `#` lines are comments; every other line needs
at least four fields (subsys_name, hierarchy, num_cgroups, enabled) with integers where they
belong, else the collector fails. Both families keep 1.5's help, the same text twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, Family, MetricFamily

CGROUPS = Desc("node_cgroups_cgroups", "Current cgroup number of the subsystem.", "gauge",
               ("subsys_name",))
ENABLED = Desc("node_cgroups_enabled", "Current cgroup number of the subsystem.", "gauge",
               ("subsys_name",))


def atoi(text: str, where: str) -> int:
    """Go's strconv.Atoi: an optional sign, then decimal digits that fit 64 bits."""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or not -(1 << 63) <= int(text) < 1 << 63:
        raise ValueError(f"{where}: expected an integer, got {text[:40]!r}")
    return int(text)


class CgroupsCollector(Collector):
    name = "cgroups"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("cgroups")
        cgroups, enabled = Family(CGROUPS), Family(ENABLED)
        seen: set[str] = set()
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if line.startswith("#"):
                continue
            fields = line.split()
            where = f"{path}: line {number}"
            if len(fields) < 4:
                raise ValueError(f"{where}: {len(fields)} fields, expected at least 4")
            atoi(fields[1], where)  # the hierarchy id: checked, not reported (as 1.5)
            count, on = atoi(fields[2], where), atoi(fields[3], where)
            if fields[0] in seen:  # client_golang drops a repeated series
                continue
            seen.add(fields[0])
            cgroups.add((fields[0],), count)
            enabled.add((fields[0],), on)
        if cgroups.samples:
            yield cgroups
            yield enabled
