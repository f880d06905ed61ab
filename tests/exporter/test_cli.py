"""CLI exit codes, run as real processes: 2 for bad configuration, 1 when it cannot serve."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from exporter.cli import build_parser, load
from exporter.collectors import COLLECTORS
from tests import servers

# Every collector, sorted, as the error lists them (the older ones named for certainty).
VALID = ", ".join(sorted(COLLECTORS))
assert "arp, " in VALID and ", vmstat" in VALID and "netclass, netdev, netstat" in VALID


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, timeout=timeout)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("flag", ["--collector.gpu", "--no-collector.gpu"])
def test_unknown_collector_flag_exits_2_listing_valid_names(flag):
    result = run(flag)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "gpu" in line and VALID in line


def test_unknown_collector_in_file_exits_2(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("collectors:\n  gpu: true\n")
    result = run("--config", str(path))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert str(path) in line and "collectors" in line and VALID in line


@pytest.mark.parametrize("text,key", [("listen: [\n", "line 2"),
                                      ("filesystem:\n  mount_timeout: soon\n",
                                       "filesystem.mount_timeout"),
                                      ("colectors: {}\n", "colectors")])
def test_bad_file_exits_2_naming_file_and_key(tmp_path, text, key):
    path = tmp_path / "exporter.yml"
    path.write_text(text)
    result = run("--config", str(path))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert str(path) in line and key in line


def test_missing_file_exits_2(tmp_path):
    result = run("--config", str(tmp_path / "absent.yml"))
    assert result.returncode == 2 and "absent.yml" in one_line(result.stderr)


@pytest.mark.parametrize("flag,key", [
    ("--collector.diskstats.device-exclude", "diskstats.device_exclude"),
    ("--collector.netstat.fields", "netstat.fields"),
])
def test_bad_regex_flag_exits_2(flag, key):
    result = run(flag, "(")
    assert result.returncode == 2 and key in one_line(result.stderr)


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999", "256.1.1.1:9100"])
def test_bad_listen_exits_1_with_one_line(listen):
    result = run("--listen", listen)
    assert result.returncode == 1
    assert listen in one_line(result.stderr)


def test_port_in_use_exits_1_with_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--listen", f"127.0.0.1:{port}", "--log-level", "error")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"127.0.0.1:{port}" in line and "in use" in line


def test_sigterm_exits_0(tmp_path):
    proc = servers.exporter(tmp_path)
    try:
        proc.start()
        proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(10) == 0
    finally:
        proc.kill()


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("listen: 127.0.0.1:1\ncollectors: {cpu: false, hwmon: false}\n"
                    "textfile: {directory: /a}\n")
    args = build_parser().parse_args(["--config", str(path), "--listen", "127.0.0.1:2",
                                      "--collector.cpu", "--collector.textfile.directory",
                                      "/b"])
    config = load(args)
    assert config.listen == "127.0.0.1:2" and config.textfile.directory == "/b"
    assert "cpu" in config.collectors and "hwmon" not in config.collectors


def test_disable_defaults_keeps_only_named_collectors():
    config = load(build_parser().parse_args(["--collector.disable-defaults",
                                             "--collector.meminfo"]))
    assert config.collectors == {"meminfo"}


def test_version_matches_the_package():
    from importlib.metadata import version

    import exporter

    assert exporter.__version__ == version("promwire")
    result = run("--version")
    assert result.returncode == 0 and exporter.__version__ in result.stdout


def test_help_lists_every_declared_option_under_its_collector():
    from exporter.config import OPTIONS

    result = run("--help")
    assert result.returncode == 0
    flags = [s.flag for s in OPTIONS if s.flag]
    assert "--collector.netclass.ignored-devices" in flags
    for flag in flags:
        assert flag in result.stdout, flag
    assert "collector netclass:" in result.stdout
    assert "YAML netclass.ignored_devices" in result.stdout


@pytest.mark.parametrize("flag,valid", [
    ("--collector.netclass.bogus", "--collector.netclass.ignored-devices"),
    ("--web.bogus=1", "--web.disable-exporter-metrics"),
])
def test_unknown_flag_exits_2_listing_valid_flags(flag, valid):
    result = run(flag)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert flag.split("=")[0] in line and valid in line


def test_bad_regex_flag_names_the_flag():
    result = run("--collector.arp.device-include", "[")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "--collector.arp.device-include" in line and "arp.device_include" in line


def test_bool_option_and_its_no_form():
    on = load(build_parser().parse_args(["--collector.netclass.ignore-invalid-speed"]))
    off = load(build_parser().parse_args(["--no-collector.netclass.ignore-invalid-speed"]))
    assert on.netclass.ignore_invalid_speed is True
    assert off.netclass.ignore_invalid_speed is False


def test_declared_flags_are_collector_flags_and_unique():
    from exporter.config import OPTIONS, SECTIONS

    assert set(SECTIONS) - {"paths", "http"} <= set(COLLECTORS)
    flags = [spec.flag for spec in OPTIONS if spec.section in COLLECTORS and spec.flag]
    assert all(flag.startswith("--collector.") for flag in flags)
    assert len(flags) == len(set(flags))


def test_default_enabled_false_keeps_a_collector_off_unless_named(monkeypatch):
    from exporter.collectors import default_collectors

    monkeypatch.setattr(COLLECTORS["arp"], "default_enabled", False)
    assert "arp" not in default_collectors()
    assert "arp" not in load(build_parser().parse_args([])).collectors
    assert "arp" in load(build_parser().parse_args(["--collector.arp"])).collectors
