"""systemd: unit states over D-Bus, against a real dbus-daemon serving a small fake systemd.

Real systemd cannot run here (it is not PID 1; `systemd --user` exits at once), so a real
`dbus-daemon` is started in a temporary directory with tests/exporter/fake_systemd.py on it
as org.freedesktop.systemd1. Debian's node_exporter 1.5 is pointed at the same bus
(DBUS_SYSTEM_BUS_ADDRESS), so the fake's answers are checked to be what 1.5 understands.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest

from exporter.collectors.systemd import SystemdCollector, SystemdConfig
from exporter.config import validate
from exporter.registry import Registry
from tests import servers
from tests.exporter.helpers import collect_text, fixture_config, headers, samples

DBUS_DAEMON = shutil.which("dbus-daemon")
BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
UNITS = [
    {"name": "ssh.service", "active": "active", "sub": "running",
     "props": {"Service.Type": "notify", "Service.NRestarts": 2,
               "Unit.ActiveEnterTimestamp": 1700000000123456, "Service.TasksCurrent": 3,
               "Service.TasksMax": (1 << 64) - 1}},
    {"name": "cron.service", "active": "failed",
     "props": {"Service.Type": "simple", "Service.NRestarts": 0,
               "Service.TasksCurrent": (1 << 64) - 1, "Service.TasksMax": 4915}},
    {"name": "dbus.socket", "active": "active",
     "props": {"Socket.NAccepted": 7, "Socket.NConnections": 1, "Socket.NRefused": 0}},
    {"name": "apt-daily.timer", "active": "active",
     "props": {"Timer.LastTriggerUSec": 1700000000500000}},
    {"name": "home.mount", "active": "active", "props": {"Mount.Type": "ext4"}},
    {"name": "multi-user.target", "active": "active"},
    {"name": "gone.service", "load": "not-found", "active": "inactive"},
    {"name": "foo-bar@1.service", "active": "reloading", "props": {"Service.Type": "oneshot"}},
]
SPEC = {"version": "252 (252.38-1~deb12u1)", "system_state": "degraded", "units": UNITS}
ALL_FLAGS = SystemdConfig(enable_task_metrics=True, enable_restarts_metrics=True,
                          enable_start_time_metrics=True)


class FakeSystemd:
    def __init__(self, address: str, spec_path) -> None:
        self.address, self.spec_path = address, spec_path

    def write(self, **changes) -> None:
        self.spec_path.write_text(json.dumps({**SPEC, **changes}))

    def config(self, options: SystemdConfig | None = None, **changes):
        options = dataclasses.replace(options or SystemdConfig(), bus_address=self.address,
                                      **changes)
        return fixture_config(systemd=options)


@pytest.fixture
def fake_systemd(tmp_path):
    if DBUS_DAEMON is None:
        pytest.skip("dbus-daemon is not installed (make test installs it)")
    socket_path = tmp_path / "system_bus_socket"
    (tmp_path / "bus.conf").write_text(BUS_CONF.format(socket=socket_path))
    daemon = subprocess.Popen([DBUS_DAEMON, f"--config-file={tmp_path / 'bus.conf'}",
                               "--nofork", "--nopidfile"], stderr=subprocess.DEVNULL)
    fake = None
    try:
        servers.wait_for(socket_path.exists, timeout=10, message="dbus-daemon's socket")
        address = f"unix:path={socket_path}"
        state = FakeSystemd(address, tmp_path / "systemd.json")
        state.write()
        fake = subprocess.Popen([sys.executable, "-m", "tests.exporter.fake_systemd", address,
                                 str(state.spec_path)], stdout=subprocess.PIPE, text=True)
        assert fake.stdout is not None and fake.stdout.readline().strip() == "ready"
        yield state
    finally:
        for proc in (fake, daemon):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


def names(got: dict, family: str = "node_systemd_unit_state") -> set[str]:
    return {dict(labels)["name"] for name, labels in got if name == family}


def test_unit_states_summary_version_and_system_state(fake_systemd):
    got = samples(collect_text(SystemdCollector(fake_systemd.config())))
    state = ("node_systemd_unit_state", (("name", "cron.service"), ("state", "failed"),
                                         ("type", "simple")))
    assert got[state] == 1
    # Debian's default exclude leaves out mounts and targets; not-found units are never shown.
    assert names(got) == {"ssh.service", "cron.service", "dbus.socket", "apt-daily.timer",
                          "foo-bar@1.service"}
    # The summary counts every unit, also the excluded and not loaded, and states beyond
    # the five (reloading), as 1.5.
    assert got[("node_systemd_units", (("state", "active"),))] == 5
    assert got[("node_systemd_units", (("state", "reloading"),))] == 1
    assert got[("node_systemd_units", (("state", "deactivating"),))] == 0
    assert got[("node_systemd_version", (("version", "252 (252.38-1~deb12u1)"),))] == 252
    assert got[("node_systemd_system_running", ())] == 0
    assert got[("node_systemd_socket_accepted_connections_total", (("name", "dbus.socket"),))] \
        == 7
    assert got[("node_systemd_timer_last_trigger_seconds",
                (("name", "apt-daily.timer"),))] == 1700000000.5
    assert not any(name.startswith(("node_systemd_unit_tasks", "node_systemd_service_restart",
                                    "node_systemd_unit_start_time")) for name, _ in got)


def test_include_and_exclude_match_whole_names(fake_systemd):
    config = fake_systemd.config(unit_include=r"(ssh|home)\..*", unit_exclude="home.moun")
    got = samples(collect_text(SystemdCollector(config)))
    assert names(got) == {"ssh.service", "home.mount"}  # "home.moun" is no whole name


def test_deprecated_whitelist_and_blacklist_spellings(fake_systemd):
    # exporter.config resolves 1.5's deprecated spellings into unit-include / unit-exclude.
    config = validate(fake_systemd.config(unit_whitelist=r".+\.service",
                                          unit_blacklist="cron.service"), "test")
    assert names(samples(collect_text(SystemdCollector(config)))) == {"ssh.service",
                                                                      "foo-bar@1.service"}


def test_optional_families(fake_systemd):
    got = samples(collect_text(SystemdCollector(fake_systemd.config(ALL_FLAGS))))
    assert got[("node_systemd_service_restart_total", (("name", "ssh.service"),))] == 2
    assert got[("node_systemd_unit_start_time_seconds", (("name", "ssh.service"),))] == \
        1700000000123456 / 1e6
    assert got[("node_systemd_unit_start_time_seconds", (("name", "cron.service"),))] == 0
    # 2^64-1 is systemd's "no limit" / "not counted": left out, as 1.5 does.
    assert got[("node_systemd_unit_tasks_current", (("name", "ssh.service"),))] == 3
    assert ("node_systemd_unit_tasks_max", (("name", "ssh.service"),)) not in got
    assert got[("node_systemd_unit_tasks_max", (("name", "cron.service"),))] == 4915


def test_units_are_asked_for_on_every_scrape(fake_systemd):
    collector = SystemdCollector(fake_systemd.config())
    assert "ssh.service" in names(samples(collect_text(collector)))
    fake_systemd.write(units=UNITS[1:], system_state="running")
    got = samples(collect_text(collector))
    assert "ssh.service" not in names(got)
    assert got[("node_systemd_system_running", ())] == 1


def test_old_systemd_has_no_system_state_or_timers(fake_systemd):
    fake_systemd.write(version="211")
    got = samples(collect_text(SystemdCollector(fake_systemd.config())))
    assert got[("node_systemd_version", (("version", "211"),))] == 211
    assert not any(name in ("node_systemd_system_running",
                            "node_systemd_timer_last_trigger_seconds") for name, _ in got)


def test_no_system_bus_is_success_0(tmp_path):
    config = fixture_config(systemd=SystemdConfig(bus_address=f"unix:path={tmp_path}/none"))
    registry = Registry(config, {"systemd": SystemdCollector(config)})
    text = registry.render()
    assert samples(text)[("node_scrape_collector_success", (("collector", "systemd"),))] == 0
    assert "node_systemd_" not in text


def test_systemd_that_does_not_answer_fails_the_scrape_within_its_timeout(fake_systemd):
    fake_systemd.write(delay=30)
    config = fake_systemd.config(timeout=0.2)
    registry = Registry(config, {"systemd": SystemdCollector(config)})
    got = samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", "systemd"),))] == 0


@pytest.mark.integration
def test_same_series_as_node_exporter_on_the_same_bus(fake_systemd, tmp_path):
    """Debian's node_exporter 1.5 and promwire, both with every systemd flag, on one bus."""
    flags = ["--collector.disable-defaults", "--collector.systemd",
             "--collector.systemd.enable-task-metrics",
             "--collector.systemd.enable-restarts-metrics",
             "--collector.systemd.enable-start-time-metrics"]
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake_systemd.address}
    port, their_port = servers.free_port(), servers.free_port()
    ours = servers.Process("exporter", servers.python_module(
        "exporter", "--listen", f"127.0.0.1:{port}", *flags), tmp_path / "ours",
        f"http://127.0.0.1:{port}", "/-/healthy", env=env)
    theirs = servers.Process("node_exporter", [
        servers.NODE_EXPORTER or "prometheus-node-exporter",
        f"--web.listen-address=127.0.0.1:{their_port}", "--log.level=error", *flags],
        tmp_path / "theirs", f"http://127.0.0.1:{their_port}", "/metrics", env=env)
    try:
        ours.start()
        theirs.start()
        mine = servers.http_get(f"{ours.url}/metrics")[1].decode()
        reference = servers.http_get(f"{theirs.url}/metrics")[1].decode()
    finally:
        ours.stop()
        theirs.stop()

    def systemd(text: str):
        return ({k: v for k, v in samples(text).items() if k[0].startswith("node_systemd_")},
                {k: v for k, v in headers(text).items() if k.startswith("node_systemd_")})

    assert systemd(mine) == systemd(reference)
    assert len(systemd(mine)[0]) > 40
    success = ("node_scrape_collector_success", (("collector", "systemd"),))
    assert samples(mine)[success] == samples(reference)[success] == 1
