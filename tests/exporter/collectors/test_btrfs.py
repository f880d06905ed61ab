"""btrfs: /sys/fs/btrfs and the filesystem ioctls, as node_exporter 1.5's btrfs families."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

import pytest

from exporter.collectors.btrfs import BtrfsCollector
from tests import servers
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, headers, samples
from tests.exporter.parity import assert_fails_alone, assert_parity, e2e_config

# Later releases also read each filesystem's commit_stats.
NEWER = ("node_btrfs_commit_seconds_total", "node_btrfs_commits_total",
         "node_btrfs_last_commit_seconds", "node_btrfs_max_commit_seconds")
FS = "fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d"


def test_fixture_matches_node_exporter():
    """The fixture has no mount points, so device sizes come from sysfs, as in the e2e run."""
    got = assert_parity(BtrfsCollector(e2e_config()), ("node_btrfs_",), not_in_1_5=NEWER)
    # raid5 over the 4 devices of 7f07...: 4/3 of the data is written.
    assert got[("node_btrfs_allocation_ratio", (
        ("block_group_type", "data"), ("mode", "raid5"),
        ("uuid", "7f07c59f-6136-449c-ab87-e1cf2328731b")))] == 4 / 3


def test_missing_attribute_leaves_its_series_out(tmp_path):
    shutil.copytree(FIXTURES / "sys" / FS, tmp_path / FS, symlinks=True)
    os.unlink(tmp_path / FS / "allocation" / "global_rsv_size")
    got = samples(collect_text(BtrfsCollector(fixture_config(sysfs=tmp_path))))
    assert not any(name == "node_btrfs_global_rsv_size_bytes" for name, _ in got)
    assert ("node_btrfs_info", (("label", "fixture"),
                                ("uuid", "0abb23a9-579b-43e6-ad30-227ef47fcb9d"))) in got


def test_garbled_attribute_fails_only_btrfs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "btrfs",
                       {f"sys/{FS}/allocation/data/bytes_reserved": "lots\n"},
                       copy=[f"sys/{FS}"])


def test_no_btrfs_is_no_family(tmp_path):
    assert collect_text(BtrfsCollector(fixture_config(sysfs=tmp_path))) == ""


def unmount(mnt) -> None:
    """Unmount, retrying while another process on the host (any exporter's filesystem
    collector stats every mount point) holds it busy; detach lazily as the last resort."""
    for _ in range(50):
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(mnt)], check=True)


@contextlib.contextmanager
def loop_btrfs(tmp_path):
    """A real 128 MiB btrfs on a loop device, mounted under tmp_path; skip where that cannot
    be done (not root, no btrfs-progs, no loop devices)."""
    if os.geteuid() != 0 or not shutil.which("mkfs.btrfs") or not shutil.which("losetup"):
        pytest.skip("needs root, btrfs-progs and losetup")
    image, mnt = tmp_path / "btrfs.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(128 << 20)
    subprocess.run(["mkfs.btrfs", "-q", "-L", "promwire-test", str(image)], check=True,
                   capture_output=True)
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True,
                          text=True)
    if loop.returncode != 0:
        pytest.skip(f"no loop device: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    try:
        if subprocess.run(["mount", "-t", "btrfs", device, str(mnt)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount btrfs here")
        try:
            yield mnt
        finally:
            unmount(mnt)
    finally:
        subprocess.run(["losetup", "-d", device], check=True)


@pytest.mark.integration
def test_mounted_btrfs_matches_node_exporter(tmp_path):
    """On a real mounted btrfs both use the ioctls: device sizes, unused bytes and error
    counters labelled with the device UUID, and the same sysfs families."""
    with loop_btrfs(tmp_path):
        flags = ["--collector.disable-defaults", "--collector.btrfs"]
        with servers.exporter_pair(tmp_path, *flags) as (ours, theirs):
            mine = servers.http_get(f"{ours.url}/metrics")[1].decode()
            reference = servers.http_get(f"{theirs.url}/metrics")[1].decode()
    def btrfs(text):
        return {k: v for k, v in samples(text).items() if k[0].startswith("node_btrfs_")}
    got = btrfs(mine)
    assert got == btrfs(reference)
    assert any(name == "node_btrfs_device_errors_total" for name, _ in got)
    assert {f: h for f, h in headers(mine).items() if f.startswith("node_btrfs_")} == \
        {f: h for f, h in headers(reference).items() if f.startswith("node_btrfs_")}
