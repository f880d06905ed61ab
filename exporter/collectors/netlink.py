"""A netlink request and its replies over a plain AF_NETLINK socket (no library).

For what node_exporter 1.5 reads over netlink rather than files: rtnetlink's links
(netclass with `--collector.netclass.netlink`) and generic netlink's ethtool link modes.
Every read has a timeout and every reply a size bound, so a stuck or huge answer fails
the collector instead of stalling or swelling the scrape.
"""

from __future__ import annotations

import os
import socket
import struct

NETLINK_ROUTE, NETLINK_GENERIC = 0, 16
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG = struct.Struct("=IHHII")
NLATTR = struct.Struct("=HH")
GENLMSG = struct.Struct("=BBH")
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
TIMEOUT = 5.0
MAX_REPLY_BYTES = 64 << 20


def attributes(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Netlink attributes (type without its flags -> payload) from `offset` on; the first of
    a repeated type wins; a truncated attribute is an error, as to Go's decoder."""
    out: dict[int, bytes] = {}
    while offset + NLATTR.size <= len(data):
        length, kind = NLATTR.unpack_from(data, offset)
        if length < NLATTR.size or offset + length > len(data):
            raise ValueError(f"truncated netlink attribute of {length} bytes")
        out.setdefault(kind & NLA_TYPE_MASK, data[offset + NLATTR.size:offset + length])
        offset += (length + 3) & ~3
    return out


def attribute(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    data = NLATTR.pack(NLATTR.size + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def request(protocol: int, msg_type: int, body: bytes, dump: bool,
            max_bytes: int = MAX_REPLY_BYTES) -> list[tuple[int, bytes]]:
    """(type, payload) of each reply to one request: all of a dump's until NLMSG_DONE, or the
    single answer to a plain request. An NLMSG_ERROR with an errno raises OSError; replies
    over `max_bytes` in all are a ValueError."""
    flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                       protocol) as sock:
        sock.settimeout(TIMEOUT)
        sock.bind((0, 0))
        seq = int.from_bytes(os.urandom(4), "little")
        sock.send(NLMSG.pack(NLMSG.size + len(body), msg_type, flags, seq, 0) + body)
        replies: list[tuple[int, bytes]] = []
        total = 0
        while True:
            data = sock.recv(1 << 16)
            total += len(data)
            if total > max_bytes:
                raise ValueError(f"netlink reply over {max_bytes >> 20} MiB")
            if _parse(data, seq, replies) or (replies and not dump):
                return replies


def _parse(data: bytes, seq: int, replies: list[tuple[int, bytes]]) -> bool:
    """Append one datagram's messages of `seq` to `replies`; True at NLMSG_DONE."""
    offset = 0
    while offset + NLMSG.size <= len(data):
        length, kind, _flags, got_seq, _pid = NLMSG.unpack_from(data, offset)
        if length < NLMSG.size or offset + length > len(data):
            raise ValueError(f"truncated netlink message of {length} bytes")
        payload = data[offset + NLMSG.size:offset + length]
        offset += (length + 3) & ~3
        if got_seq != seq:
            continue
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            err = -struct.unpack_from("=i", payload)[0]
            if err:
                raise OSError(err, os.strerror(err))
            continue
        replies.append((kind, payload))
    return False


def genl_family(name: str) -> int:
    """A generic netlink family's id; OSError(ENOENT) where the kernel lacks it."""
    body = GENLMSG.pack(CTRL_CMD_GETFAMILY, 1, 0) + \
        attribute(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    for _kind, payload in request(NETLINK_GENERIC, GENL_ID_CTRL, body, dump=False):
        family = attributes(payload, GENLMSG.size).get(CTRL_ATTR_FAMILY_ID)
        if family is not None and len(family) >= 2:
            return struct.unpack_from("=H", family)[0]
    raise ValueError(f"no id in the reply for generic netlink family {name!r}")
