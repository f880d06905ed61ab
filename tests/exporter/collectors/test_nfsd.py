"""nfsd: /proc/net/rpc/nfsd as node_exporter 1.5's NFS server families."""

from __future__ import annotations

from exporter.collectors.nfsd import NfsdCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples
from tests.exporter.parity import (
    E2E_HEADERS,
    E2E_SAMPLES,
    assert_absent,
    assert_fails_alone,
    e2e_config,
)

# Series later releases derive from lines and operations 1.5 does not report.
NEWER_METHODS = {"WdelegGetattr", "SetClientID", "SetClientIDConfirm"}


def test_fixture_matches_node_exporter():
    """Every e2e nfsd sample but the newer methods; 1.5 itself fails on this file (its procfs
    rejects the newer `wdeleg_getattr` line), which is skipped here instead."""
    text = collect_text(NfsdCollector(e2e_config()))
    ours = samples(text)
    theirs = {k: v for k, v in E2E_SAMPLES.items() if k[0].startswith("node_nfsd_")
              and dict(k[1]).get("method") not in NEWER_METHODS}
    assert ours == theirs
    assert len(theirs) > 80
    for family, header in headers(text).items():
        assert header == E2E_HEADERS[family]
    # proc4ops by operation number: VERIFY (37) and WRITE (38) of the fixture are 0; 1.5's
    # procfs, which lacked SETCLIENTID, put SETCLIENTID's 3 under Verify.
    assert ours[("node_nfsd_requests_total", (("method", "Verify"), ("proto", "4")))] == 0


def test_server_threads_line_with_floats(tmp_path):
    (tmp_path / "net" / "rpc").mkdir(parents=True)
    (tmp_path / "net" / "rpc" / "nfsd").write_text("th 8 0 0.000 0.000\n")
    got = samples(collect_text(NfsdCollector(fixture_config(tmp_path))))
    assert got == {("node_nfsd_server_threads", ()): 8}


def test_no_nfs_server_is_no_data(tmp_path):
    assert_absent(tmp_path, "nfsd", success=0)


def test_garbled_line_fails_only_nfsd(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "nfsd", {"proc/net/rpc/nfsd": "rc 0 6\nio x 1\n"})


def test_truncated_line_fails_only_nfsd(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "nfsd", {"proc/net/rpc/nfsd": "rc 0 6 18622\nfh\n"})
