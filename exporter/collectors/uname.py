"""`uname`: node_uname_info with the uname(2) fields as labels."""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_optional
from exporter.exposition import Desc, MetricFamily, single

UNAME = Desc("node_uname_info", "Labeled system information as provided by the uname system "
             "call.", "gauge", ("domainname", "machine", "nodename", "release", "sysname",
                                "version"))


class UnameCollector(Collector):
    name = "uname"
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd")

    def collect(self) -> Iterator[MetricFamily]:
        u = os.uname()
        # uname(2)'s domainname is this UTS namespace's, which only /proc/sys shows to Python.
        domain = read_optional("/proc/sys/kernel/domainname")
        if domain is None:
            domain = "(none)"
        yield single(UNAME, 1, (domain, u.machine, u.nodename, u.release, u.sysname, u.version))
