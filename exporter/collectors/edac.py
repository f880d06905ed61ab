"""`edac`: memory controller error counters from sysfs' EDAC, as node_exporter 1.5.

Per `devices/system/edac/mc/mcN`: correctable and uncorrectable errors, and per `csrowM` the
same by chip-select row (`csrow="unknown"` for the controller's errors without row
information). Without EDAC (most VMs) nothing is reported, success 1, as in 1.5; a missing or
garbled counter fails the collector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, numbered, read_uint
from exporter.exposition import Desc, Family, MetricFamily

CE = Desc("node_edac_correctable_errors_total", "Total correctable memory errors.", "counter",
          ("controller",))
UE = Desc("node_edac_uncorrectable_errors_total", "Total uncorrectable memory errors.",
          "counter", ("controller",))
CSROW_CE = Desc("node_edac_csrow_correctable_errors_total",
                "Total correctable memory errors for this csrow.", "counter",
                ("controller", "csrow"))
CSROW_UE = Desc("node_edac_csrow_uncorrectable_errors_total",
                "Total uncorrectable memory errors for this csrow.", "counter",
                ("controller", "csrow"))
DIGITS = re.compile(r"[0-9]*")


class EdacCollector(Collector):
    name = "edac"

    def collect(self) -> Iterator[MetricFamily]:
        base = self.sys("devices", "system", "edac", "mc")
        ce, ue, row_ce, row_ue = Family(CE), Family(UE), Family(CSROW_CE), Family(CSROW_UE)
        for controller in numbered(base, "mc"):
            path = os.path.join(base, controller)
            number = DIGITS.match(controller, 2).group(0)
            ce.samples.append(((number,), read_uint(os.path.join(path, "ce_count"))))
            row_ce.samples.append(((number, "unknown"),
                                   read_uint(os.path.join(path, "ce_noinfo_count"))))
            ue.samples.append(((number,), read_uint(os.path.join(path, "ue_count"))))
            row_ue.samples.append(((number, "unknown"),
                                   read_uint(os.path.join(path, "ue_noinfo_count"))))
            for csrow in numbered(path, "csrow"):
                row = DIGITS.match(csrow, 5).group(0)
                row_path = os.path.join(path, csrow)
                row_ce.samples.append(((number, row), read_uint(os.path.join(row_path,
                                                                              "ce_count"))))
                row_ue.samples.append(((number, row), read_uint(os.path.join(row_path,
                                                                              "ue_count"))))
        yield from (family for family in (ce, row_ce, ue, row_ue) if family.samples)
