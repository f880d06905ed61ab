"""Checks a collector's own test uses: parity with node_exporter's e2e output, and that a
garbled input file fails only that collector.

Each new collector's test calls these with its own families, so adding a collector needs no
edit to a shared list (tests/exporter/test_parity.py keeps the older collectors' table).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

from exporter.collectors import COLLECTORS
from exporter.registry import Registry
from tests.exporter.helpers import FIXTURES, PROC, collect_text, fixture_config, headers, samples

E2E = (FIXTURES / "e2e-output.txt").read_text()
E2E_SAMPLES = samples(E2E)
E2E_HEADERS = headers(E2E)
SYS = FIXTURES / "sys"


def e2e_config(**sections):
    """node_exporter's e2e paths: --path.procfs=proc --path.sysfs=sys --path.rootfs=fixtures."""
    return fixture_config(sysfs=SYS, rootfs=str(FIXTURES), **sections)


@contextmanager
def as_e2e_paths(tmp_path: Path):
    """Run with sysfs at the relative path the e2e run used (collector/fixtures/sys), for
    collectors whose label values are paths (rapl's `path`)."""
    (tmp_path / "collector").mkdir()
    (tmp_path / "collector" / "fixtures").symlink_to(FIXTURES)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield fixture_config(sysfs="collector/fixtures/sys", rootfs="collector/fixtures")
    finally:
        os.chdir(cwd)


def assert_parity(collector, prefixes: Iterable[str], *, not_in_1_5: Iterable[str] = (),
                  newer_labels: Mapping[str, Iterable[str]] | None = None,
                  help_1_5: Mapping[str, str] | None = None,
                  text: str | None = None) -> dict:
    """The collector prints exactly e2e-output.txt's families with these prefixes (less the
    families named newer than 1.5, and less the labels `newer_labels` says later releases
    added to a family), sample by sample, with the same HELP and TYPE (`help_1_5` gives
    1.5's HELP of the families later releases reworded)."""
    text = collect_text(collector) if text is None else text
    ours, our_headers = samples(text), headers(text)
    prefixes = tuple(prefixes)
    newer = set(not_in_1_5)
    assert newer <= set(E2E_HEADERS), newer - set(E2E_HEADERS)
    expected = {f for f in E2E_HEADERS if f.startswith(prefixes)} - newer
    assert expected, f"no e2e family starts with {prefixes}"
    assert set(our_headers) == expected
    drop = {name: set(labels) for name, labels in (newer_labels or {}).items()}
    theirs = {}
    for (name, labels), value in E2E_SAMPLES.items():
        if name in expected:
            for label in drop.get(name, ()):
                assert label in dict(labels), (name, label)
            theirs[(name, tuple(kv for kv in labels if kv[0] not in drop.get(name, ())))] = value
    assert {k: v for k, v in ours.items() if k[0] in expected} == theirs
    reworded = dict(help_1_5 or {})
    assert set(reworded) <= expected, set(reworded) - expected
    for family in expected:
        want = dict(E2E_HEADERS[family])
        if family in reworded:
            assert want["HELP"] != reworded[family], family  # else it is no rewording
            want["HELP"] = reworded[family]
        assert our_headers[family] == want, family
    return ours


def assert_off_by_default(name: str) -> None:
    """`name` is off unless named with `--collector.NAME`, as node_exporter's
    defaultDisabled collectors."""
    from exporter.cli import build_parser, load
    from exporter.collectors import default_collectors

    assert name not in default_collectors()
    assert name not in load(build_parser().parse_args([])).collectors
    assert name in load(build_parser().parse_args([f"--collector.{name}"])).collectors


def assert_fails_alone(tmp_path: Path, caplog, name: str, files: Mapping[str, str],
                       copy: Iterable[str] = ()) -> None:
    """Garbled files (relative to a fresh tree, "proc/..." or "sys/...", plus fixture
    subtrees copied in `copy`) give `name` success 0, logged once over two scrapes, while
    loadavg on the same tree is served."""
    import shutil

    for rel in copy:
        shutil.copytree(FIXTURES / rel, tmp_path / rel, symlinks=True)
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "proc").mkdir(exist_ok=True)
    (tmp_path / "proc" / "loadavg").write_text((PROC / "loadavg").read_text())
    config = fixture_config(tmp_path / "proc", sysfs=tmp_path / "sys", rootfs=str(tmp_path))
    registry = Registry(config, {n: COLLECTORS[n](config) for n in (name, "loadavg")})
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="exporter"):
        got = samples(registry.render())
        samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", name),))] == 0
    assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
    assert ("node_load1", ()) in got
    failures = [r for r in caplog.records if f"collector {name} failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]


def assert_absent(tmp_path: Path, name: str, success: int) -> None:
    """On empty proc/ and sys/ trees `name` reports no family of its own, with this success
    (0 where node_exporter says ErrNoData, 1 where it just finds nothing)."""
    for sub in ("proc", "sys"):
        (tmp_path / sub).mkdir(exist_ok=True)
    config = fixture_config(tmp_path / "proc", sysfs=tmp_path / "sys", rootfs=str(tmp_path))
    registry = Registry(config, {name: COLLECTORS[name](config)})
    got = samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", name),))] == success
    own = ("node_scrape_collector_", "promwire_exporter_", "process_")
    assert [key for key in got if not key[0].startswith(own)] == []
