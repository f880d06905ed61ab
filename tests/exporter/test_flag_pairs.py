"""node_exporter 1.5's flag pairs: deprecated spellings and mutually exclusive include /
exclude regexes, resolved once at start-up (exporter.config.resolve_pairs), and what the
other new server flags change. Real processes where the exit code is the contract."""

from __future__ import annotations

import json

import pytest

from exporter.cli import UsageError, configure, seconds
from exporter.collectors.diskstats import DEFAULT_DISK_DEVICE_EXCLUDE
from exporter.config import validate
from tests import servers
from tests.exporter.test_cli import one_line, run

EXCLUSIVE = [
    # (argv, the two flags the error names)
    (["--collector.netdev.device-include=eth", "--collector.netdev.device-exclude=lo"],
     ("--collector.netdev.device-include", "--collector.netdev.device-exclude")),
    (["--collector.diskstats.device-include=sd", "--collector.diskstats.device-exclude=loop"],
     ("--collector.diskstats.device-include", "--collector.diskstats.device-exclude")),
    (["--collector.netdev.device-whitelist=eth", "--collector.netdev.device-include=lo"],
     ("--collector.netdev.device-whitelist", "--collector.netdev.device-include")),
    (["--collector.netdev.device-blacklist=eth", "--collector.netdev.device-exclude=lo"],
     ("--collector.netdev.device-blacklist", "--collector.netdev.device-exclude")),
    (["--collector.diskstats.ignored-devices=sd", "--collector.diskstats.device-exclude=x"],
     ("--collector.diskstats.ignored-devices", "--collector.diskstats.device-exclude")),
    (["--collector.filesystem.ignored-mount-points=^/srv",
      "--collector.filesystem.mount-points-exclude=^/x"],
     ("--collector.filesystem.ignored-mount-points",
      "--collector.filesystem.mount-points-exclude")),
    (["--collector.filesystem.ignored-fs-types=^tmpfs$",
      "--collector.filesystem.fs-types-exclude=^x$"],
     ("--collector.filesystem.ignored-fs-types", "--collector.filesystem.fs-types-exclude")),
    (["--collector.systemd.unit-whitelist=a", "--collector.systemd.unit-include=b"],
     ("--collector.systemd.unit-whitelist", "--collector.systemd.unit-include")),
    (["--collector.systemd.unit-blacklist=a", "--collector.systemd.unit-exclude=b"],
     ("--collector.systemd.unit-blacklist", "--collector.systemd.unit-exclude")),
    # The deprecated exclude becomes the exclude, which then meets the include.
    (["--collector.netdev.device-blacklist=eth", "--collector.netdev.device-include=lo"],
     ("--collector.netdev.device-include", "--collector.netdev.device-exclude")),
]


@pytest.mark.parametrize(("argv", "flags"), EXCLUSIVE, ids=[" ".join(a) for a, _ in EXCLUSIVE])
def test_mutually_exclusive_flags_exit_2_naming_both(argv, flags):
    result = run(*argv)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert all(flag in line for flag in flags) and "mutually exclusive" in line


def test_a_yaml_pair_names_both_keys(tmp_path):
    path = tmp_path / "e.yml"
    path.write_text("netdev:\n  device_include: eth\n  device_exclude: lo\n")
    with pytest.raises(UsageError, match=r"netdev\.device_include.*netdev\.device_exclude"):
        configure([f"--config={path}"])


@pytest.mark.parametrize("flag", [
    "--collector.netdev.device-include", "--collector.netdev.device-whitelist",
    "--collector.netdev.device-blacklist", "--collector.diskstats.device-include",
    "--collector.diskstats.ignored-devices", "--collector.filesystem.ignored-mount-points",
    "--collector.filesystem.ignored-fs-types"])
def test_an_invalid_regex_exits_2_naming_the_flag(flag):
    result = run(f"{flag}=(")
    assert result.returncode == 2
    assert flag in one_line(result.stderr)


def test_include_alone_drops_the_default_exclude():
    """1.5 refuses this (its exclude has a default); node_exporter >= 1.6 and promwire take
    it as the include alone, so an existing 1.5 command line never changes meaning."""
    config = configure(["--collector.diskstats.device-include=^loop"])
    assert (config.diskstats.device_include, config.diskstats.device_exclude) == ("^loop", "")
    kept = configure(["--collector.diskstats.device-include=^loop",
                      f"--collector.diskstats.device-exclude={DEFAULT_DISK_DEVICE_EXCLUDE}"])
    assert kept.diskstats.device_exclude == ""  # the default given again is the default


@pytest.mark.parametrize(("argv", "section", "key", "value"), [
    (["--collector.netdev.device-whitelist=^eth"], "netdev", "device_include", "^eth"),
    (["--collector.netdev.device-blacklist=^veth"], "netdev", "device_exclude", "^veth"),
    (["--collector.diskstats.ignored-devices=^loop"], "diskstats", "device_exclude", "^loop"),
    (["--collector.filesystem.ignored-mount-points=^/srv"], "filesystem",
     "mount_points_exclude", "^/srv"),
    (["--collector.filesystem.ignored-fs-types=^tmpfs$"], "filesystem", "fs_types_exclude",
     "^tmpfs$"),
])
def test_a_deprecated_spelling_sets_the_new_key_once(argv, section, key, value):
    config = configure(argv)
    assert getattr(getattr(config, section), key) == value
    assert validate(config, "again") == config  # resolved once: validating again is a no-op


@pytest.mark.parametrize(("text", "value"), [("5", 5.0), ("0.5", 0.5), ("2s", 2.0),
                                             ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0)])
def test_mount_timeout_takes_seconds_or_a_go_duration(text, value):
    assert seconds(text) == value
    config = configure([f"--collector.filesystem.mount-timeout={text}"])
    assert config.filesystem.mount_timeout == value


@pytest.mark.parametrize("text", ["5x", "s", "1s2", "-", "inf", "nan", "0s", "soon"])
def test_a_bad_duration_exits_2(text):
    result = run(f"--collector.filesystem.mount-timeout={text}")
    assert result.returncode == 2 and "mount-timeout" in result.stderr


@pytest.mark.parametrize(("argv", "problem"), [
    (["--web.telemetry-path=metrics"], "telemetry_path"),
    (["--web.max-requests=-1"], "max_requests"),
    (["--log.format=xml"], "log_format"),
])
def test_bad_server_flags_exit_2(argv, problem):
    result = run(*argv)
    assert result.returncode == 2 and problem in one_line(result.stderr)


def test_telemetry_path_moves_the_metrics(tmp_path):
    process = servers.exporter(tmp_path, "--collector.disable-defaults", "--collector.loadavg",
                               "--web.telemetry-path=/node/metrics", "--log.format=json",
                               "--log.level=info")
    process.start()
    try:
        status, body = servers.http_get(f"{process.url}/node/metrics")
        assert status == 200 and b"node_load1 " in body
        status, body = servers.http_get(f"{process.url}/metrics")
        assert status == 404 and b"/node/metrics" in body
        assert b'href="/node/metrics"' in servers.http_get(process.url + "/")[1]
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]
    assert any(r["level"] == "info" and "listening" in r["msg"] for r in lines), process.log()
