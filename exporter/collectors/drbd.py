"""`drbd`: DRBD devices' state and counters from /proc/drbd (off by default; DRBD 8 only).

As node_exporter 1.5: the file is read as whitespace-separated `key:value` words; `N:` starts
device `drbdN`; the counters (`ns`, `dw`, `dr`, `oos` in KiB, reported in bytes) and gauges
are floats (one that is not fails the collector); `ro` / `ds` give a local and a remote
sample (1 when Primary / UpToDate); `cs` gives `node_drbd_connected`. Other words are
skipped. No /proc/drbd (no DRBD module, or DRBD 9): left out, success 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily


def numeric(name: str, help: str, type: str, multiplier: int) -> tuple[Desc, int]:
    return Desc(f"node_drbd_{name}", help, type, ("device",)), multiplier


NUMERICAL = {
    "ns": numeric("network_sent_bytes_total", "Total number of bytes sent via the network.",
                  "counter", 1024),
    "nr": numeric("network_received_bytes_total",
                  "Total number of bytes received via the network.", "counter", 1),
    "dw": numeric("disk_written_bytes_total", "Net data written on local hard disk; in bytes.",
                  "counter", 1024),
    "dr": numeric("disk_read_bytes_total", "Net data read from local hard disk; in bytes.",
                  "counter", 1024),
    "al": numeric("activitylog_writes_total",
                  "Number of updates of the activity log area of the meta data.", "counter", 1),
    "bm": numeric("bitmap_writes_total",
                  "Number of updates of the bitmap area of the meta data.", "counter", 1),
    "lo": numeric("local_pending", "Number of open requests to the local I/O sub-system.",
                  "gauge", 1),
    "pe": numeric("remote_pending", "Number of requests sent to the peer, but that have not "
                  "yet been answered by the latter.", "gauge", 1),
    "ua": numeric("remote_unacknowledged", "Number of requests received by the peer via the "
                  "network connection, but that have not yet been answered.", "gauge", 1),
    "ap": numeric("application_pending", "Number of block I/O requests forwarded to DRBD, "
                  "but not yet answered by DRBD.", "gauge", 1),
    "ep": numeric("epochs", "Number of Epochs currently on the fly.", "gauge", 1),
    "oos": numeric("out_of_sync_bytes", "Amount of data known to be out of sync; in bytes.",
                   "gauge", 1024),
}
STRING_PAIR = {
    "ro": (Desc("node_drbd_node_role_is_primary",
                "Whether the role of the node is in the primary state.", "gauge",
                ("device", "node")), "Primary"),
    "ds": (Desc("node_drbd_disk_state_is_up_to_date",
                "Whether the disk of the node is up to date.", "gauge", ("device", "node")),
           "UpToDate"),
}
CONNECTED = Desc("node_drbd_connected", "Whether DRBD is connected to the peer.", "gauge",
                 ("device",))
# Go's strconv.ParseFloat, decimal forms (and inf/nan); hex floats are not written by DRBD.
FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                   re.IGNORECASE)


class DrbdCollector(Collector):
    name = "drbd"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("drbd")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        families: dict[Desc, Family] = {}
        seen: set[tuple[str, tuple[str, ...]]] = set()

        def add(desc: Desc, labels: tuple[str, ...], value: float) -> None:
            if (desc.name, labels) in seen:  # client_golang drops a repeated series
                return
            seen.add((desc.name, labels))
            families.setdefault(desc, Family(desc)).add(labels, value)

        device = "unknown"
        for word in text.split():
            kv = word.split(":")
            if len(kv) != 2:
                continue
            key, value = kv
            if value == "" and key.isascii() and key.isdigit():
                device = f"drbd{int(key)}"
            elif key in NUMERICAL:
                desc, multiplier = NUMERICAL[key]
                if FLOAT.fullmatch(value) is None:
                    raise ValueError(f"{path}: {key}:{value[:20]} is no number")
                add(desc, (device,), float(value) * multiplier)
            elif key in STRING_PAIR:
                desc, ok = STRING_PAIR[key]
                pair = value.split("/")
                if len(pair) < 2:
                    raise ValueError(f"{path}: {key}:{value[:20]} is no local/remote pair")
                add(desc, (device, "local"), 1 if pair[0] == ok else 0)
                add(desc, (device, "remote"), 1 if pair[1] == ok else 0)
            elif key == "cs":
                add(CONNECTED, (device,), 1 if value == "Connected" else 0)
        yield from families.values()
