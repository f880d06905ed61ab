"""Run inside a private mount namespace (`unshare --mount`) by test_filesystem.py: mounts a
real FUSE filesystem whose daemon never answers (nobody reads /dev/fuse, as with a daemon
that is SIGSTOPped or a dead NFS server), scrapes the exporter three times while statfs() on
it hangs in the kernel, then lets the mount fail (closing /dev/fuse aborts the connection)
and scrapes again. Prints one JSON object with what each scrape reported."""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

from exporter.cli import configure
from exporter.registry import Registry
from tests.exporter.helpers import samples


def mount_hung_fuse(target: Path) -> int:
    """A FUSE mount at `target` and its /dev/fuse descriptor, which nothing reads."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"hung", str(target).encode(), b"fuse.hung", 0, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount fuse: {os.strerror(err)}")
    return fd


def scrape(registry: Registry) -> dict:
    got = samples(registry.render())
    return {"errors": {dict(k[1])["mountpoint"]: v for k, v in got.items()
                       if k[0] == "node_filesystem_device_error"},
            "sized": sorted(dict(k[1])["mountpoint"] for k in got
                            if k[0] == "node_filesystem_size_bytes"),
            "load": ("node_load1", ()) in got}


def main(base: Path) -> None:
    hung, fine, proc = base / "hung", base / "fine", base / "proc"
    for d in (hung, fine, proc):
        d.mkdir()
    (proc / "loadavg").write_text("0.5 0.4 0.3 1/100 42\n")
    (proc / "mounts").write_text(f"hung {hung} fuse.hung rw 0 0\n/dev/x {fine} ext4 rw 0 0\n")
    fd = mount_hung_fuse(hung)
    config = configure([f"--path.procfs={proc}", "--collector.disable-defaults",
                        "--collector.filesystem", "--collector.loadavg",
                        "--collector.filesystem.mount-timeout=200ms"])
    registry = Registry(config)
    runner = registry.collectors["filesystem"].runner
    hanging = [scrape(registry) for _ in range(3)]
    stuck_while_hanging = sorted(runner.stuck)
    os.close(fd)  # the daemon is gone: the kernel fails the pending statfs (ENOTCONN)
    deadline = time.monotonic() + 30
    while runner.stuck and time.monotonic() < deadline:
        time.sleep(0.01)
    after = scrape(registry)
    registry.close()
    print(json.dumps({"hanging": hanging, "stuck": stuck_while_hanging, "after": after,
                      "stuck_after": sorted(runner.stuck)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
