"""tcpstat: the kernel's sock_diag answer in a network namespace of our own (so no other
process' sockets count), the IPv6 condition, and netlink datagrams the parser must refuse.

No fixture file can hold a netlink dump; tests/exporter/test_live.py compares the family with
node_exporter's on this host.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exporter.collectors.tcpstat import HEADER, MESSAGE, NLMSG_DONE, NLMSG_ERROR, count
from tests.exporter.parity import assert_off_by_default

ROOT = Path(__file__).resolve().parents[3]
# Run in a fresh network namespace: two listeners (IPv4 with backlog 5, IPv6-only with
# backlog 7), one connection with 10000 bytes its server end has not read.
SCRIPT = textwrap.dedent("""
    import fcntl, json, socket, struct, sys, termios, time
    from exporter.collectors.tcpstat import TcpstatCollector
    from tests.exporter.helpers import collect_text, fixture_config, samples
    v4 = socket.socket(); v4.bind(("127.0.0.1", 0)); v4.listen(5)
    v6 = socket.socket(socket.AF_INET6)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.bind(("::1", 0)); v6.listen(7)
    client = socket.create_connection(v4.getsockname())
    server, _ = v4.accept()
    client.sendall(b"x" * 10000)
    for _ in range(1000):  # until the bytes are in the server's receive queue
        queued = struct.unpack("i", fcntl.ioctl(server, termios.FIONREAD, b"0000"))[0]
        if queued == 10000:
            break
        time.sleep(0.01)
    out = {}
    for procfs in sys.argv[1:]:
        text = collect_text(TcpstatCollector(fixture_config(procfs)))
        out[procfs] = {dict(k)["state"]: v for (_, k), v in samples(text).items()}
    print(json.dumps(out))
""")


def in_own_netns(*procfs: str) -> dict:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("unshare and ip are needed (util-linux, iproute2)")
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1" "$@"',
         sys.executable, SCRIPT, *procfs],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sockets_per_state_and_queued_bytes(tmp_path):
    (tmp_path / "net").mkdir()  # a procfs without net/tcp6: IPv6 is not asked for
    got = in_own_netns("/proc", str(tmp_path))
    # LISTEN sockets report their backlog as the send queue, as node_exporter sums it too.
    assert got["/proc"] == {"listen": 2, "established": 2, "rx_queued_bytes": 10000,
                            "tx_queued_bytes": 12}
    assert got[str(tmp_path)] == {"listen": 1, "established": 2, "rx_queued_bytes": 10000,
                                  "tx_queued_bytes": 5}


def test_off_by_default():
    assert_off_by_default("tcpstat")


def message(state: int, rqueue: int = 0, wqueue: int = 0) -> bytes:
    body = MESSAGE.pack(2, state, 0, 0, 0, rqueue, wqueue) + b"\0" * 8  # uid, inode
    return HEADER.pack(HEADER.size + len(body), 20, 2, 1, 0) + body


def test_datagrams_are_counted_until_done():
    counts: dict[str, int] = {}
    assert count(message(1, 3, 4) + message(10, 0, 128) + message(99), counts) is False
    assert count(HEADER.pack(HEADER.size + 4, NLMSG_DONE, 2, 1, 0) + b"\0" * 4, counts)
    assert counts == {"established": 1, "listen": 1, "unknown": 1, "rx_queued_bytes": 3,
                      "tx_queued_bytes": 132}


def test_a_truncated_datagram_fails():
    with pytest.raises(ValueError, match="truncated"):
        count(message(1)[:-10], {})


def test_a_netlink_error_fails():
    error = HEADER.pack(HEADER.size + 4, NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -2)
    with pytest.raises(FileNotFoundError):
        count(error, {})

