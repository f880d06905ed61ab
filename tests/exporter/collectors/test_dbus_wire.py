"""dbus_wire: the hand-made Get call and reply are the bytes jeepney makes and parses."""

from __future__ import annotations

import pytest
from jeepney import DBusAddress, HeaderFields, new_error, new_method_return, new_signal
from jeepney.low_level import Message
from jeepney.wrappers import Properties

from exporter.collectors.dbus_wire import Unhandled, decode_reply, encode_get, message_size

PATH = "/org/freedesktop/systemd1/unit/ssh_2eservice"


@pytest.mark.parametrize("destination", ["org.freedesktop.systemd1", "org.freedesktop.DBus"])
@pytest.mark.parametrize("interface,name", [
    ("org.freedesktop.systemd1.Service", "Type"),
    ("org.freedesktop.systemd1.Unit", "ActiveEnterTimestamp"), ("a.b", "NRefused")])
def test_get_call_is_jeepneys(destination, interface, name):
    address = DBusAddress(PATH, bus_name=destination, interface=interface)
    theirs = Properties(address).get(name).serialise(serial=4242)
    ours = encode_get(4242, destination, PATH, interface, name)
    assert ours == theirs
    assert message_size(ours[:16]) == len(ours)


def test_get_call_without_destination_parses():
    msg = Message.from_buffer(encode_get(5, None, PATH, "a.b", "Type"))
    assert msg.body == ("a.b", "Type")
    assert HeaderFields.destination not in msg.header.fields
    assert msg.header.fields[HeaderFields.path] == PATH


def _call():
    return Message.from_buffer(encode_get(7, "org.freedesktop.systemd1", PATH, "i", "p"))


@pytest.mark.parametrize("signature,value", [("s", "notify"), ("s", "ünïcode"), ("u", 4915),
                                             ("t", (1 << 64) - 1), ("b", True), ("i", -3),
                                             ("x", -(1 << 40)), ("d", 0.25), ("o", "/a/b")])
def test_reply_values_as_jeepney_parses_them(signature, value):
    reply = new_method_return(_call(), "v", ((signature, value),)).serialise(serial=9)
    assert message_size(reply[:16]) == len(reply)
    assert decode_reply(reply) == (7, True, Message.from_buffer(reply).body[0][1])
    assert decode_reply(reply)[2] == value


def test_error_reply_and_signal():
    error = new_error(_call(), "org.freedesktop.DBus.Error.UnknownProperty", "s", ("no",))
    assert decode_reply(error.serialise(serial=3)) == (7, False, None)
    signal = new_signal(DBusAddress("/org/freedesktop/DBus", interface="org.freedesktop.DBus"),
                        "NameAcquired", "s", (":1.5",))
    assert decode_reply(signal.serialise(serial=5))[0] is None


def test_container_variant_is_left_to_jeepney():
    reply = new_method_return(_call(), "v", (("as", ["a", "b"]),)).serialise(serial=9)
    with pytest.raises(Unhandled):
        decode_reply(reply)
