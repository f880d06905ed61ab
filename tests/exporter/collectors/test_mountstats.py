"""mountstats: node_exporter 1.5's NFS families on its fixture, deduplication, UDP and 1.0
transports, procfs' parse errors, no file."""

from __future__ import annotations

import pytest

from exporter.collectors.mountstats import MountstatsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import (
    E2E_HEADERS,
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)

# Later releases add node_mountstats_nfs_mountpoint_info and a `transport` label (the index
# of the xprt: line) to the transport families; 1.5 has neither.
TRANSPORT = [f for f in E2E_HEADERS if f.startswith("node_mountstats_nfs_transport_")]

EVENTS = "events:\t" + " ".join(str(i) for i in range(27))
MOUNT = """device srv:/export mounted on /mnt/a with fstype nfs statvers={version}
\topts:\trw,vers=3
\tage:\t{age}
\tbytes:\t1 2 3 4 5 6 7 8
\t{events}
\txprt:\t{xprt}
\tper-op statistics
\t        NULL: 0 0 0 0 0 0 0 0
\t     GETATTR: 10 11 12 13 14 1500 2500 9007199254741992 0

"""
INFO = ("10 1 0:40 / /mnt/a rw - nfs srv:/export rw,vers=3,addr=10.0.0.1\n"
        "11 1 0:41 / /mnt/b rw - nfs srv:/export rw,vers=3,addr=10.0.0.1\n")


def make(tmp_path, stats: str, info: str = INFO) -> MountstatsCollector:
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountstats").write_text(stats)
    (tmp_path / "self" / "mountinfo").write_text(info)
    return MountstatsCollector(fixture_config(tmp_path))


def mount(version="1.1", age="120", xprt="tcp 832 1 2 3 4 5 6 7 8 9 10 11 12", events=EVENTS):
    return MOUNT.format(version=version, age=age, xprt=xprt, events=events)


def series(c) -> dict:
    return {(name, dict(labels).get("operation", "")): value
            for (name, labels), value in samples(collect_text(c)).items()}


def test_fixture_matches_node_exporter_1_5():
    assert_parity(MountstatsCollector(e2e_config()), ("node_mountstats_",),
                  not_in_1_5=["node_mountstats_nfs_mountpoint_info"],
                  newer_labels={name: ["transport"] for name in TRANSPORT})


def test_off_by_default():
    assert_off_by_default("mountstats")


def test_a_tcp_mount(tmp_path):
    c = make(tmp_path, mount())
    labels = {labels for _, labels in samples(collect_text(c))}
    base = (("export", "srv:/export"), ("mountaddr", "10.0.0.1"), ("protocol", "tcp"))
    ops = {tuple(sorted((*base, ("operation", op)))) for op in ("NULL", "GETATTR")}
    assert labels == {base} | ops
    got = series(c)
    assert got[("node_mountstats_nfs_age_seconds_total", "")] == 120
    assert got[("node_mountstats_nfs_direct_write_bytes_total", "")] == 4
    assert got[("node_mountstats_nfs_write_pages_total", "")] == 8
    assert got[("node_mountstats_nfs_transport_bind_total", "")] == 1
    assert got[("node_mountstats_nfs_transport_idle_time_seconds", "")] == 4
    assert got[("node_mountstats_nfs_transport_pending_queue_total", "")] == 12
    assert got[("node_mountstats_nfs_event_vfs_file_release_total", "")] == 17
    assert got[("node_mountstats_nfs_event_truncation_total", "")] == 19  # 18 is not reported
    assert got[("node_mountstats_nfs_event_pnfs_write_total", "")] == 26
    assert got[("node_mountstats_nfs_operations_requests_total", "GETATTR")] == 10
    assert got[("node_mountstats_nfs_operations_queue_time_seconds_total", "GETATTR")] == 1.5
    # Milliseconds beyond 2^53 wrap, as node_exporter keeps them exact in a float64.
    assert got[("node_mountstats_nfs_operations_request_time_seconds_total", "GETATTR")] == 1


def test_a_udp_mount_has_no_connection_counters(tmp_path):
    got = series(make(tmp_path, mount(version="1.0", xprt="udp 832 1 5 6 7 8 9")))
    assert got[("node_mountstats_nfs_transport_bind_total", "")] == 1
    assert got[("node_mountstats_nfs_transport_connect_total", "")] == 0
    assert got[("node_mountstats_nfs_transport_sends_total", "")] == 5
    assert got[("node_mountstats_nfs_transport_backlog_queue_total", "")] == 9


def test_a_second_mount_of_the_same_export_is_left_out(tmp_path):
    text = mount() + mount().replace("/mnt/a", "/mnt/b").replace("age:\t120", "age:\t7")
    assert series(make(tmp_path, text))[("node_mountstats_nfs_age_seconds_total", "")] == 120


def test_other_filesystems_are_skipped(tmp_path):
    text = "device /dev/sda1 mounted on / with fstype ext4\n" + mount()
    info = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" + INFO
    got = samples(collect_text(make(tmp_path, text, info)))
    assert {dict(k)["mountaddr"] for _, k in got} == {"10.0.0.1"}
    (tmp_path / "b").mkdir()
    assert collect_text(make(tmp_path / "b", "device /dev/sda1 mounted on / with fstype ext4\n",
                             "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")) == ""


@pytest.mark.parametrize("text,match", [
    (mount(xprt="tcp 1 2 3"), "transport fields"),
    (mount(xprt="rdma 0 0 0 0 0 0 0 0 0 0 0 0 0 0"), "protocol"),
    (mount(version="2.0"), "version"),
    (mount(events="events:\t1 2 3"), "events"),
    (mount(age="soon"), "age"),
    (mount().replace("bytes:\t1", "bytes:\t-1"), "unsigned"),
    (mount().replace("NULL: 0 0 0 0 0 0 0 0", "NULL: 0 0"), "per-operations"),
    ("device x mounted at /y with fstype nfs\n", "device entry"),
    ("device x mounted on /y with fstype ext4 statvers=1.1\n", "fstype"),
])
def test_malformed_mountstats_fail(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        list(make(tmp_path, text).collect())


@pytest.mark.parametrize("info", ["10 1 0:40 / /mnt/a rw nfs srv:/export rw\n",
                                  "x 1 0:40 / /mnt/a rw - nfs srv:/export rw\n"])
def test_malformed_mountinfo_fails(tmp_path, info):
    with pytest.raises(ValueError, match="mountinfo"):
        list(make(tmp_path, mount(), info).collect())


def test_garbled_file_fails_only_mountstats(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "mountstats",
                       {"proc/self/mountstats": mount(events="events:\t1"),
                        "proc/self/mountinfo": INFO})


def test_no_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "mountstats", 0)
