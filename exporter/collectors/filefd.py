"""`filefd`: allocated and maximum file handles from /proc/sys/fs/file-nr."""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, read_text
from exporter.exposition import Desc, MetricFamily, single

ALLOCATED = Desc("node_filefd_allocated", "File descriptor statistics: allocated.", "gauge")
MAXIMUM = Desc("node_filefd_maximum", "File descriptor statistics: maximum.", "gauge")


class FilefdCollector(Collector):
    name = "filefd"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("sys", "fs", "file-nr")
        fields = read_text(path).split()
        # file-nr is "allocated unused maximum"; node_exporter needs exactly three fields.
        if len(fields) != 3 or not all(f.isascii() and f.isdigit() for f in fields):
            raise ValueError(f"{path}: expected 3 integers, got {fields!r}")
        yield single(ALLOCATED, int(fields[0]))
        yield single(MAXIMUM, int(fields[2]))
