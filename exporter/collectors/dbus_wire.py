"""The two D-Bus messages the systemd collector sends and receives by the hundred, by hand.

A scrape asks systemd for one or more properties per unit (Properties.Get). jeepney builds
and parses each message generically, about 140 us of CPU a message; these few lines encode
a Get call and decode its reply (a variant of a basic type, or an error) directly, the same
bytes jeepney writes (tests/exporter/collectors/test_dbus_wire.py compares them). Anything
else that comes in (a signal, a variant of a container type) goes to jeepney's parser.
Little-endian messages only, as every Linux bus sends to a little-endian client.
"""

from __future__ import annotations

import struct
from typing import Any

METHOD_RETURN, ERROR = 2, 3
PROPERTIES = b"org.freedesktop.DBus.Properties"
_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<III")  # after the 4 flag bytes: body length, serial, fields length
_BASIC = {b"y": ("<B", 1), b"b": ("<I", 4), b"n": ("<h", 2), b"q": ("<H", 2),
          b"i": ("<i", 4), b"u": ("<I", 4), b"x": ("<q", 8), b"t": ("<Q", 8),
          b"d": ("<d", 8)}


def _pad(buf: bytearray, n: int) -> None:
    buf += b"\0" * (-len(buf) % n)


def _string(buf: bytearray, text: bytes) -> None:
    _pad(buf, 4)
    buf += _U32.pack(len(text)) + text + b"\0"


def _field(buf: bytearray, code: int, signature: bytes, value: bytes) -> None:
    _pad(buf, 8)
    buf += bytes((code, 1)) + signature + b"\0"
    if signature == b"g":
        buf += bytes((len(value),)) + value + b"\0"
    else:
        _string(buf, value)


def encode_get(serial: int, destination: str | None, path: str, interface: str,
               name: str) -> bytes:
    """org.freedesktop.DBus.Properties.Get(interface, name) on `path`, as one message."""
    fields = bytearray()
    _field(fields, 1, b"o", path.encode())
    _field(fields, 2, b"s", PROPERTIES)
    _field(fields, 3, b"s", b"Get")
    if destination is not None:
        _field(fields, 6, b"s", destination.encode())
    _field(fields, 8, b"g", b"ss")
    body = bytearray()
    _string(body, interface.encode())
    _string(body, name.encode())
    head = bytearray(b"l\x01\x00\x01" + _HEADER.pack(len(body), serial, len(fields)))
    head += fields
    _pad(head, 8)
    return bytes(head + body)


def message_size(head: bytes) -> int:
    """The length of the message whose first 16 bytes are `head`."""
    body, _, fields = struct.unpack_from("<III", head, 4)
    header = 16 + fields
    return header + (-header % 8) + body


class Unhandled(Exception):
    """Not a reply this decoder knows: hand the message to jeepney."""


def _align(pos: int, n: int) -> int:
    return pos + (-pos % n)


def decode_reply(data: bytes) -> tuple[int | None, bool, Any]:
    """(reply serial or None, ok, value) of a Get reply: ok False for an error reply; a
    message that is no reply (a signal) has no serial. Raises Unhandled otherwise."""
    if data[:1] != b"l":
        raise Unhandled("big-endian message")
    kind = data[1]
    _, _, fields_len = struct.unpack_from("<III", data, 4)
    pos, end = 16, 16 + fields_len
    reply_serial, signature = None, b""
    while pos < end:
        pos = _align(pos, 8)
        code, size = data[pos], data[pos + 1]
        field_sig = data[pos + 2:pos + 2 + size]
        pos += 3 + size
        if field_sig in (b"s", b"o"):
            pos = _align(pos, 4)
            (length,) = _U32.unpack_from(data, pos)
            value: Any = data[pos + 4:pos + 4 + length]
            pos += 5 + length
        elif field_sig == b"g":
            length = data[pos]
            value = data[pos + 1:pos + 1 + length]
            pos += 2 + length
        elif field_sig == b"u":
            pos = _align(pos, 4)
            (value,) = _U32.unpack_from(data, pos)
            pos += 4
        else:
            raise Unhandled(f"header field of type {field_sig!r}")
        if code == 5:
            reply_serial = value
        elif code == 8:
            signature = value
    if kind == ERROR:
        return reply_serial, False, None
    if kind != METHOD_RETURN:
        return None, False, None  # a signal, or a call to us: not a reply
    if signature != b"v":
        raise Unhandled(f"reply of signature {signature!r}")
    return reply_serial, True, _variant(data, _align(end, 8))


def _variant(data: bytes, pos: int) -> Any:
    size = data[pos]
    signature = data[pos + 1:pos + 1 + size]
    pos += 2 + size
    if signature in (b"s", b"o"):
        pos = _align(pos, 4)
        (length,) = _U32.unpack_from(data, pos)
        return data[pos + 4:pos + 4 + length].decode("utf-8", "replace")
    basic = _BASIC.get(signature)
    if basic is None:
        raise Unhandled(f"variant of type {signature!r}")
    code, width = basic
    (value,) = struct.unpack_from(code, data, _align(pos, width))
    return bool(value) if signature == b"b" else value
