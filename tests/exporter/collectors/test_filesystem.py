"""filesystem: mounts from a fake procfs, real statfs() on tmp dirs, node_exporter's filters,
and a statfs() that hangs (injected) costing one timeout, not every scrape."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from exporter.cli import configure
from exporter.collectors.filesystem import FilesystemCollector, FilesystemConfig
from tests.exporter.helpers import collect_text, fixture_config, samples


def write_mounts(procfs, lines, name="1/mounts"):
    path = procfs / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def labels(device, fstype, mountpoint):
    return (("device", device), ("fstype", fstype), ("mountpoint", mountpoint))


@pytest.fixture
def tree(tmp_path):
    procfs = tmp_path / "proc"
    data = tmp_path / "data dir"
    data.mkdir()
    write_mounts(procfs, [
        f"/dev/vda {tmp_path} ext4 rw,relatime 0 0",
        f"/dev/vdb {str(data).replace(' ', chr(92) + '040')} xfs ro,noatime 0 0",
        f"/dev/vda {tmp_path} ext4 rw,relatime 0 0",       # mounted twice: reported once
        "proc /proc proc rw 0 0",                          # excluded fs type and mount point
        "tmpfs /run/credentials/x tmpfs rw 0 0",           # excluded mount point
        "overlay /merged overlay rw 0 0",                  # excluded fs type
        "tmpfs /run tmpfs rw 0 0",                         # excluded by Debian's default
        "tmpfs /run/lock tmpfs rw 0 0",                    # excluded by Debian's default
        "/dev/sdb1 /mnt/usb vfat rw 0 0",                  # excluded by Debian's default
        "/dev/sr0 /media/cdrom udf ro 0 0",                # excluded by Debian's default
        "tmpfs /runner tmpfs rw 0 0",                      # /run only as a whole component
        f"/dev/gone {tmp_path}/missing ext4 rw 0 0",       # statfs fails: device_error
    ])
    return tmp_path, procfs, data


def test_sizes_filters_and_errors(tree):
    tmp_path, procfs, data = tree
    got = samples(collect_text(FilesystemCollector(fixture_config(procfs))))
    st = os.statvfs(tmp_path)
    root = labels("/dev/vda", "ext4", str(tmp_path))
    assert got[("node_filesystem_size_bytes", root)] == st.f_blocks * st.f_bsize
    assert got[("node_filesystem_files", root)] == st.f_files
    assert got[("node_filesystem_readonly", root)] == 0
    assert got[("node_filesystem_device_error", root)] == 0
    ro = labels("/dev/vdb", "xfs", str(data))  # \040 unescaped to a space
    assert got[("node_filesystem_readonly", ro)] == 1
    gone = labels("/dev/gone", "ext4", f"{tmp_path}/missing")
    assert got[("node_filesystem_device_error", gone)] == 1
    assert ("node_filesystem_size_bytes", gone) not in got  # not faked as 0
    mountpoints = {dict(k[1])["mountpoint"] for k in got}
    assert mountpoints == {str(tmp_path), str(data), f"{tmp_path}/missing", "/runner"}


def test_falls_back_to_proc_mounts(tmp_path):
    write_mounts(tmp_path, [f"/dev/x {tmp_path} ext4 rw 0 0"], name="mounts")
    got = samples(collect_text(FilesystemCollector(fixture_config(tmp_path))))
    assert got[("node_filesystem_device_error", labels("/dev/x", "ext4", str(tmp_path)))] == 0


def test_rootfs_prefix_is_stripped(tmp_path):
    host = tmp_path / "host"
    (host / "srv").mkdir(parents=True)
    write_mounts(tmp_path, [f"/dev/a {host} ext4 rw 0 0", f"/dev/b {host}/srv ext4 rw 0 0"])
    got = samples(collect_text(FilesystemCollector(fixture_config(tmp_path,
                                                                  rootfs=str(host)))))
    assert got[("node_filesystem_device_error", labels("/dev/a", "ext4", "/"))] == 0
    assert got[("node_filesystem_device_error", labels("/dev/b", "ext4", "/srv"))] == 0


def test_malformed_mounts_raises(tmp_path):
    write_mounts(tmp_path, ["/dev/x /mnt"])
    with pytest.raises(ValueError, match="malformed"):
        list(FilesystemCollector(fixture_config(tmp_path)).collect())


def test_hung_statfs_is_given_up_and_not_asked_again_until_it_returns(tmp_path):
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    slow.mkdir()
    fast.mkdir()
    write_mounts(tmp_path, [f"nfs:/x {slow} nfs rw 0 0", f"/dev/y {fast} ext4 rw 0 0"])
    release = threading.Event()
    calls: list[str] = []

    def statfs(path):
        calls.append(path)
        if path == str(slow):
            release.wait(60)  # a dead NFS server, until the test lets it answer
        return os.statvfs(path)

    config = dataclasses.replace(fixture_config(tmp_path),
                                 filesystem=FilesystemConfig(mount_timeout=0.2))
    collector = FilesystemCollector(config, statfs=statfs)
    hung, ok = labels("nfs:/x", "nfs", str(slow)), labels("/dev/y", "ext4", str(fast))
    try:
        # Each scrape returns while the call is still blocked: the hang is not the scrape's.
        for _ in range(3):
            got = samples(collect_text(collector))
            assert not release.is_set()
            assert got[("node_filesystem_device_error", hung)] == 1
            assert ("node_filesystem_size_bytes", hung) not in got
            # The mount listed after the hung one is still asked, on a fresh worker.
            assert got[("node_filesystem_device_error", ok)] == 0
        assert calls.count(str(slow)) == 1  # known stuck: not asked again
        release.set()
        deadline = time.monotonic() + 10
        while collector.runner.stuck and time.monotonic() < deadline:
            time.sleep(0.01)
        got = samples(collect_text(collector))
        assert got[("node_filesystem_device_error", hung)] == 0
        assert got[("node_filesystem_size_bytes", hung)] > 0
        assert calls.count(str(slow)) == 2
    finally:
        release.set()
        collector.close()


def test_psutil_backend_sees_the_root_filesystem():
    procfs = samples(collect_text(FilesystemCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(FilesystemCollector(fixture_config("/proc"),
                                                          backend="psutil")))
    root = [k for k in procfs if k[0] == "node_filesystem_size_bytes"
            and dict(k[1])["mountpoint"] == "/"]
    assert root and via_psutil[root[0]] == procfs[root[0]]


UNSHARE = shutil.which("unshare")


@pytest.mark.skipif(os.geteuid() != 0 or UNSHARE is None or not os.path.exists("/dev/fuse"),
                    reason="needs root, unshare(1) and /dev/fuse for a real hung mount")
def test_a_real_hung_fuse_mount_never_stalls_the_scrape(tmp_path):
    """statfs() on a FUSE mount whose daemon never answers blocks in the kernel; every
    scrape still returns (filesystem device_error 1, the other mount and loadavg served),
    the hung mount is asked once, and it is asked again once the call comes back. In a
    private mount namespace, so no other process on the host sees the mount."""
    repo = Path(__file__).resolve().parents[3]
    run = subprocess.run([UNSHARE, "--mount", "--propagation", "private", sys.executable,
                          "-m", "tests.exporter.collectors.hung_mount", str(tmp_path)],
                         cwd=repo, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    hung, fine = str(tmp_path / "hung"), str(tmp_path / "fine")
    for scrape in got["hanging"]:
        assert scrape["errors"] == {hung: 1, fine: 0}
        assert scrape["sized"] == [fine] and scrape["load"]
    assert got["stuck"] == [hung]
    # Back (failing with ENOTCONN now that the daemon is gone): asked again, not stuck.
    assert got["stuck_after"] == [] and got["after"]["errors"] == {hung: 1, fine: 0}
    assert "did not return within 0.2s" in run.stderr  # logged once, when it hung
    assert run.stderr.count("did not return") == 1


@pytest.mark.parametrize(("flag", "gone"), [
    ("--collector.filesystem.ignored-fs-types=^xfs$", "data dir"),
    ("--collector.filesystem.ignored-mount-points=data dir$", "data dir"),
])
def test_deprecated_spellings_replace_the_default_excludes(tree, flag, gone):
    """1.5's hidden spellings set the exclude regexes, so the default ones no longer apply
    (/run and the pseudo filesystems come back) and the given one does."""
    tmp_path, procfs, _ = tree
    config = configure([f"--path.procfs={procfs}", flag])
    mountpoints = {dict(k[1])["mountpoint"]
                   for k in samples(collect_text(FilesystemCollector(config)))}
    assert not any(m.endswith(gone) for m in mountpoints)
    assert str(tmp_path) in mountpoints
    assert "/run" in mountpoints or "/merged" in mountpoints
