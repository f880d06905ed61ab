"""A small fake org.freedesktop.systemd1 on a D-Bus bus, for the systemd collector's tests.

Real systemd cannot run here (it is not PID 1 and `systemd --user` exits at once), so the
tests start a real `dbus-daemon` in a temporary directory and this process on it. It serves
exactly the calls node_exporter 1.5 and promwire make: Manager.ListUnits and
Properties.Get of the Manager (Version, SystemState) and of units at systemd's object paths
(/org/freedesktop/systemd1/unit/<bus-escaped name>). The units come from a JSON file read on
every call, so a test can change them between scrapes:

    {"version": "252 (252.38-1~deb12u1)", "system_state": "running", "delay": 0,
     "units": [{"name": "ssh.service", "load": "loaded", "active": "active",
                "sub": "running", "props": {"Service.Type": "notify", ...}}]}

Run: python -m tests.exporter.fake_systemd BUS_ADDRESS SPEC.json (prints "ready" once it
owns the name).
"""

from __future__ import annotations

import json
import os
import sys
import time

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import Proxy, open_dbus_connection

NAME = "org.freedesktop.systemd1"
ROOT = "/org/freedesktop/systemd1"
UNIT_PREFIX = ROOT + "/unit/"
# D-Bus types of the properties that are asked for.
SIGNATURES = {"Type": "s", "NRestarts": "u", "NAccepted": "u", "NConnections": "u",
              "NRefused": "u", "ActiveEnterTimestamp": "t", "TasksCurrent": "t",
              "TasksMax": "t", "LastTriggerUSec": "t", "Version": "s", "SystemState": "s"}


def bus_escape(name: str) -> str:
    """systemd's (and go-systemd's PathBusEscape) object path escaping of a unit name."""
    out = []
    for i, byte in enumerate(name.encode()):
        c = chr(byte)
        if c.isascii() and (c.isalpha() or (i > 0 and c.isdigit())):
            out.append(c)
        else:
            out.append(f"_{byte:x}")
    return "".join(out) or "_"


def list_units(spec: dict) -> list:
    return [(u["name"], u.get("description", ""), u.get("load", "loaded"), u["active"],
             u.get("sub", ""), "", UNIT_PREFIX + bus_escape(u["name"]), 0, "", "/")
            for u in spec["units"]]


def get_property(spec: dict, path: str, interface: str, prop: str):
    """(signature, value) of a property, or None when this object/interface lacks it."""
    if path == ROOT and interface == NAME + ".Manager":
        value = {"Version": spec.get("version"), "SystemState": spec.get("system_state")}.get(
            prop)
        return None if value is None else ("s", value)
    unit = spec["by_path"].get(path)
    if unit is None:
        return None
    value = unit.get("props", {}).get(f"{interface.removeprefix(NAME + '.')}.{prop}")
    return None if value is None else (SIGNATURES[prop], value)


_loaded: dict = {}


def load(spec_path: str) -> dict:
    """The spec, parsed again only when the file changed (tests rewrite it between scrapes)."""
    stat = os.stat(spec_path)
    key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    if _loaded.get("key") != key:
        with open(spec_path, encoding="utf-8") as f:
            spec = json.load(f)
        spec["by_path"] = {UNIT_PREFIX + bus_escape(u["name"]): u for u in spec["units"]}
        _loaded.update(key=key, spec=spec)
    return _loaded["spec"]


def handle(msg, spec_path: str):
    spec = load(spec_path)
    time.sleep(spec.get("delay", 0))
    fields = msg.header.fields
    path, member = fields.get(HeaderFields.path), fields.get(HeaderFields.member)
    if member == "ListUnits":
        return new_method_return(msg, "a(ssssssouso)", (list_units(spec),))
    if member == "Get":
        interface, prop = msg.body
        found = get_property(spec, path, interface, prop)
        if found is not None:
            return new_method_return(msg, "v", (found,))
        return new_error(msg, "org.freedesktop.DBus.Error.UnknownProperty", "s",
                         (f"no property {interface}.{prop} at {path}",))
    return new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),))


def main(address: str, spec_path: str) -> None:
    conn = open_dbus_connection(address)
    Proxy(message_bus, conn).RequestName(NAME, 4)  # DBUS_NAME_FLAG_DO_NOT_QUEUE
    print("ready", flush=True)
    while True:
        msg = conn.receive()
        if msg.header.message_type == MessageType.method_call:
            conn.send(handle(msg, spec_path))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
