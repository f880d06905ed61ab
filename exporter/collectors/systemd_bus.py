"""systemd's D-Bus, for the systemd collector: a connection bounded by one scrape's deadline.

jeepney speaks D-Bus; this module adds what a scrape needs on top: every call shares the scrape's
deadline, and properties are prefetched in windows of WINDOW requests in flight (one round trip
per window, not one per property). The collector (exporter.collectors.systemd) decides what to
ask; nothing here outlives the scrape.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import TYPE_CHECKING, Any

from exporter.collectors.dbus_wire import Unhandled, decode_reply, encode_get, message_size

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection

SYSTEMD = "org.freedesktop.systemd1"
PRIVATE_SOCKET = "/run/systemd/private"
WINDOW = 64  # D-Bus requests in flight at once


class Bus:
    """One scrape's D-Bus connection to systemd, every call bounded by the scrape's deadline."""

    def __init__(self, connection: DBusConnection, deadline: float, bus_name: str) -> None:
        self.connection = connection
        self.deadline = deadline
        self.bus_name = bus_name  # every call's destination
        # This scrape's prefetched properties: (path, interface, name) -> value, or None
        # where systemd answered with an error. Dropped with the connection.
        self.fetched: dict[tuple[str, str, str], Any] = {}

    def call(self, path: str, interface: str, method: str, signature: str | None = None,
             body: tuple = ()) -> tuple:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("systemd did not answer within the scrape's D-Bus timeout")
        address = DBusAddress(path, bus_name=self.bus_name, interface=interface)
        reply = self.connection.send_and_get_reply(
            new_method_call(address, method, signature, body), timeout=remaining)
        return unwrap_msg(reply)

    def get(self, path: str, interface: str, name: str) -> Any:
        """A property's value (its variant unwrapped)."""
        (variant,) = self.call(path, "org.freedesktop.DBus.Properties", "Get", "ss",
                               (interface, name))
        return variant[1]

    def prefetch(self, keys: list[tuple[str, str, str]]) -> None:
        """Ask for many properties at once, at most WINDOW requests in flight: one round trip
        per window instead of one per property (node_exporter runs its calls in goroutines).
        The Get calls and their replies are encoded and decoded by dbus_wire (jeepney's
        generic code costs about 140 us a message); other messages go to jeepney."""
        parser = self.connection.parser
        if getattr(getattr(parser, "buf", None), "bytes_buffered", 1) != 0:
            return  # jeepney holds unread bytes: leave every call to it (try_get)
        sock = self.connection.sock
        buf = bytearray()
        for start in range(0, len(keys), WINDOW):
            pending: dict[int, tuple[str, str, str]] = {}
            out = []
            for key in keys[start:start + WINDOW]:
                serial = next(self.connection.outgoing_serial)
                out.append(encode_get(serial, self.bus_name, *key))
                pending[serial] = key
            sock.sendall(b"".join(out))
            while True:
                self.take_replies(buf, pending)
                if not pending:
                    break
                buf += self.receive_some(sock)
        if buf:
            parser.add_data(bytes(buf))  # the start of a later message: jeepney's to read

    def take_replies(self, buf: bytearray, pending: dict[int, tuple[str, str, str]]) -> None:
        """Decode the complete messages at the front of `buf` (removing them)."""
        from jeepney import HeaderFields, MessageType
        from jeepney.low_level import Message

        while len(buf) >= 16 and len(buf) >= (size := message_size(bytes(buf[:16]))):
            data = bytes(buf[:size])
            del buf[:size]
            try:
                serial, ok, value = decode_reply(data)
            except Unhandled:
                msg = Message.from_buffer(data)
                serial = msg.header.fields.get(HeaderFields.reply_serial)
                ok = msg.header.message_type == MessageType.method_return
                value = msg.body[0][1] if ok else None
            key = pending.pop(serial, None) if serial is not None else None
            if key is not None:
                self.fetched[key] = value if ok else None

    def receive_some(self, sock: socket.socket) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            raise TimeoutError("systemd did not answer within the scrape's D-Bus timeout")
        data = sock.recv(65536)
        if not data:
            raise ConnectionResetError("systemd closed the D-Bus connection")
        return data

    def try_get(self, path: str, interface: str, name: str) -> Any:
        """The property, or None when systemd answers with an error (an older systemd lacks
        NRefused, ...), as 1.5 skips it."""
        from jeepney.wrappers import DBusErrorResponse

        if (path, interface, name) in self.fetched:
            return self.fetched[(path, interface, name)]
        try:
            return self.get(path, interface, name)
        except DBusErrorResponse:
            return None

    def close(self) -> None:
        self.connection.close()


def bus_path(address: str) -> str:
    from jeepney.bus import get_connectable_addresses

    return next(get_connectable_addresses(address))


def open_socket(path: str, deadline: float) -> DBusConnection:
    """An authenticated connection that has not said Hello yet (jeepney's constructor would
    wait for the Hello reply without a time limit)."""
    from jeepney.io.blocking import DBusConnection, DBusConnectionBase, prep_socket
    from jeepney.io.common import MessageFilters

    class Connection(DBusConnection):
        def __init__(self, sock: socket.socket) -> None:
            DBusConnectionBase.__init__(self, sock)
            self._filters = MessageFilters()

    sock = prep_socket(path, timeout=max(0.01, deadline - time.monotonic()))
    return Connection(sock)


def connect_bus(address: str, deadline: float) -> Bus:
    connection = open_socket(bus_path(address), deadline)
    try:
        hello = Bus(connection, deadline, "org.freedesktop.DBus")
        (connection.unique_name,) = hello.call("/org/freedesktop/DBus", "org.freedesktop.DBus",
                                               "Hello")
    except BaseException:
        connection.close()
        raise
    return Bus(connection, deadline, SYSTEMD)


def connect_private(deadline: float) -> Bus:
    """systemd's private socket: peer to peer, so no bus and no Hello (calls still name
    systemd as their destination, as go-systemd's do there)."""
    if not os.path.exists(PRIVATE_SOCKET):
        raise FileNotFoundError(f"{PRIVATE_SOCKET} does not exist")
    return Bus(open_socket(PRIVATE_SOCKET, deadline), deadline, SYSTEMD)
