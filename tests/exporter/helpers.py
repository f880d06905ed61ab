"""Shared test helpers: fixture paths, configs on fake trees, and an independent parser.

Expositions are parsed with prometheus_client's parser (not the exporter's own), so a test
never checks the exporter's output with the exporter's code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter.config import ExporterConfig, PathsConfig
from exporter.exposition import render

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "node_exporter"
PROC = FIXTURES / "proc"

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def fixture_config(procfs: Path | str = PROC, sysfs: Path | str = "/nonexistent/sys",
                   rootfs: str = "/", **sections) -> ExporterConfig:
    """A config whose collectors read the given trees (node_exporter's fixture by default)."""
    config = ExporterConfig(paths=PathsConfig(procfs=str(procfs), sysfs=str(sysfs),
                                              rootfs=rootfs, udev_data="/nonexistent/udev"))
    return dataclasses.replace(config, **sections)


def samples(text: str) -> dict[SampleKey, float]:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    out: dict[SampleKey, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate sample {key}"
            out[key] = s.value
    return out


HEADER = re.compile(r"^# (HELP|TYPE) (\S+) ?(.*)$")


def headers(text: str) -> dict[str, dict[str, str]]:
    """{family name: {"HELP": text, "TYPE": type}} from the header lines."""
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            out.setdefault(m.group(2), {})[m.group(1)] = m.group(3)
    return out


def collect_text(collector, openmetrics: bool = False) -> str:
    return render(collector.collect(), openmetrics)


def family_names(text: str) -> set[str]:
    return {name for name, h in headers(text).items() if "TYPE" in h}
