"""sysctl: the e2e run's includes, indexed / mapped / info forms, and bad values."""

from __future__ import annotations

import logging

import pytest

from exporter.cli import build_parser, load, main
from exporter.collectors import COLLECTORS
from exporter.collectors.sysctl import SysctlCollector, SysctlConfig
from exporter.config import ConfigError, parse_file
from exporter.registry import Registry
from tests.exporter.helpers import PROC, collect_text, samples
from tests.exporter.parity import SYS, assert_parity

E2E_FLAGS = ["--collector.sysctl.include-info=kernel.seccomp.actions_avail",
             "--collector.sysctl.include=fs.file-nr",
             "--collector.sysctl.include=fs.file-nr:total,current,max",
             "--collector.sysctl.include=kernel.threads-max"]


def collector(procfs, *flags: str) -> SysctlCollector:
    args = build_parser().parse_args([f"--path.procfs={procfs}", f"--path.sysfs={SYS}", *flags])
    return SysctlCollector(load(args))


def test_e2e_flags_match_node_exporter():
    assert_parity(collector(PROC, *E2E_FLAGS), ("node_sysctl_",))


def test_off_by_default_and_nothing_without_includes():
    assert SysctlCollector.default_enabled is False
    assert collect_text(collector(PROC)) == ""


def test_yaml_lists(tmp_path):
    values, _, _ = parse_file("x.yml", "sysctl:\n  include: [kernel.threads-max]\n", [])
    assert values["sysctl"] == SysctlConfig(include=("kernel.threads-max",))
    with pytest.raises(ConfigError, match="list of strings"):
        parse_file("x.yml", "sysctl:\n  include: kernel.threads-max\n", [])


def test_invalid_key_exits_2(capsys):
    assert main(["--collector.sysctl.include=fs.file-nr:a-b,c"]) == 2
    assert "--collector.sysctl.include" in capsys.readouterr().err


def write(tmp_path, name: str, text: str):
    path = tmp_path / "sys" / name.replace(".", "/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tmp_path


def test_base_zero_integers_and_sanitized_names(tmp_path):
    procfs = write(tmp_path, "net.ipv4.ip_local_port-range", "0x10\t010\n")
    got = samples(collect_text(collector(procfs, "--collector.sysctl.include="
                                         "net.ipv4.ip_local_port-range")))
    assert got == {("node_sysctl_net_ipv4_ip_local_port_range", (("index", "0"),)): 16,
                   ("node_sysctl_net_ipv4_ip_local_port_range", (("index", "1"),)): 8}


@pytest.mark.parametrize("text,flag,match", [
    ("12 x\n", "a.b", "not a valid int"),
    ("\n", "a.b", "no values"),
    ("12\n", "a.b:x,y", "only one value"),
    ("1 2 3\n", "a.b:x,y", "3 keys but only 2"),
])
def test_bad_values_fail(tmp_path, text, flag, match):
    procfs = write(tmp_path, "a.b", text)
    with pytest.raises(ValueError, match=match):
        list(collector(procfs, f"--collector.sysctl.include={flag}").collect())


def test_missing_sysctl_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(collector(tmp_path, "--collector.sysctl.include=no.such").collect())


def test_garbled_sysctl_fails_only_sysctl(tmp_path, caplog):
    procfs = write(tmp_path, "fs.file-nr", "1 x 3\n")
    (procfs / "loadavg").write_text((PROC / "loadavg").read_text())
    config = load(build_parser().parse_args([f"--path.procfs={procfs}",
                                             "--collector.sysctl.include=fs.file-nr"]))
    registry = Registry(config, {n: COLLECTORS[n](config) for n in ("sysctl", "loadavg")})
    with caplog.at_level(logging.ERROR, logger="exporter"):
        got = samples(registry.render())
        registry.render()
    assert got[("node_scrape_collector_success", (("collector", "sysctl"),))] == 0
    assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
    assert ("node_load1", ()) in got
    assert len([r for r in caplog.records if "collector sysctl failed" in r.getMessage()]) == 1
