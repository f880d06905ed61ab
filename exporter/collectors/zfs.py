"""`zfs`: ZFS kstats from /proc/spl/kstat/zfs, as node_exporter 1.5 reports them.

Every uint64 kstat (type 4) of the files 1.5 knows becomes `node_zfs_<subsystem>_<name>`,
untyped, with the kstat path as HELP (`kstat.zfs.misc.arcstats.hits`); per pool come its I/O
counters (`*/io`), its datasets' counters (`*/objset-*`) and its state (`*/state`). Files
that a ZFS release does not have are skipped, as in 1.5 (1.5 reads `dbuf_stats`; releases
that call it `dbufstats` get no dbuf families there or here). A dataset name keeps its
spaces (1.5 cuts it at the first one). Without the zfs module
(no /proc/spl/kstat/zfs): no families, success 0.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

# node_exporter's subsystem -> kstat file, in its order.
FILES = (("zfs_abd", "abdstats"), ("zfs_arc", "arcstats"), ("zfs_dbuf", "dbuf_stats"),
         ("zfs_dmu_tx", "dmu_tx"), ("zfs_dnode", "dnodestats"), ("zfs_fm", "fm"),
         ("zfs_vdev_cache", "vdev_cache_stats"), ("zfs_vdev_mirror", "vdev_mirror_stats"),
         ("zfs_xuio", "xuio_stats"), ("zfs_zfetch", "zfetchstats"), ("zfs_zil", "zil"))
POOL_STATES = ("online", "degraded", "faulted", "offline", "removed", "unavail")
KSTAT_UINT64 = "4"
UINT = re.compile(r"[0-9]{1,20}")
STATE = Desc("node_zfs_zpool_state", "kstat.zfs.misc.state", "gauge", ("state", "zpool"))


def uint(text: str, key: str) -> int | float:
    if UINT.fullmatch(text) is None or int(text) >= 1 << 64:
        raise ValueError(f"could not parse expected integer value for {key!r}: {text[:30]!r}")
    value = int(text)
    return float(value) if value > 1 << 53 else value  # as 1.5 prints it: a float64


def kstats(path: str, text: str) -> Iterator[tuple[str, str, str]]:
    """(name, type, value) of the uint64 rows after the `name type data` header line."""
    started = False
    for line in text.splitlines():
        parts = line.split()
        if not started:
            started = parts == ["name", "type", "data"]
            continue
        if len(parts) >= 3:
            # The data is one token, but a dataset name may hold spaces: keep all of it.
            yield parts[0], parts[1], (line.split(None, 2)[2].strip()
                                       if parts[0] == "dataset_name" else parts[2])
    if not started:
        raise ValueError(f"{path}: no `name type data` header")


class ZfsCollector(Collector):
    name = "zfs"

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self._descs: dict[tuple[str, str], Desc] = {}

    def desc(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Desc:
        """A kstat's Desc, made once per name (the same kstats come back every scrape)."""
        got = self._descs.get((name, help))
        if got is None:
            if len(self._descs) > 10_000:
                self._descs.clear()
            got = self._descs[(name, help)] = Desc(name, help, "untyped", labels)
        return got

    def collect(self) -> Iterator[MetricFamily]:
        base = self.proc("spl", "kstat", "zfs")
        if not os.path.isdir(base):
            raise NoDataError(f"{base} does not exist: zfs not loaded")
        for subsystem, leaf in FILES:
            path = os.path.join(base, leaf)
            try:
                text = read_text(path)
            except FileNotFoundError:
                continue  # a feature this ZFS release does not have
            for name, kind, value in kstats(path, text):
                if kind == KSTAT_UINT64:
                    key = f"kstat.zfs.misc.{leaf}.{name}"
                    desc = self.desc(f"node_{subsystem}_{name.replace('-', '_')}", key)
                    yield Family(desc, [((), uint(value, key))])
        yield from self.pools(base)

    def pools(self, base: str) -> Iterator[MetricFamily]:
        """Per-pool I/O, dataset and state families, each family once over all pools."""
        families: dict[str, Family] = {}
        pattern = glob.escape(base)
        for path in sorted(glob.glob(os.path.join(pattern, "*", "io"))):
            text = self.read_pool_file(path)
            if text is not None:
                self.pool_io(path, text, families)
        for path in sorted(glob.glob(os.path.join(pattern, "*", "objset-*"))):
            text = self.read_pool_file(path)
            if text is not None:
                self.pool_objset(path, text, families)
        yield from families.values()
        state = Family(STATE)
        for path in sorted(glob.glob(os.path.join(pattern, "*", "state"))):
            text = self.read_pool_file(path)
            if text is not None:
                actual = text.split("\n", 1)[0].lower()
                pool = os.path.basename(os.path.dirname(path))
                for name in POOL_STATES:
                    state.samples.append(((name, pool), 1 if actual == name else 0))
        if state.samples:
            yield state

    @staticmethod
    def read_pool_file(path: str) -> str | None:
        try:
            return read_text(path)
        except FileNotFoundError:
            return None  # the pool is being exported

    def add(self, families: dict[str, Family], name: str, help: str,
            labels: tuple[str, ...], values: tuple[str, ...], value: int) -> None:
        family = families.get(name)
        if family is None:
            family = families[name] = Family(self.desc(name, help, labels))
        family.samples.append((values, value))

    def pool_io(self, path: str, text: str, families: dict[str, Family]) -> None:
        """The row after the `nread nwritten ...` header (at least 12 columns)."""
        pool = os.path.basename(os.path.dirname(path))
        header: list[str] | None = None
        for line in text.splitlines():
            fields = line.split()
            if header is None:
                if len(fields) >= 12 and fields[0] == "nread":
                    header = fields
                continue
            if len(fields) < len(header):
                raise ValueError(f"{path}: {len(fields)} values for {len(header)} columns")
            for column, raw in zip(header, fields, strict=False):
                key = f"kstat.zfs.misc.io.{column}"
                self.add(families, f"node_zfs_zpool_{column.replace('-', '_')}", key,
                         ("zpool",), (pool,), uint(raw, key))

    def pool_objset(self, path: str, text: str, families: dict[str, Family]) -> None:
        """A dataset's uint64 kstats, labelled with its pool and `dataset_name`."""
        pool, dataset = "", ""
        for name, kind, value in kstats(path, text):
            if name == "dataset_name":
                pool, dataset = os.path.basename(os.path.dirname(path)), value
            elif kind == KSTAT_UINT64:
                key = f"kstat.zfs.misc.objset.{name}"
                self.add(families, f"node_zfs_zpool_dataset_{name.replace('-', '_')}", key,
                         ("dataset", "zpool"), (dataset, pool), uint(value, key))
