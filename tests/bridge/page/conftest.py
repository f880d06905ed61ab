"""Chromium for the page's browser tests: one per test module, a fresh page per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import Browser, Page


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
