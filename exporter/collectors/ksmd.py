"""`ksmd` (off by default): kernel samepage merging from /sys/kernel/mm/ksm, as 1.5.

One gauge per file (`node_ksmd_pages_shared`, `node_ksmd_run`, ...), `full_scans` as the
counter `node_ksmd_full_scans_total` and `sleep_millisecs` as `node_ksmd_sleep_seconds`, with
1.5's help texts ("ksmd 'run' file."; later releases reword them and add
`node_ksmd_general_profit_bytes`, which 1.5 does not read). Every file is needed: a kernel
without KSM (no directory) leaves the families out, success 0; a missing or non-numeric
file fails the collector, as in 1.5.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_uint
from exporter.exposition import Desc, MetricFamily, single

FILES = ("full_scans", "merge_across_nodes", "pages_shared", "pages_sharing", "pages_to_scan",
         "pages_unshared", "pages_volatile", "run", "sleep_millisecs")
RENAMED = {"full_scans": "full_scans_total", "sleep_millisecs": "sleep_seconds"}
DESCS = {name: Desc(f"node_ksmd_{RENAMED.get(name, name)}", f"ksmd '{name}' file.",
                    "counter" if name == "full_scans" else "gauge") for name in FILES}


class KsmdCollector(Collector):
    name = "ksmd"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("kernel", "mm", "ksm")
        if not os.path.isdir(base):
            raise NoDataError(f"{base} does not exist (no CONFIG_KSM)")
        values = {name: read_uint(os.path.join(base, name)) for name in FILES}
        for name, value in values.items():
            yield single(DESCS[name], value / 1000 if name == "sleep_millisecs" else value)
