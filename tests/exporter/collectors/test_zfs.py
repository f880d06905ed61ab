"""zfs: /proc/spl/kstat/zfs as node_exporter 1.5's zfs families."""

from __future__ import annotations

import shutil

from exporter.collectors.zfs import ZfsCollector
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, headers, samples
from tests.exporter.parity import (
    E2E_HEADERS,
    E2E_SAMPLES,
    assert_absent,
    assert_fails_alone,
    e2e_config,
)

# e2e-output.txt's zfs families 1.5 does not print on the same tree: later releases read
# `dbufstats` (1.5: `dbuf_stats`, absent here) and int64 kstats such as this one.
NEWER_PREFIXES = ("node_zfs_dbuf_", "node_zfs_arc_memory_available_bytes")
NEWER_STATE = "suspended"  # a pool state later releases added to node_zfs_zpool_state


def test_fixture_matches_node_exporter():
    text = collect_text(ZfsCollector(e2e_config()))
    ours = samples(text)
    theirs = {k: v for k, v in E2E_SAMPLES.items()
              if k[0].startswith("node_zfs_") and not k[0].startswith(NEWER_PREFIXES)
              and dict(k[1]).get("state") != NEWER_STATE}
    assert ours == theirs
    assert len(theirs) > 250
    assert {f for f in E2E_HEADERS if f.startswith("node_zfs_")
            and not f.startswith(NEWER_PREFIXES)} == set(headers(text))
    for family, header in headers(text).items():
        assert header == E2E_HEADERS[family]
    # The pool2 fixture is SUSPENDED, which 1.5 does not list: every 1.5 state is 0.
    assert not any(v for (name, labels), v in ours.items()
                   if name == "node_zfs_zpool_state" and ("zpool", "pool2") in labels)


def test_pools_come_and_go(tmp_path):
    kstat = tmp_path / "spl" / "kstat" / "zfs"
    shutil.copytree(FIXTURES / "proc/spl/kstat/zfs", kstat)
    collector = ZfsCollector(fixture_config(tmp_path))
    assert ("node_zfs_zpool_state", (("state", "online"), ("zpool", "pool1"))) in \
        samples(collect_text(collector))
    shutil.rmtree(kstat / "pool1")
    assert not any(("zpool", "pool1") in labels for _, labels in samples(collect_text(collector)))


def test_no_zfs_is_no_data(tmp_path):
    assert_absent(tmp_path, "zfs", success=0)


def test_garbled_kstat_fails_only_zfs(tmp_path, caplog):
    text = "6 1 0x01 3 144 0 0\nname type data\nhits 4 eight\n"
    assert_fails_alone(tmp_path, caplog, "zfs", {"proc/spl/kstat/zfs/arcstats": text})


def test_headless_kstat_fails_only_zfs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "zfs", {"proc/spl/kstat/zfs/zil": "zil_commit 4 1\n"})
