"""The metric catalog: named PromQL expressions, each evaluated per `instance`, with title and unit.

The built-in entries read node_exporter's metric names (which the promwire exporter keeps), and
every one aggregates `by (instance, ...)` so many hosts work out of the box and each sample's
labels are exactly the ones that tell its series apart (`mountpoint`, `device`, `direction`).
`metrics.catalog` in the bridge's YAML adds entries or replaces built-in ones by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiohttp import web

from bridge.errors import NotFound
from bridge.keys import CONFIG_KEY
from bridge.metrics.entry import CatalogEntry

# File systems that are not disks: excluded from `disk`.
_PSEUDO_FS = 'fstype!~"tmpfs|ramfs|devtmpfs|squashfs|nsfs|autofs|fuse\\\\..*"'


def _directions(expr: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`or` of one expression per direction, each tagged with a `direction` label."""
    parts = [f'label_replace({expr.format(metric=metric)}, "direction", "{name}", "", "")'
             for name, metric in pairs]
    return "\n  or ".join(parts)


def _tagged(label: str, parts: tuple[tuple[str, str], ...]) -> str:
    """`or` of `(value, expr)` pairs, each expr tagged with `label="value"`."""
    return "\n  or ".join(f'label_replace({expr}, "{label}", "{value}", "", "")'
                          for value, expr in parts)


# `free`'s split: used + buff/cache + free = MemTotal.
_CACHE = "node_memory_Buffers_bytes + node_memory_Cached_bytes + node_memory_SReclaimable_bytes"
_CPU_RATE = "sum by (instance{extra}) (rate(node_cpu_seconds_total[1m]))"

BUILTIN: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "cpu",
        "100 * (1 - sum by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[1m]))"
        " / sum by (instance) (rate(node_cpu_seconds_total[1m])))",
        "CPU busy", "percent", "Share of CPU time not idle, all CPUs, over the last minute."),
    CatalogEntry(
        "memory",
        "100 * (1 - sum by (instance) (node_memory_MemAvailable_bytes)"
        " / sum by (instance) (node_memory_MemTotal_bytes))",
        "Memory used", "percent", "1 - MemAvailable / MemTotal."),
    CatalogEntry(
        "swap",
        "100 * (1 - sum by (instance) (node_memory_SwapFree_bytes)"
        " / (sum by (instance) (node_memory_SwapTotal_bytes) > 0))"
        " or 0 * sum by (instance) (node_memory_SwapTotal_bytes)",
        "Swap used", "percent", "1 - SwapFree / SwapTotal; 0 on hosts without swap."),
    CatalogEntry(
        "disk",
        f"100 * (1 - max by (instance, mountpoint) (node_filesystem_avail_bytes{{{_PSEUDO_FS}}})"
        f" / (max by (instance, mountpoint) (node_filesystem_size_bytes{{{_PSEUDO_FS}}}) > 0))",
        "Disk used", "percent",
        "Per mountpoint: 1 - available / size (what non-root users can still write)."),
    CatalogEntry(
        "disk_io",
        _directions("sum by (instance, device) (rate({metric}[1m]))",
                    (("read", "node_disk_read_bytes_total"),
                     ("write", "node_disk_written_bytes_total"))),
        "Disk I/O", "bytes/s", "Bytes read and written per second, per device."),
    CatalogEntry(
        "network",
        _directions('sum by (instance, device) (rate({metric}{{device!="lo"}}[1m]))',
                    (("receive", "node_network_receive_bytes_total"),
                     ("transmit", "node_network_transmit_bytes_total"))),
        "Network", "bytes/s", "Bytes received and transmitted per second, per interface."),
    CatalogEntry(
        "load1",
        "max by (instance) (node_load1)",
        "Load average (1m)", "", "Runnable and uninterruptible tasks, 1-minute average."),
    CatalogEntry(
        "uptime",
        "time() - max by (instance) (node_boot_time_seconds)",
        "Uptime", "seconds", "Seconds since the host booted."),
    # The live page's charts: the same figures split the way its charts show them.
    CatalogEntry(
        "cpu_mode",
        f"100 * {_CPU_RATE.format(extra=', mode')}"
        f" / on (instance) group_left () {_CPU_RATE.format(extra='')}",
        "CPU by mode", "percent",
        "Share of CPU time per mode (user, system, iowait, idle, ...), all CPUs, last minute."),
    CatalogEntry(
        "memory_bytes",
        _tagged("kind", (
            ("used", f"sum by (instance) (node_memory_MemTotal_bytes - node_memory_MemFree_bytes"
                     f" - ({_CACHE}))"),
            ("cache", f"sum by (instance) ({_CACHE})"),
            ("free", "sum by (instance) (node_memory_MemFree_bytes)"))),
        "Memory", "bytes",
        "Used, buffers/cache (incl. reclaimable slab) and free, as `free` splits MemTotal."),
    CatalogEntry(
        "load",
        _tagged("period", tuple((period, f"max by (instance) (node_load{minutes})")
                                for period, minutes in (("1m", 1), ("5m", 5), ("15m", 15)))),
        "Load average", "", "Runnable and uninterruptible tasks: 1, 5 and 15-minute averages."),
)


class Catalog:
    """The named metrics, built-in first, then config entries (same name = replaced in place)."""

    def __init__(self, entries: Iterable[CatalogEntry] = BUILTIN,
                 extra: Iterable[CatalogEntry] = ()) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in (*entries, *extra):
            self._entries[entry.name] = entry

    @classmethod
    def from_config(cls, extra: Iterable[CatalogEntry]) -> Catalog:
        return cls(BUILTIN, extra)

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> CatalogEntry:
        """The entry named `name`, or NotFound listing the valid names."""
        try:
            return self._entries[name]
        except KeyError:
            raise NotFound(f"unknown metric {name!r}; valid metrics: {', '.join(self.names)}",
                           valid=self.names) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self) -> list[dict[str, str]]:
        """The catalog as served by GET /api/metrics."""
        return [{"name": e.name, "title": e.title, "unit": e.unit,
                 "description": e.description, "query": e.query} for e in self]


CATALOG_KEY = web.AppKey("catalog", Catalog)


def setup(app: web.Application) -> None:
    app[CATALOG_KEY] = Catalog.from_config(app[CONFIG_KEY].metrics.catalog)
