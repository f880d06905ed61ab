"""`nfs`: NFS client RPC statistics from /proc/net/rpc/nfs, as node_exporter 1.5 reports them.

Each line is a key and unsigned decimal counters (prometheus/procfs' nfs package). Procedures
are labelled with procfs' Go field names (`GetAttr`, `ReadDirPlus`, ...), which is what 1.5
puts in `method`, each with the kernel's count for it (procfs 0.8, which 1.5 uses, swapped
GetDeviceInfo and LayoutGet; later releases fixed it). As procfs does, a `proc4` line from
an older kernel that lists fewer than 59 operations reports the missing ones as 0 (the
kernel cannot issue them). A line the file lacks leaves its series out; 1.5 would report
zeros for it. Lines of newer kernels that 1.5 does not know are skipped rather than failing
the collector. No file (no NFS client module): no families, success 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

V2_METHODS = ("Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache",
              "Write", "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir",
              "ReadDir", "FsStat")
V3_METHODS = ("Null", "GetAttr", "SetAttr", "Lookup", "Access", "ReadLink", "Read", "Write",
              "Create", "MkDir", "SymLink", "MkNod", "Remove", "RmDir", "Rename", "Link",
              "ReadDir", "ReadDirPlus", "FsStat", "FsInfo", "PathConf", "Commit")
CLIENT_V4_METHODS = (
    "Null", "Read", "Write", "Commit", "Open", "OpenConfirm", "OpenNoattr", "OpenDowngrade",
    "Close", "Setattr", "FsInfo", "Renew", "SetClientID", "SetClientIDConfirm", "Lock", "Lockt",
    "Locku", "Access", "Getattr", "Lookup", "LookupRoot", "Remove", "Rename", "Link", "Symlink",
    "Create", "Pathconf", "StatFs", "ReadLink", "ReadDir", "ServerCaps", "DelegReturn", "GetACL",
    "SetACL", "FsLocations", "ReleaseLockowner", "Secinfo", "FsidPresent", "ExchangeID",
    "CreateSession", "DestroySession", "Sequence", "GetLeaseTime", "ReclaimComplete",
    "GetDeviceInfo", "LayoutGet", "LayoutCommit", "LayoutReturn", "SecinfoNoName",
    "TestStateID", "FreeStateID", "GetDeviceList", "BindConnToSession", "DestroyClientID",
    "Seek", "Allocate", "DeAllocate", "LayoutStats", "Clone")

PACKETS = Desc("node_nfs_packets_total",
               "Total NFSd network packets (sent+received) by protocol type.", "counter",
               ("protocol",))
CONNECTIONS = Desc("node_nfs_connections_total", "Total number of NFSd TCP connections.",
                   "counter")
RPCS = Desc("node_nfs_rpcs_total", "Total number of RPCs performed.", "counter")
RETRANSMISSIONS = Desc("node_nfs_rpc_retransmissions_total",
                       "Number of RPC transmissions performed.", "counter")
AUTH_REFRESHES = Desc("node_nfs_rpc_authentication_refreshes_total",
                      "Number of RPC authentication refreshes performed.", "counter")
REQUESTS = Desc("node_nfs_requests_total", "Number of NFS procedures invoked.", "counter",
                ("method", "proto"))
UINT = re.compile(r"[0-9]{1,20}")


def parse_uints(fields: list[str], where: str) -> list[int]:
    """strconv.ParseUint(s, 10, 64) of every field, else ValueError naming the line."""
    values = []
    for field in fields:
        if UINT.fullmatch(field) is None or int(field) >= 1 << 64:
            raise ValueError(f"{where}: {field[:30]!r} is no unsigned integer")
        values.append(int(field))
    return values


def rpc_lines(path: str, text: str, keys: frozenset[str],
              first_two: frozenset[str] = frozenset()) -> dict[str, list[int]]:
    """{key: counters} of the lines whose key is in `keys` (a `first_two` key keeps only its
    first two fields: nfsd's `th` line continues with floats). Any line with a key and no
    value, or a counter that is no unsigned integer, fails the whole file, as in procfs."""
    out: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}: line {number}: invalid metric line {line[:60]!r}")
        if parts[0] not in keys:
            continue  # a line of a newer kernel
        fields = parts[1:3] if parts[0] in first_two else parts[1:]
        out[parts[0]] = parse_uints(fields, f"{path}: line {number}")
    return out


def counted(values: list[int], where: str, minimum: int = 0, exact: int | None = None
            ) -> list[int]:
    """The counters after a `proc` line's leading count, which must equal their number."""
    count = values[0]
    rest = values[1:]
    if len(rest) != count or count < minimum or (exact is not None and count != exact):
        raise ValueError(f"{where}: invalid line: {count} announced, {len(rest)} given")
    return rest


def fixed(values: list[int], n: int, where: str) -> list[int]:
    if len(values) != n:
        raise ValueError(f"{where}: invalid line: {len(values)} values, expected {n}")
    return values


def add_methods(family: Family, proto: str, methods: tuple[str, ...], values: list[int]
                ) -> None:
    for method, value in zip(methods, values, strict=False):
        family.samples.append(((method, proto), value))


class NfsCollector(Collector):
    name = "nfs"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("net", "rpc", "nfs")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist: no NFS client") from None
        lines = rpc_lines(path, text, frozenset(("net", "rpc", "proc2", "proc3", "proc4")))
        if "net" in lines:
            _, udp, tcp, connect = fixed(lines["net"], 4, f"{path}: net")
            yield Family(PACKETS, [(("udp",), udp), (("tcp",), tcp)])
            yield Family(CONNECTIONS, [((), connect)])
        if "rpc" in lines:
            rpcs, retrans, refreshes = fixed(lines["rpc"], 3, f"{path}: rpc")
            yield Family(RPCS, [((), rpcs)])
            yield Family(RETRANSMISSIONS, [((), retrans)])
            yield Family(AUTH_REFRESHES, [((), refreshes)])
        requests = Family(REQUESTS)
        if "proc2" in lines:
            add_methods(requests, "2", V2_METHODS,
                        counted(lines["proc2"], f"{path}: proc2", len(V2_METHODS)))
        if "proc3" in lines:
            add_methods(requests, "3", V3_METHODS,
                        counted(lines["proc3"], f"{path}: proc3", len(V3_METHODS)))
        if "proc4" in lines:
            ops = counted(lines["proc4"], f"{path}: proc4")
            ops += [0] * (len(CLIENT_V4_METHODS) - len(ops))  # older kernels: procfs pads
            add_methods(requests, "4", CLIENT_V4_METHODS, ops)
        if requests.samples:
            yield requests
