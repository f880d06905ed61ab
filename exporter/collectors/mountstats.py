"""`mountstats` (off by default): NFS client statistics per mount from /proc/self/mountstats,
as node_exporter 1.5 reports them.

Per NFS mount (`{export,protocol,mountaddr}`): `node_mountstats_nfs_age_seconds_total`, the
`bytes:` counters (`node_mountstats_nfs_read_bytes_total`, ...), the `xprt:` transport
counters (`node_mountstats_nfs_transport_*`), the `events:` counters
(`node_mountstats_nfs_event_*_total`) and per operation of "per-op statistics"
`node_mountstats_nfs_operations_*{...,operation}`. `mountaddr` is the `addr=` superblock
option of the same line of /proc/self/mountinfo (both files list mounts in the same order). A
second mount of the same export, protocol and address is left out, as 1.5 does. Later
releases add `node_mountstats_nfs_mountpoint_info` and a `transport` label; 1.5 has neither.

Parsed with procfs 0.8's rules: a device line not of the form "device D mounted on M with
fstype T [statvers=V]", statistics on a mount that is not nfs/nfs4, a `bytes:` line without
8 numbers, an `events:` line without 27, an `xprt:` line of the wrong length for its
protocol and statistics version (or another protocol than tcp/udp), a per-op line with
fewer than 9 fields or a malformed mountinfo line fails the collector. Without
/proc/self/mountstats the families are left out, success 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from exporter.collectors.base import Collector, NoDataError, read_text, to_uint
from exporter.exposition import Desc, Family, MetricFamily

LABELS = ("export", "protocol", "mountaddr")
OP_LABELS = (*LABELS, "operation")
MANTISSA = 1 << 53  # node_exporter keeps large counters within a float64's exact range
BYTES_FIELDS = 8
EVENTS_FIELDS = 27
TRANSPORT_FIELDS = {("1.0", "tcp"): 10, ("1.0", "udp"): 7, ("1.1", "tcp"): 13,
                    ("1.1", "udp"): 10}
OP_MIN_FIELDS = 9
# Go's time.ParseDuration(age + "s") for the plain seconds the kernel writes.
SECONDS = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def _d(name: str, help: str, type: str = "counter", labels: tuple[str, ...] = LABELS) -> Desc:
    return Desc(f"node_mountstats_nfs_{name}", help, type, labels)


AGE = _d("age_seconds_total", "The age of the NFS mount in seconds.")
# (bytes: column, family)
BYTES = (
    (0, _d("read_bytes_total", "Number of bytes read using the read() syscall.")),
    (1, _d("write_bytes_total", "Number of bytes written using the write() syscall.")),
    (2, _d("direct_read_bytes_total",
           "Number of bytes read using the read() syscall in O_DIRECT mode.")),
    (3, _d("direct_write_bytes_total",
           "Number of bytes written using the write() syscall in O_DIRECT mode.")),
    (4, _d("total_read_bytes_total", "Number of bytes read from the NFS server, in total.")),
    (5, _d("total_write_bytes_total", "Number of bytes written to the NFS server, in total.")),
    (6, _d("read_pages_total", "Number of pages read directly via mmap()'d files.")),
    (7, _d("write_pages_total", "Number of pages written directly via mmap()'d files.")),
)
# (column of procfs' 13 transport values, family); idle time is a gauge modulo 2^53.
TRANSPORT = (
    (1, _d("transport_bind_total", "Number of times the client has had to establish a "
           "connection from scratch to the NFS server.")),
    (2, _d("transport_connect_total",
           "Number of times the client has made a TCP connection to the NFS server.")),
    (4, _d("transport_idle_time_seconds",
           "Duration since the NFS mount last saw any RPC traffic, in seconds.", "gauge")),
    (5, _d("transport_sends_total",
           "Number of RPC requests for this mount sent to the NFS server.")),
    (6, _d("transport_receives_total",
           "Number of RPC responses for this mount received from the NFS server.")),
    (7, _d("transport_bad_transaction_ids_total", "Number of times the NFS server sent a "
           "response with a transaction ID unknown to this client.")),
    (9, _d("transport_backlog_queue_total",
           "Total number of items added to the RPC backlog queue.")),
    (10, _d("transport_maximum_rpc_slots",
            "Maximum number of simultaneously active RPC requests ever used.", "gauge")),
    (11, _d("transport_sending_queue_total",
            "Total number of items added to the RPC transmission sending queue.")),
    (12, _d("transport_pending_queue_total",
            "Total number of items added to the RPC transmission pending queue.")),
)
# (per-op column, family, milliseconds to seconds)
OPERATIONS = (
    (0, _d("operations_requests_total", "Number of requests performed for a given operation.",
           labels=OP_LABELS), False),
    (1, _d("operations_transmissions_total", "Number of times an actual RPC request has been "
           "transmitted for a given operation.", labels=OP_LABELS), False),
    (2, _d("operations_major_timeouts_total", "Number of times a request has had a major "
           "timeout for a given operation.", labels=OP_LABELS), False),
    (3, _d("operations_sent_bytes_total", "Number of bytes sent for a given operation, "
           "including RPC headers and payload.", labels=OP_LABELS), False),
    (4, _d("operations_received_bytes_total", "Number of bytes received for a given "
           "operation, including RPC headers and payload.", labels=OP_LABELS), False),
    (5, _d("operations_queue_time_seconds_total", "Duration all requests spent queued for "
           "transmission for a given operation before they were sent, in seconds.",
           labels=OP_LABELS), True),
    (6, _d("operations_response_time_seconds_total", "Duration all requests took to get a "
           "reply back after a request for a given operation was transmitted, in seconds.",
           labels=OP_LABELS), True),
    (7, _d("operations_request_time_seconds_total", "Duration all requests took from when a "
           "request was enqueued to when it was completely handled for a given operation, in "
           "seconds.", labels=OP_LABELS), True),
)
# (events: column, family); column 18 (congestion waits) 1.5 does not report.
EVENTS = (
    (0, _d("event_inode_revalidate_total",
           "Number of times cached inode attributes are re-validated from the server.")),
    (1, _d("event_dnode_revalidate_total",
           "Number of times cached dentry nodes are re-validated from the server.")),
    (2, _d("event_data_invalidate_total", "Number of times an inode cache is cleared.")),
    (3, _d("event_attribute_invalidate_total",
           "Number of times cached inode attributes are invalidated.")),
    (4, _d("event_vfs_open_total", "Number of times cached inode attributes are invalidated.")),
    (5, _d("event_vfs_lookup_total", "Number of times a directory lookup has occurred.")),
    (6, _d("event_vfs_access_total", "Number of times permissions have been checked.")),
    (7, _d("event_vfs_update_page_total", "Number of updates (and potential writes) to pages.")),
    (8, _d("event_vfs_read_page_total", "Number of pages read directly via mmap()'d files.")),
    (9, _d("event_vfs_read_pages_total", "Number of times a group of pages have been read.")),
    (10, _d("event_vfs_write_page_total",
            "Number of pages written directly via mmap()'d files.")),
    (11, _d("event_vfs_write_pages_total",
            "Number of times a group of pages have been written.")),
    (12, _d("event_vfs_getdents_total",
            "Number of times directory entries have been read with getdents().")),
    (13, _d("event_vfs_setattr_total",
            "Number of times directory entries have been read with getdents().")),
    (14, _d("event_vfs_flush_total",
            "Number of pending writes that have been forcefully flushed to the server.")),
    (15, _d("event_vfs_fsync_total",
            "Number of times fsync() has been called on directories and files.")),
    (16, _d("event_vfs_lock_total", "Number of times locking has been attempted on a file.")),
    (17, _d("event_vfs_file_release_total",
            "Number of times files have been closed and released.")),
    (19, _d("event_truncation_total", "Number of times files have been truncated.")),
    (20, _d("event_write_extension_total",
            "Number of times a file has been grown due to writes beyond its existing end.")),
    (21, _d("event_silly_rename_total",
            "Number of times a file was removed while still open by another process.")),
    (22, _d("event_short_read_total",
            "Number of times the NFS server gave less data than expected while reading.")),
    (23, _d("event_short_write_total",
            "Number of times the NFS server wrote less data than expected while writing.")),
    (24, _d("event_jukebox_delay_total", "Number of times the NFS server indicated EJUKEBOX; "
            "retrieving data from offline storage.")),
    (25, _d("event_pnfs_read_total", "Number of NFS v4.1+ pNFS reads.")),
    (26, _d("event_pnfs_write_total", "Number of NFS v4.1+ pNFS writes.")),
)
# Every family, in 1.5's order of emission.
ALL = (AGE, *(d for _, d in BYTES), *(d for _, d in TRANSPORT), *(d for _, d, _ in OPERATIONS),
       *(d for _, d in EVENTS))


@dataclass
class NFSStats:
    """One NFS mount's statistics, as procfs' MountStatsNFS (absent lines stay zero)."""

    age: float = 0.0
    bytes: list[int] = field(default_factory=lambda: [0] * BYTES_FIELDS)
    events: list[int] = field(default_factory=lambda: [0] * EVENTS_FIELDS)
    protocol: str = ""
    transport: list[int] = field(default_factory=lambda: [0] * 13)
    operations: list[tuple[str, list[int]]] = field(default_factory=list)


def numbers(values: list[str], where: str) -> list[int]:
    return [to_uint(v, where) for v in values]


def parse_transport(fields: list[str], version: str, where: str) -> tuple[str, list[int]]:
    """(protocol, procfs' 13 transport values) of an `xprt:` line's fields."""
    protocol, rest = fields[0], fields[1:]
    if version not in ("1.0", "1.1"):
        raise ValueError(f"{where}: unrecognized NFS transport stats version {version!r}")
    expected = TRANSPORT_FIELDS.get((version, protocol))
    if expected is None:
        raise ValueError(f"{where}: invalid NFS protocol {protocol!r} in stats {version}")
    if len(rest) != expected:
        raise ValueError(f"{where}: {len(rest)} transport fields, expected {expected}")
    values = numbers(rest, where) + [0] * (13 - expected)
    if protocol == "udp":  # no connect, connect idle time or idle time on UDP
        values = [*values[:2], 0, 0, 0, *values[2:]]
    return protocol, values[:13]


def parse_nfs(lines: Iterator[str], version: str, where: str) -> NFSStats:
    """The lines after an NFS device line, up to the blank line that ends its operations."""
    stats = NFSStats()
    for line in lines:
        ss = line.split()
        if not ss:
            break
        key = ss[0]
        if len(ss) < (3 if key == "xprt:" else 2) and \
                key in ("opts:", "age:", "bytes:", "events:", "xprt:"):
            raise ValueError(f"{where}: not enough information for NFS stats: {line[:60]!r}")
        if key == "age:":
            if SECONDS.fullmatch(ss[1]) is None:
                raise ValueError(f"{where}: invalid age {ss[1][:20]!r}")
            stats.age = float(ss[1])
        elif key == "bytes:":
            if len(ss) - 1 != BYTES_FIELDS:
                raise ValueError(f"{where}: invalid NFS bytes stats {line[:60]!r}")
            stats.bytes = numbers(ss[1:], where)
        elif key == "events:":
            if len(ss) - 1 != EVENTS_FIELDS:
                raise ValueError(f"{where}: invalid NFS events stats {line[:60]!r}")
            stats.events = numbers(ss[1:], where)
        elif key == "xprt:":
            stats.protocol, stats.transport = parse_transport(ss[1:], version, where)
        elif key == "per-op":
            break
    for line in lines:
        ss = line.split()
        if not ss:
            break
        if len(ss) < OP_MIN_FIELDS:
            raise ValueError(f"{where}: invalid NFS per-operations stats {line[:60]!r}")
        stats.operations.append((ss[0].removesuffix(":"), numbers(ss[1:], where)))
    return stats


DEVICE_WORDS = ((0, "device"), (2, "mounted"), (3, "on"), (5, "with"), (6, "fstype"))


def parse_mountstats(text: str, path: str) -> list[tuple[str, NFSStats | None]]:
    """(device, its NFS statistics or None) per device line, in the file's order."""
    mounts: list[tuple[str, NFSStats | None]] = []
    lines = iter(text.splitlines())
    for line in lines:
        ss = line.split()
        if not ss or ss[0] != "device":
            continue
        if len(ss) < 8 or any(ss[i] != word for i, word in DEVICE_WORDS):
            raise ValueError(f"{path}: invalid device entry {line[:80]!r}")
        stats = None
        if len(ss) > 8:
            if ss[7] not in ("nfs", "nfs4"):
                raise ValueError(f"{path}: cannot parse MountStats for fstype {ss[7][:20]!r}")
            stats = parse_nfs(lines, ss[8].removeprefix("statvers="), f"{path}: {ss[1]}")
        mounts.append((ss[1], stats))
    return mounts


def mount_addresses(text: str, path: str) -> list[str]:
    """The `addr=` superblock option of each mountinfo line ("" without), procfs' checks."""
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or fields[-4] != "-":
            raise ValueError(f"{path}: malformed line {line[:80]!r}")
        if not (fields[0].lstrip("+-").isdigit() and fields[1].lstrip("+-").isdigit()):
            raise ValueError(f"{path}: failed to parse mount or parent ID in {line[:80]!r}")
        options = dict(opt.split("=")[:2] if "=" in opt else (opt, "")
                       for opt in fields[-1].split(","))
        out.append(options.get("addr", ""))
    return out


class MountstatsCollector(Collector):
    name = "mountstats"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("self", "mountstats")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        mounts = parse_mountstats(text, path)
        info_path = self.proc("self", "mountinfo")
        addresses = mount_addresses(read_text(info_path), info_path)
        families = {desc.name: Family(desc) for desc in ALL}
        seen: set[tuple[str, str, str]] = set()
        for index, (device, stats) in enumerate(mounts):
            if stats is None:
                continue
            key = (device, stats.protocol, addresses[index] if index < len(addresses) else "")
            if key not in seen:
                seen.add(key)
                self.mount(families, key, stats)
        yield from (f for f in families.values() if f.samples)

    @staticmethod
    def mount(families: dict[str, Family], key: tuple[str, str, str], s: NFSStats) -> None:
        families[AGE.name].add(key, int(s.age) if s.age.is_integer() else s.age)
        for column, desc in BYTES:
            families[desc.name].add(key, s.bytes[column])
        for column, desc in TRANSPORT:
            value = s.transport[column]
            families[desc.name].add(key, value % MANTISSA if column == 4 else value)
        for operation, values in s.operations:
            op_key = (*key, operation)
            for column, desc, millis in OPERATIONS:
                value = values[column]
                families[desc.name].add(op_key, (value % MANTISSA) / 1000 if millis else value)
        for column, desc in EVENTS:
            families[desc.name].add(key, s.events[column])
