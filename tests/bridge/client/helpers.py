"""Helpers shared by the client and promwire-watch tests."""

from __future__ import annotations

from functools import partial

from tests.bridge.streams import helpers as stream_helpers

# Wait for a condition driven by the client's own progress: the streams tests' `until`, with a
# longer guard because these tests wait through reconnects and bridge restarts. The limit only
# keeps a broken build from hanging; no test asserts how long anything took.
until = partial(stream_helpers.until, limit=30.0)
