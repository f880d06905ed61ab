"""`filesystem`: size, free, available, inodes and read-only state per mounted filesystem.

Mounts come from /proc/1/mounts (/proc/mounts when hidepid hides PID 1), minus the pseudo
filesystems and mount points Debian's node_exporter leaves out by default (its options below).
statfs() runs on a worker thread: a mount that does not answer within
`filesystem.mount_timeout` (a dead NFS server) is reported with `node_filesystem_device_error 1`
and not asked again until that call returns, so it delays one scrape at most (by the timeout,
once per newly hung mount, as 1.5), never all of them; the mounts listed after it are still
asked, on a fresh worker. tests/exporter/collectors/test_filesystem.py hangs a real FUSE mount.
1.5's deprecated --collector.filesystem.ignored-mount-points / ignored-fs-types set the two
excludes (exporter.config resolves them).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from exporter.collectors.base import Collector, Matcher, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

log = logging.getLogger("exporter.filesystem")

LABELS = ("device", "fstype", "mountpoint")


def _d(name: str, help: str) -> Desc:
    return Desc(f"node_filesystem_{name}", help, "gauge", LABELS)


SIZE = _d("size_bytes", "Filesystem size in bytes.")
FREE = _d("free_bytes", "Filesystem free space in bytes.")
AVAIL = _d("avail_bytes", "Filesystem space available to non-root users in bytes.")
FILES = _d("files", "Filesystem total file nodes.")
FILES_FREE = _d("files_free", "Filesystem total free file nodes.")
READONLY = _d("readonly", "Filesystem read-only status.")
DEVICE_ERROR = _d("device_error",
                  "Whether an error occurred while getting statistics for the given device.")


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    options: str


def unescape(field: str) -> str:
    """Mount points in /proc/mounts escape space and tab as in fstab(5)."""
    return field.replace("\\040", " ").replace("\\011", "\t")


class _Worker(threading.Thread):
    """Runs batches of statvfs() calls; abandoned (and replaced) when one hangs."""

    def __init__(self, runner: StatfsRunner) -> None:
        super().__init__(name="statfs", daemon=True)
        self.runner = runner
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.current: str | None = None
        self.abandoned = False

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            paths, results, done = job
            for mountpoint, path in paths:
                self.current = mountpoint
                try:
                    results[mountpoint] = self.runner.call(path)
                except OSError as exc:
                    results[mountpoint] = exc
                self.current = None
                if self.abandoned:
                    self.runner.recovered(mountpoint)
                    return
            done.set()


class StatfsRunner:
    """statvfs() for a list of mount points, waiting `timeout` seconds per hung one."""

    def __init__(self, timeout: float, call: Callable[[str], os.statvfs_result] = os.statvfs
                 ) -> None:
        self.timeout = timeout
        self.call = call  # os.statvfs; tests inject one that hangs
        self.stuck: set[str] = set()
        self.lock = threading.Lock()
        self.worker: _Worker | None = None

    def statfs(self, paths: list[tuple[str, str]]) -> dict[str, os.statvfs_result | OSError]:
        """Results by mount point; a mount point missing from them hung (device_error 1).
        The mounts after a hung one are asked again on a fresh worker, so a hang costs
        `timeout` once per newly hung mount (as 1.5's per-mount timeout) and never hides
        the healthy mounts listed after it."""
        results: dict[str, os.statvfs_result | OSError] = {}
        while paths:
            hung = self._batch(paths, results)
            if hung is None:
                break
            paths = [(m, p) for m, p in paths if m not in results and m != hung]
        return dict(results)

    def _batch(self, paths: list[tuple[str, str]],
               results: dict[str, os.statvfs_result | OSError]) -> str | None:
        """Run `paths` on the worker into `results`; the mount point that hung, or None."""
        if self.worker is None:
            self.worker = _Worker(self)
            self.worker.start()
        done = threading.Event()
        self.worker.jobs.put((paths, results, done))
        if done.wait(self.timeout):
            return None
        worker, self.worker = self.worker, None
        worker.abandoned = True
        hung = worker.current
        if hung is None:  # between two calls as the wait gave up: it stops after one more
            return None
        with self.lock:
            self.stuck.add(hung)
        log.warning("statfs(%s) did not return within %ss: reporting device_error until "
                    "it does", hung, self.timeout)
        return hung

    def recovered(self, mountpoint: str) -> None:
        with self.lock:
            if mountpoint not in self.stuck:
                return
            self.stuck.discard(mountpoint)
        log.info("mount point %s answers statfs again", mountpoint)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.jobs.put(None)
            self.worker = None


# The effective defaults of Debian's prometheus-node-exporter (1.5), the binary users compare
# with (`prometheus-node-exporter --help`; tests/exporter/test_live.py checks they still agree).
# Debian patches upstream's mount-point default to leave out all of /run, /mnt and /media
# (upstream: only /run/credentials/.+); the fs-types one is upstream's unchanged.
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    r"iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    r"sysfs|tracefs)$")


@dataclass(frozen=True)
class FilesystemConfig:
    mount_points_exclude: str = option("--collector.filesystem.mount-points-exclude",
                                       DEFAULT_MOUNT_POINTS_EXCLUDE,
                                       "regex of mount points to leave out", regex=True)
    fs_types_exclude: str = option("--collector.filesystem.fs-types-exclude",
                                   DEFAULT_FS_TYPES_EXCLUDE,
                                   "regex of filesystem types to leave out", regex=True)
    ignored_mount_points: str = option(
        "--collector.filesystem.ignored-mount-points", "",
        "DEPRECATED: use --collector.filesystem.mount-points-exclude", regex=True,
        replaces="mount_points_exclude")
    ignored_fs_types: str = option(
        "--collector.filesystem.ignored-fs-types", "",
        "DEPRECATED: use --collector.filesystem.fs-types-exclude", regex=True,
        replaces="fs_types_exclude")
    # Seconds a statfs() may take before the mount is reported with device_error 1 and left
    # alone until that call returns.
    mount_timeout: float = option("--collector.filesystem.mount-timeout", 5.0,
                                  "seconds before a hung statfs() is given up", positive=True)


class FilesystemCollector(Collector):
    name = "filesystem"
    options = FilesystemConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd")  # needs statvfs()
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None,
                 statfs: Callable[[str], os.statvfs_result] = os.statvfs) -> None:
        super().__init__(config, backend)
        self.mount_excluded = Matcher(config.filesystem.mount_points_exclude)
        self.type_excluded = Matcher(config.filesystem.fs_types_exclude)
        self.runner = StatfsRunner(config.filesystem.mount_timeout, statfs)

    def close(self) -> None:
        self.runner.close()

    def mounts(self) -> list[Mount]:
        return self.by_backend("mounts")()

    def mounts_psutil(self) -> list[Mount]:
        return [Mount(p.device, p.mountpoint, p.fstype, p.opts)
                for p in self.psutil().disk_partitions(all=True)]

    def mounts_procfs(self) -> list[Mount]:
        try:
            text = read_text(self.proc("1", "mounts"))
        except FileNotFoundError:
            text = read_text(self.proc("mounts"))
        mounts = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 4:
                raise ValueError(f"malformed mount point information: {line!r}")
            mounts.append(Mount(parts[0], self.strip_rootfs(unescape(parts[1])), parts[2],
                                parts[3]))
        return mounts

    def strip_rootfs(self, mountpoint: str) -> str:
        if self.rootfs in ("/", ""):
            return mountpoint
        root = self.rootfs.rstrip("/")
        if mountpoint == root:
            return "/"
        return mountpoint[len(root):] if mountpoint.startswith(root + "/") else mountpoint

    def wanted(self, mount: Mount) -> bool:
        return not (self.mount_excluded(mount.mountpoint) or self.type_excluded(mount.fstype))

    def collect(self) -> Iterator[MetricFamily]:
        seen: set[tuple[str, str, str]] = set()
        chosen: list[tuple[tuple[str, str, str], Mount]] = []
        for mount in self.mounts():
            if not self.wanted(mount):
                continue
            key = (mount.device, mount.fstype, mount.mountpoint)
            if key in seen:
                continue  # the same filesystem mounted twice at one place: report it once
            seen.add(key)
            chosen.append((key, mount))
        stuck = self.runner.stuck
        paths = [(m.mountpoint, os.path.join(self.rootfs, m.mountpoint.lstrip("/")))
                 for _, m in chosen if m.mountpoint not in stuck]
        results = self.runner.statfs(paths) if paths else {}
        size, free, avail, files, files_free, readonly, errors = (
            Family(SIZE), Family(FREE), Family(AVAIL), Family(FILES), Family(FILES_FREE),
            Family(READONLY), Family(DEVICE_ERROR))
        for key, mount in chosen:
            st = results.get(mount.mountpoint)
            if not isinstance(st, os.statvfs_result):
                if isinstance(st, OSError):
                    log.debug("statfs(%s): %s", mount.mountpoint, st)
                errors.samples.append((key, 1))
                continue
            errors.samples.append((key, 0))
            # f_bsize, as node_exporter: on Linux it equals f_frsize for every real filesystem.
            bsize = float(st.f_bsize)
            size.samples.append((key, st.f_blocks * bsize))
            free.samples.append((key, st.f_bfree * bsize))
            avail.samples.append((key, st.f_bavail * bsize))
            files.samples.append((key, st.f_files))
            files_free.samples.append((key, st.f_ffree))
            readonly.samples.append((key, 1 if "ro" in mount.options.split(",") else 0))
        for fam in (avail, errors, files, files_free, free, readonly, size):
            if fam.samples:
                yield fam
