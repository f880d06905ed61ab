"""`systemd`: unit states and manager state over D-Bus, as node_exporter 1.5 (Debian's) reports.

Per scrape it connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS, else
/var/run/dbus/system_bus_socket; as root, when that fails, systemd's private socket
/run/systemd/private, as go-systemd does for 1.5) with jeepney, and asks
org.freedesktop.systemd1 for:

- `node_systemd_version{version}` (the Manager's Version),
- `node_systemd_units{state}`: all units per active state,
- `node_systemd_unit_state{name,state,type}`: 1 for the unit's state of active, activating,
  deactivating, inactive, failed, for loaded units matching `--collector.systemd.unit-include`
  and not `--collector.systemd.unit-exclude` (whole-name regexes), `type` the Service or
  Mount Type property,
- sockets' accepted/current/refused connections and timers' last trigger, as 1.5 always does,
  and with their flags the restart counts, start times and task counts,
- `node_systemd_system_running` (SystemState is "running"), for systemd >= 212.

No bus: no families, success 0 (1.5's "couldn't get dbus connection"). Every call shares one
deadline, so a systemd that does not answer costs at most that, never a stalled scrape.
Nothing is kept between scrapes: units that are gone are gone from the next one.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, NoDataError, option
from exporter.collectors.systemd_bus import SYSTEMD, Bus, connect_bus, connect_private
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:

    from exporter.config import ExporterConfig

MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"
UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed")
MIN_VERSION_SYSTEM_STATE = 212
VERSION = re.compile(r"[0-9]{3,}(\.[0-9]+)?")
MAX_UINT64 = (1 << 64) - 1
# Debian's prometheus-node-exporter default (upstream 1.5 leaves out `target`).
DEFAULT_UNIT_EXCLUDE = r".+\.(automount|device|mount|scope|slice|target)"

UNIT_STATE = Desc("node_systemd_unit_state", "Systemd unit", "gauge", ("name", "state", "type"))
UNITS = Desc("node_systemd_units", "Summary of systemd unit states", "gauge", ("state",))
SYSTEM_RUNNING = Desc("node_systemd_system_running",
                      "Whether the system is operational (see 'systemctl is-system-running')",
                      "gauge")
VERSION_DESC = Desc("node_systemd_version", "Detected systemd version", "gauge", ("version",))
START_TIME = Desc("node_systemd_unit_start_time_seconds",
                  "Start time of the unit since unix epoch in seconds.", "gauge", ("name",))
TASKS_CURRENT = Desc("node_systemd_unit_tasks_current", "Current number of tasks per Systemd "
                     "unit", "gauge", ("name",))
TASKS_MAX = Desc("node_systemd_unit_tasks_max", "Maximum number of tasks per Systemd unit",
                 "gauge", ("name",))
RESTARTS = Desc("node_systemd_service_restart_total", "Service unit count of Restart triggers",
                "counter", ("name",))
TIMER_LAST = Desc("node_systemd_timer_last_trigger_seconds",
                  "Seconds since epoch of last trigger.", "gauge", ("name",))
ACCEPTED = Desc("node_systemd_socket_accepted_connections_total",
                "Total number of accepted socket connections", "counter", ("name",))
CURRENT = Desc("node_systemd_socket_current_connections", "Current number of socket "
               "connections", "gauge", ("name",))
REFUSED = Desc("node_systemd_socket_refused_connections_total",
               "Total number of refused socket connections", "gauge", ("name",))


@dataclass(frozen=True)
class SystemdConfig:
    unit_include: str = option(
        "--collector.systemd.unit-include", ".+",
        "regex of units to report (whole name); a unit must match it and not unit-exclude",
        regex=True)
    unit_exclude: str = option(
        "--collector.systemd.unit-exclude", DEFAULT_UNIT_EXCLUDE,
        "regex of units to leave out (whole name)", regex=True)
    # 1.5's hidden, deprecated spellings: their value becomes the new key's; both: exit 2.
    unit_whitelist: str = option("--collector.systemd.unit-whitelist", "",
                                 "DEPRECATED: use --collector.systemd.unit-include", regex=True,
                                 replaces="unit_include")
    unit_blacklist: str = option("--collector.systemd.unit-blacklist", "",
                                 "DEPRECATED: use --collector.systemd.unit-exclude", regex=True,
                                 replaces="unit_exclude")
    enable_task_metrics: bool = option(
        "--collector.systemd.enable-task-metrics", False,
        "report node_systemd_unit_tasks_current and _max for services")
    enable_restarts_metrics: bool = option(
        "--collector.systemd.enable-restarts-metrics", False,
        "report node_systemd_service_restart_total")
    enable_start_time_metrics: bool = option(
        "--collector.systemd.enable-start-time-metrics", False,
        "report node_systemd_unit_start_time_seconds")
    private: bool = option(
        "--collector.systemd.private", False,
        "talk to systemd's private socket (/run/systemd/private, root only) instead of the bus")
    # D-Bus address of the system bus; empty: DBUS_SYSTEM_BUS_ADDRESS, else the standard one.
    bus_address: str = option(None, "", "D-Bus address of the system bus (YAML only)")
    # Seconds one scrape may spend on D-Bus, all calls together.
    timeout: float = option(None, 4.0, "seconds all D-Bus calls of a scrape may take",
                            positive=True)


@dataclass(frozen=True)
class Unit:
    name: str
    load_state: str
    active_state: str
    path: str


def connect(config: SystemdConfig, deadline: float) -> Bus:
    """The system bus, or systemd's private socket (with --collector.systemd.private, or as
    root when the bus cannot be reached, as go-systemd's NewWithContext does)."""
    if config.private:
        return connect_private(deadline)
    address = config.bus_address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") \
        or DEFAULT_SYSTEM_BUS
    try:
        return connect_bus(address, deadline)
    except (OSError, RuntimeError) as exc:
        if os.geteuid() == 0 and not config.bus_address:
            try:
                return connect_private(deadline)
            except OSError:
                pass
        raise NoDataError(f"no D-Bus system bus at {address}: {exc}") from None


