"""Every flag Debian's node_exporter 1.5 takes is taken by promwire, with a valid value.

The flags come from the installed binary's `--help` (not from a list kept here), so a flag
this test does not know fails it: the only ones left out are those of collectors promwire
does not implement and the few in EXCEPTIONS, each with its reason, and both lists are checked
to be exactly what promwire refuses. 1.5's hidden flags (deprecated spellings, the mount
timeout) are not in `--help`; HIDDEN lists them from its source (collector/*.go at v1.5.0).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from exporter.cli import UsageError, configure
from exporter.collectors import COLLECTORS
from tests.servers import NODE_EXPORTER

pytestmark = pytest.mark.skipif(NODE_EXPORTER is None,
                                reason="prometheus-node-exporter is not installed")

# `--collector.arp.device-include=COLLECTOR.ARP.DEVICE-INCLUDE`, `--collector.cpu.guest`,
# `--web.listen-address=:9100 ...`, `--collector.netstat.fields="^(...)$"`.
HELP_FLAG = re.compile(r'^\s+(?:-\w, )?--((?:collector|web|path|log)\.[^\s=]+)'
                       r'(?:=("(?:[^"\\]|\\.)*"|\S+))?')
PLACEHOLDER = re.compile(r"^(?=.*[A-Z])[A-Z0-9._-]+$")
# Flags of one collector that 1.5 spells with another prefix.
OWNER = {"powersupply": "powersupplyclass", "netclass_rtnl": "netclass", "qdisk": "qdisc"}
# 1.5 collectors (Linux builds) promwire does not implement; their flags are not taken.
NOT_IMPLEMENTED = {
    "drm": "off by default in 1.5; amdgpu cards only",
    "logind": "off by default in 1.5; deprecated there",
    "ntp": "off by default in 1.5; deprecated there (timex covers the clock)",
    "perf": "off by default in 1.5; needs perf_event_open and root",
    "qdisc": "off by default in 1.5",
    "runit": "off by default in 1.5; deprecated there",
    "supervisord": "off by default in 1.5; deprecated there",
    "wifi": "off by default in 1.5; needs nl80211 over generic netlink",
}
# Flags of implemented collectors or of the server that promwire refuses, and why.
EXCEPTIONS = {
    "--web.config.file": "TLS and basic auth (exporter-toolkit's web config) are not "
                         "implemented; put a TLS-terminating proxy in front",
    "--web.systemd-socket": "systemd socket activation is not implemented",
}
# Valid values where the help has a placeholder instead of a default.
VALUES = {
    "--collector.sysctl.include": "fs.file-nr",
    "--collector.sysctl.include-info": "kernel.threads-max",
}
# 1.5's hidden flags (Hidden() in collector/*.go at v1.5.0), with a valid value.
HIDDEN = {
    "--collector.filesystem.mount-timeout": "2s",
    "--collector.filesystem.ignored-mount-points": "^/srv($|/)",
    "--collector.filesystem.ignored-fs-types": "^tmpfs$",
    "--collector.diskstats.ignored-devices": "^loop",
    "--collector.netdev.device-whitelist": "^eth",
    "--collector.netdev.device-blacklist": "^veth",
    "--collector.systemd.unit-whitelist": r".+\.service",
    "--collector.systemd.unit-blacklist": r"cron\.service",
    "--collector.systemd.private": None,
}


def help_flags() -> dict[str, str | None]:
    """{flag: a valid value, or None for a bool} from the binary's --help."""
    out = subprocess.run([NODE_EXPORTER, "--help"], capture_output=True, text=True,
                         timeout=30)
    flags: dict[str, str | None] = {}
    for line in (out.stdout + out.stderr).splitlines():
        m = HELP_FLAG.match(line)
        if not m:
            continue
        flag, default = f"--{m.group(1)}", m.group(2)
        if default is None:
            flags[flag] = None  # a kingpin Bool: --flag and --no-flag
        elif default.startswith('"'):
            flags[flag] = VALUES.get(flag) or json.loads(default) or "^x$"
        elif PLACEHOLDER.match(default):
            flags[flag] = VALUES.get(flag, "^x$")  # no default: a regex (or VALUES)
        else:
            flags[flag] = default
    assert len(flags) > 100, "the --help output was not parsed"
    return flags


FLAGS = help_flags() if NODE_EXPORTER else {}


def owner(flag: str) -> str | None:
    """The collector a --collector.* flag belongs to (None: a server flag)."""
    m = re.match(r"--collector\.([^.]+)", flag)
    if m is None or m.group(1) == "disable-defaults":
        return None
    return OWNER.get(m.group(1), m.group(1))


def accepted(*argv: str) -> bool:
    try:
        configure(list(argv))
    except (UsageError, SystemExit):
        return False
    return True


def argvs(flag: str, value: str | None) -> list[list[str]]:
    """The spellings to try: `--flag=value`, or `--flag` and `--no-flag` for a bool."""
    if value is None:
        return [[flag], [f"--no-{flag[2:]}"]]
    return [[f"{flag}={value}"]]


TAKEN = sorted(f for f in FLAGS if owner(f) not in NOT_IMPLEMENTED and f not in EXCEPTIONS)


@pytest.mark.parametrize("flag", TAKEN)
def test_promwire_takes_the_flag(flag):
    for argv in argvs(flag, FLAGS[flag]):
        assert accepted(*argv), argv


@pytest.mark.parametrize("flag", sorted(HIDDEN))
def test_promwire_takes_the_hidden_flag(flag):
    for argv in argvs(flag, HIDDEN[flag]):
        assert accepted(*argv), argv


def test_the_exceptions_are_exactly_what_promwire_refuses():
    """Each exception is a flag 1.5 has and promwire refuses; every flag of an unimplemented
    collector is refused, and those collectors are exactly the ones promwire lacks."""
    for flag in EXCEPTIONS:
        assert flag in FLAGS and not any(accepted(*a) for a in argvs(flag, FLAGS[flag])), flag
    listed = {owner(f) for f in FLAGS} - {None}
    assert {name for name in listed if name not in COLLECTORS} == set(NOT_IMPLEMENTED)
    for flag in FLAGS:
        if owner(flag) in NOT_IMPLEMENTED:
            assert not accepted(*argvs(flag, FLAGS[flag])[0]), flag


# promwire collectors 1.5 does not have (issue 11 asks for them; later releases add them).
LATER = {"softirqs"}


def test_every_collector_flag_of_ours_is_node_exporters():
    """promwire's --collector.NAME flags name 1.5's collectors, but for LATER's."""
    ours = {f"--collector.{name}" for name in COLLECTORS if name not in LATER}
    assert ours <= set(FLAGS)
    assert not {f"--collector.{name}" for name in LATER} & set(FLAGS)


@pytest.mark.parametrize("level", ["debug", "info", "warn", "error"])
def test_log_levels_as_node_exporter(level):
    assert accepted(f"--log.level={level}")


@pytest.mark.parametrize("flag", [f for f, v in HIDDEN.items() if v is not None])
def test_the_debian_binary_has_the_hidden_flag_or_upstream_does(flag):
    """Debian's build dropped netdev's and systemd's deprecated spellings (upstream 1.5.0
    has them, so promwire keeps them); the rest it takes as upstream does."""
    run = subprocess.run([NODE_EXPORTER, f"{flag}={HIDDEN[flag]}", "--version"],
                         capture_output=True, text=True, timeout=30)
    debian_dropped = flag.endswith(("-whitelist", "-blacklist"))
    assert (run.returncode == 0) != debian_dropped, run.stderr
