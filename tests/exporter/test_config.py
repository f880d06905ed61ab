"""Config: YAML keys and types checked, collectors resolved, listen addresses parsed."""

from __future__ import annotations

import pytest

from exporter.collectors import COLLECTORS, default_collectors
from exporter.collectors.filesystem import FilesystemConfig
from exporter.config import (
    ConfigError,
    ExporterConfig,
    parse_file,
    parse_listen,
    resolve_collectors,
    validate,
)

KNOWN = sorted(COLLECTORS)


def test_full_file():
    values, collectors, disable_defaults = parse_file("x.yml", """
listen: "127.0.0.1:9101"
log_level: debug
disable_defaults: false
collectors: {hwmon: false, cpu: true}
paths: {procfs: /host/proc}
textfile: {directory: /var/lib/prom}
filesystem: {mount_timeout: 2}
http: {gzip_level: 6}
""", KNOWN)
    assert collectors == {"hwmon": False, "cpu": True} and disable_defaults is False
    config = ExporterConfig(**values)
    assert config.paths.procfs == "/host/proc" and config.paths.sysfs == "/sys"
    assert config.filesystem == FilesystemConfig(mount_timeout=2.0)
    assert config.http.gzip_level == 6


@pytest.mark.parametrize("text,key,problem", [
    ("listen: [1, 2]\n", "listen", "expected str"),
    ("nope: 1\n", "nope", "unknown key"),
    ("paths: {procfs: 3}\n", "paths.procfs", "expected str"),
    ("paths: {proc: /x}\n", "paths.proc", "unknown key"),
    ("filesystem: {mount_timeout: soon}\n", "filesystem.mount_timeout", "expected float"),
    ("collectors: {cpu: yes please}\n", "collectors.cpu", "expected bool"),
    ("collectors: {gpu: true}\n", "collectors", "valid collectors: " + ", ".join(KNOWN[:3])),
    ("collectors: [cpu]\n", "collectors", "mapping"),
    ("http: {gzip_level: true}\n", "http.gzip_level", "expected int"),
    ("- a\n- b\n", "(top level)", "expected a mapping"),
    ("listen: [\n", "line 2", "invalid YAML"),
])
def test_bad_files_name_file_key_and_problem(text, key, problem):
    with pytest.raises(ConfigError) as info:
        parse_file("exporter.yml", text, KNOWN)
    assert info.value.source == "exporter.yml"
    assert info.value.key == key
    assert problem in info.value.problem


def test_empty_file_is_all_defaults():
    assert parse_file("e.yml", "", KNOWN) == ({}, {}, False)


def test_validate_rejects_bad_regex_and_values():
    with pytest.raises(ConfigError, match=r"fs_types_exclude: invalid regular"):
        validate(ExporterConfig(filesystem=FilesystemConfig(fs_types_exclude="(")), "f")
    with pytest.raises(ConfigError, match="log_level"):
        validate(ExporterConfig(log_level="loud"), "f")
    with pytest.raises(ConfigError, match="mount_timeout"):
        validate(ExporterConfig(filesystem=FilesystemConfig(mount_timeout=0)), "f")


def test_resolve_collectors():
    defaults = default_collectors()
    assert resolve_collectors(defaults, {}, False) == frozenset(defaults)
    assert resolve_collectors(defaults, {"hwmon": False}, False) == \
        frozenset(defaults) - {"hwmon"}
    assert resolve_collectors(defaults, {"cpu": True}, True) == {"cpu"}


@pytest.mark.parametrize("listen,expected", [
    ("127.0.0.1:9100", ("127.0.0.1", 9100)), (":9100", (None, 9100)),
    ("[::1]:80", ("::1", 80)), ("localhost:1", ("localhost", 1))])
def test_parse_listen(listen, expected):
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9100", "host:", "host:0", "host:70000", "::1:80", "h:p"])
def test_parse_listen_rejects(listen):
    with pytest.raises(ValueError, match="bad listen address"):
        parse_listen(listen)


def test_example_file_has_every_key_at_its_default():
    """config/exporter.yml documents every key, each with the value the exporter defaults to."""
    import dataclasses
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[2] / "config" / "exporter.yml"
    text = path.read_text()
    values, collectors, disable_defaults = parse_file(str(path), text, KNOWN)
    assert ExporterConfig(**values) == ExporterConfig()
    assert disable_defaults is False
    assert collectors == {n: COLLECTORS[n].default_enabled for n in KNOWN}
    raw = yaml.safe_load(text)
    for f in dataclasses.fields(ExporterConfig):
        if f.name == "collectors":
            continue
        assert f.name in raw, f.name
        section = getattr(ExporterConfig(), f.name)
        if dataclasses.is_dataclass(section):
            assert set(raw[f.name]) == {g.name for g in dataclasses.fields(section)}, f.name
