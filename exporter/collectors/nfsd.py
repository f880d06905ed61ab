"""`nfsd`: NFS server statistics from /proc/net/rpc/nfsd, as node_exporter 1.5 reports them.

Reply cache, stale file handles, disk bytes, threads, read-ahead cache, packets, RPC errors
and per-procedure request counts (methods named as procfs' Go fields, as in 1.5). 1.5 fails
the whole collector on a line it does not know, such as newer kernels' `wdeleg_getattr`;
here such lines are skipped, and the series later releases derive from them (method
`WdelegGetattr`, `SetClientID`, `SetClientIDConfirm`) are not reported, as in 1.5. A line
the file lacks leaves its families out. No file (nfsd not loaded): no families, success 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.collectors.nfs import V2_METHODS, V3_METHODS, counted, fixed, rpc_lines
from exporter.exposition import Desc, Family, MetricFamily

# proc4ops columns (after the count) by NFSv4 operation number (RFC 7530: 3 ACCESS ...
# 35 SETCLIENTID, 36 SETCLIENTID_CONFIRM, 37 VERIFY, 38 WRITE, 39 RELEASE_LOCKOWNER).
# procfs 0.8, which 1.5 uses, lacked 35 and 36, so 1.5 labels op 35 `Verify`, 36 `Write` and
# 37 `RelLockOwner`; the values here are the kernel's for each name (as later releases have
# them), and the two SETCLIENTID series later releases added are left out, as in 1.5.
V4_OPS = ("Op0Unused", "Op1Unused", "Op2Future", "Access", "Close", "Commit", "Create",
          "DelegPurge", "DelegReturn", "GetAttr", "GetFH", "Link", "Lock", "Lockt", "Locku",
          "Lookup", "LookupRoot", "Nverify", "Open", "OpenAttr", "OpenConfirm", "OpenDgrd",
          "PutFH", "PutPubFH", "PutRootFH", "Read", "ReadDir", "ReadLink", "Remove", "Rename",
          "Renew", "RestoreFH", "SaveFH", "SecInfo", "SetAttr", "SetClientID",
          "SetClientIDConfirm", "Verify", "Write", "RelLockOwner")
V4_REPORTED = ("Access", "Close", "Commit", "Create", "DelegPurge", "DelegReturn", "GetAttr",
               "GetFH", "Link", "Lock", "Lockt", "Locku", "Lookup", "LookupRoot", "Nverify",
               "Open", "OpenAttr", "OpenConfirm", "OpenDgrd", "PutFH", "Read", "ReadDir",
               "ReadLink", "Remove", "Rename", "Renew", "RestoreFH", "SaveFH", "SecInfo",
               "SetAttr", "Verify", "Write", "RelLockOwner")
MIN_V4_OPS = 39
KEYS = frozenset(("rc", "fh", "io", "th", "ra", "net", "rpc", "proc2", "proc3", "proc4",
                  "proc4ops"))


def _d(name: str, help: str, type: str = "counter", labels: tuple[str, ...] = ()) -> Desc:
    return Desc(f"node_nfsd_{name}", help, type, labels)


RC_HITS = _d("reply_cache_hits_total",
             "Total number of NFSd Reply Cache hits (client lost server response).")
RC_MISSES = _d("reply_cache_misses_total", "Total number of NFSd Reply Cache an operation that "
               "requires caching (idempotent).")
RC_NOCACHE = _d("reply_cache_nocache_total",
                "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).")
FH_STALE = _d("file_handles_stale_total", "Total number of NFSd stale file handles")
READ = _d("disk_bytes_read_total", "Total NFSd bytes read.")
WRITTEN = _d("disk_bytes_written_total", "Total NFSd bytes written.")
THREADS = _d("server_threads", "Total number of NFSd kernel threads that are running.", "gauge")
RA_SIZE = _d("read_ahead_cache_size_blocks", "How large the read ahead cache is in blocks.",
             "gauge")
RA_NOT_FOUND = _d("read_ahead_cache_not_found_total",
                  "Total number of NFSd read ahead cache not found.")
PACKETS = _d("packets_total", "Total NFSd network packets (sent+received) by protocol type.",
             labels=("proto",))
CONNECTIONS = _d("connections_total", "Total number of NFSd TCP connections.")
RPC_ERRORS = _d("rpc_errors_total", "Total number of NFSd RPC errors by error type.",
                labels=("error",))
SERVER_RPCS = _d("server_rpcs_total", "Total number of NFSd RPCs.")
REQUESTS = _d("requests_total", "Total number NFSd Requests by method and protocol.",
              labels=("method", "proto"))


class NfsdCollector(Collector):
    name = "nfsd"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("net", "rpc", "nfsd")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist: no NFS server") from None
        lines = rpc_lines(path, text, KEYS, first_two=frozenset(("th",)))
        yield from self.caches(path, lines)
        if "net" in lines:
            _, udp, tcp, connect = fixed(lines["net"], 4, f"{path}: net")
            yield Family(PACKETS, [(("udp",), udp), (("tcp",), tcp)])
            yield Family(CONNECTIONS, [((), connect)])
        if "rpc" in lines:
            count, _, bad_fmt, bad_auth, bad_cint = fixed(lines["rpc"], 5, f"{path}: rpc")
            yield Family(RPC_ERRORS, [(("fmt",), bad_fmt), (("auth",), bad_auth),
                                      (("cInt",), bad_cint)])
            yield Family(SERVER_RPCS, [((), count)])
        requests = self.requests(path, lines)
        if requests.samples:
            yield requests

    def caches(self, path: str, lines: dict[str, list[int]]) -> Iterator[Family]:
        """Reply cache, file handles, disk I/O, threads and read-ahead cache."""
        if "rc" in lines:
            hits, misses, nocache = fixed(lines["rc"], 3, f"{path}: rc")
            yield Family(RC_HITS, [((), hits)])
            yield Family(RC_MISSES, [((), misses)])
            yield Family(RC_NOCACHE, [((), nocache)])
        if "fh" in lines:
            # The other four columns are unused by the kernel; 1.5 leaves them out.
            yield Family(FH_STALE, [((), fixed(lines["fh"], 5, f"{path}: fh")[0])])
        if "io" in lines:
            read, written = fixed(lines["io"], 2, f"{path}: io")
            yield Family(READ, [((), read)])
            yield Family(WRITTEN, [((), written)])
        if "th" in lines:
            yield Family(THREADS, [((), fixed(lines["th"], 2, f"{path}: th")[0])])
        if "ra" in lines:
            ra = fixed(lines["ra"], 12, f"{path}: ra")
            yield Family(RA_SIZE, [((), ra[0])])
            yield Family(RA_NOT_FOUND, [((), ra[11])])

    def requests(self, path: str, lines: dict[str, list[int]]) -> Family:
        """node_nfsd_requests_total: v2 and v3 procedures but Null, and v4 operations."""
        requests = Family(REQUESTS)
        add = requests.samples.append
        for key, proto, methods in (("proc2", "2", V2_METHODS), ("proc3", "3", V3_METHODS)):
            if key in lines:
                values = counted(lines[key], f"{path}: {key}", len(methods))
                for method, value in zip(methods[1:], values[1:], strict=False):
                    add(((method, proto), value))
        if "proc4" in lines:
            counted(lines["proc4"], f"{path}: proc4", exact=2)  # checked, as procfs does
        if "proc4ops" in lines:
            ops = dict(zip(V4_OPS, counted(lines["proc4ops"], f"{path}: proc4ops", MIN_V4_OPS),
                           strict=False))
            for op in V4_REPORTED:
                if op in ops:  # a kernel listing 39 operations has no RELEASE_LOCKOWNER
                    add(((op, "4"), ops[op]))
        return requests
