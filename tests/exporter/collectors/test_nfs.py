"""nfs: /proc/net/rpc/nfs as node_exporter 1.5's NFS client families."""

from __future__ import annotations

from exporter.collectors.nfs import NfsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    got = assert_parity(NfsCollector(e2e_config()), ("node_nfs_",))
    # The fixture's proc4 line lists 48 operations: the other 11 are 0, as procfs pads them.
    assert got[("node_nfs_requests_total", (("method", "Clone"), ("proto", "4")))] == 0
    assert got[("node_nfs_requests_total", (("method", "ReadDirPlus"), ("proto", "3")))] == 92385


def test_missing_lines_leave_their_series_out_and_newer_lines_are_skipped(tmp_path):
    (tmp_path / "net" / "rpc").mkdir(parents=True)
    (tmp_path / "net" / "rpc" / "nfs").write_text("net 1 2 3 4\nrpc 5 6 7\nnewline 8\n")
    got = samples(collect_text(NfsCollector(fixture_config(tmp_path))))
    assert got == {("node_nfs_packets_total", (("protocol", "udp"),)): 2,
                   ("node_nfs_packets_total", (("protocol", "tcp"),)): 3,
                   ("node_nfs_connections_total", ()): 4,
                   ("node_nfs_rpcs_total", ()): 5,
                   ("node_nfs_rpc_retransmissions_total", ()): 6,
                   ("node_nfs_rpc_authentication_refreshes_total", ()): 7}


def test_no_nfs_client_is_no_data(tmp_path):
    assert_absent(tmp_path, "nfs", success=0)


def test_garbled_counter_fails_only_nfs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "nfs", {"proc/net/rpc/nfs": "net 70 -70 69 45\n"})


def test_proc_count_that_disagrees_fails_only_nfs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "nfs", {"proc/net/rpc/nfs": "proc3 22 0 1 2\n"})