def version(bus: Bus) -> tuple[float, str]:
    """(number, full string) of the Manager's Version, (0, "") when it has none, as 1.5."""
    from jeepney.wrappers import DBusErrorResponse

    try:
        full = str(bus.get(MANAGER_PATH, MANAGER, "Version"))
    except DBusErrorResponse:
        return 0.0, ""
    m = VERSION.search(full)
    return (float(m.group(0)), full) if m else (0.0, "")


def nonempty(*families: Family) -> Iterator[Family]:
    """The families that have samples: 1.5 prints no family without series."""
    return (family for family in families if family.samples)


class SystemdCollector(Collector):
    name = "systemd"
    options = SystemdConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.options_ = options = config.systemd
        # unit-whitelist / unit-blacklist are resolved into these by exporter.config.
        include, exclude = options.unit_include, options.unit_exclude
        self.include = re.compile(f"(?:{include})").fullmatch
        self.exclude = re.compile(f"(?:{exclude})").fullmatch

    def collect(self) -> Iterator[MetricFamily]:
        deadline = time.monotonic() + self.options_.timeout
        bus = connect(self.options_, deadline)
        try:
            yield from self.scrape(bus)
        finally:
            bus.close()

    def scrape(self, bus: Bus) -> Iterator[MetricFamily]:
        number, full = version(bus)
        yield Family(VERSION_DESC, [((full,), number)])
        (listed,) = bus.call(MANAGER_PATH, MANAGER, "ListUnits")
        units = [Unit(u[0], u[2], u[3], u[6]) for u in listed]
        summary = dict.fromkeys(UNIT_STATES, 0)
        for unit in units:
            summary[unit.active_state] = summary.get(unit.active_state, 0) + 1
        yield Family(UNITS, [((state,), count) for state, count in summary.items()])
        chosen = [u for u in units if u.load_state == "loaded" and self.include(u.name)
                  and not self.exclude(u.name)]
        bus.prefetch(self.wanted(chosen, number))
        yield from self.unit_states(bus, chosen)
        if self.options_.enable_start_time_metrics:
            yield from nonempty(self.start_times(bus, chosen))
        if self.options_.enable_task_metrics:
            yield from self.tasks(bus, chosen)
        if number >= MIN_VERSION_SYSTEM_STATE:
            yield from nonempty(self.timers(bus, chosen))
        yield from self.sockets(bus, chosen)
        if number >= MIN_VERSION_SYSTEM_STATE:
            state = bus.get(MANAGER_PATH, MANAGER, "SystemState")
            yield Family(SYSTEM_RUNNING, [((), 1 if state == "running" else 0)])

    def wanted(self, units: list[Unit], number: float) -> list[tuple[str, str, str]]:
        """Every unit property the families below ask for, to fetch them in one go."""
        keys = []
        options = self.options_
        for unit in units:
            kind = unit.name.rpartition(".")[2]
            interface = f"{SYSTEMD}.{kind.capitalize()}"
            if kind in ("service", "mount"):
                keys.append((unit.path, interface, "Type"))
            if kind == "service" and options.enable_restarts_metrics:
                keys.append((unit.path, interface, "NRestarts"))
            if kind == "service" and options.enable_task_metrics:
                keys += [(unit.path, interface, "TasksCurrent"),
                         (unit.path, interface, "TasksMax")]
            if options.enable_start_time_metrics and unit.active_state == "active":
                keys.append((unit.path, f"{SYSTEMD}.Unit", "ActiveEnterTimestamp"))
            if kind == "timer" and number >= MIN_VERSION_SYSTEM_STATE:
                keys.append((unit.path, interface, "LastTriggerUSec"))
            if kind == "socket":
                keys += [(unit.path, interface, p)
                         for p in ("NAccepted", "NConnections", "NRefused")]
        return keys

    def unit_states(self, bus: Bus, units: list[Unit]) -> Iterator[Family]:
        states, restarts = Family(UNIT_STATE), Family(RESTARTS)
        for unit in units:
            kind = ""
            for suffix, interface in ((".service", "Service"), (".mount", "Mount")):
                if unit.name.endswith(suffix):
                    kind = bus.try_get(unit.path, f"{SYSTEMD}.{interface}", "Type") or ""
            for state in UNIT_STATES:
                states.add((unit.name, state, kind), 1 if state == unit.active_state else 0)
            if self.options_.enable_restarts_metrics and unit.name.endswith(".service"):
                count = bus.try_get(unit.path, f"{SYSTEMD}.Service", "NRestarts")
                if count is not None:
                    restarts.add((unit.name,), count)
        yield from nonempty(states, restarts)

    @staticmethod
    def start_times(bus: Bus, units: list[Unit]) -> Family:
        family = Family(START_TIME)
        for unit in units:
            if unit.active_state != "active":
                family.add((unit.name,), 0)
                continue
            usec = bus.try_get(unit.path, f"{SYSTEMD}.Unit", "ActiveEnterTimestamp")
            if usec is not None:
                family.add((unit.name,), usec / 1e6)
        return family

    @staticmethod
    def tasks(bus: Bus, units: list[Unit]) -> Iterator[Family]:
        current, maximum = Family(TASKS_CURRENT), Family(TASKS_MAX)
        for unit in units:
            if not unit.name.endswith(".service"):
                continue
            for family, prop in ((current, "TasksCurrent"), (maximum, "TasksMax")):
                value = bus.try_get(unit.path, f"{SYSTEMD}.Service", prop)
                if value is not None and value != MAX_UINT64:  # unlimited / not counted
                    family.add((unit.name,), value)
        yield from nonempty(current, maximum)

    @staticmethod
    def timers(bus: Bus, units: list[Unit]) -> Family:
        family = Family(TIMER_LAST)
        for unit in units:
            if unit.name.endswith(".timer"):
                usec = bus.try_get(unit.path, f"{SYSTEMD}.Timer", "LastTriggerUSec")
                if usec is not None:
                    family.add((unit.name,), usec / 1e6)
        return family

    @staticmethod
    def sockets(bus: Bus, units: list[Unit]) -> Iterator[Family]:
        accepted, current, refused = Family(ACCEPTED), Family(CURRENT), Family(REFUSED)
        for unit in units:
            if not unit.name.endswith(".socket"):
                continue
            interface = f"{SYSTEMD}.Socket"
            n_accepted = bus.try_get(unit.path, interface, "NAccepted")
            if n_accepted is None:
                continue
            accepted.add((unit.name,), n_accepted)
            n_connections = bus.try_get(unit.path, interface, "NConnections")
            if n_connections is None:
                continue
            current.add((unit.name,), n_connections)
            n_refused = bus.try_get(unit.path, interface, "NRefused")  # systemd >= 239
            if n_refused is not None:
                refused.add((unit.name,), n_refused)
        yield from nonempty(accepted, current, refused)
