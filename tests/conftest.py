"""Shared fixtures: real exporter + real Prometheus, started once per session.

Tests that stop or reconfigure Prometheus start their own with `tests.servers` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import servers


@dataclass
class NodeStack:
    exporter: servers.Process
    prometheus: servers.Process

    @property
    def exporter_target(self) -> str:
        return self.exporter.address


@pytest.fixture(scope="session")
def node_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeStack]:
    """The real exporter scraped every second by a real Prometheus, with data already in."""
    base = tmp_path_factory.mktemp("node_stack")
    exp = servers.exporter(base / "exporter").start()
    prom = servers.prometheus(base / "prometheus", [exp.address])
    prom.start()
    try:
        servers.wait_for(
            lambda: servers.prom_query(prom.url, 'up{job="node"} == 1')
            and servers.prom_query(prom.url, "rate(node_cpu_seconds_total[5s])"),
            timeout=60, message="Prometheus to scrape the exporter twice")
        yield NodeStack(exp, prom)
    finally:
        prom.stop()
        exp.stop()


REPO_DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(autouse=True)
def _no_bridge_data_in_the_checkout() -> Iterator[None]:
    """Fail a test that makes `./data` appear in the checkout: BridgeConfig's default data_dir.

    An in-process bridge must get the test's tmp dir as `data_dir` (the alert store writes
    `alerts.db` there). A `data/` that was already present (a manual run) is left alone.
    """
    existed = REPO_DATA.exists()
    yield
    if not existed and REPO_DATA.exists():
        pytest.fail(f"this test created {REPO_DATA}: give the bridge config data_dir=tmp_path")
