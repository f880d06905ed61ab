"""Helpers shared by the client and promwire-watch tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(predicate: Callable[[], Any], limit: float = 30.0) -> Any:
    """Wait for a condition driven by the client's own progress. `limit` only keeps a broken
    build from hanging; no test asserts how long anything took."""
    async with asyncio.timeout(limit):
        while True:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
