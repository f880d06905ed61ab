"""Chromium for the page's browser tests (one per test module, a fresh page per test), and the
bridge they run against (one per module, on the session's Prometheus and exporter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.bridge.page.helpers import start_bridge
from tests.browser import Browser, Page
from tests.conftest import NodeStack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(url: str) -> Page:
        page = browser.new_page(url)
        pages.append(page)
        return page
    yield opener
    for page in pages:
        page.close()


@pytest.fixture(scope="module")
def bridge(node_stack: NodeStack, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[servers.Process]:
    proc = start_bridge(tmp_path_factory.mktemp("page_bridge"), node_stack.prometheus.url)
    try:
        yield proc
    finally:
        proc.stop()
