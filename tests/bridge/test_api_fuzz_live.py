"""Issue 9, "In CI": a bounded schemathesis pass over /api/openapi.json against a real bridge
on the session's real Prometheus, with the token and without it (fixed seed, about 25 s each).

It fails on any 5xx, any answer that does not match the document, any schema-invalid request
accepted, any schema-valid request refused (but for the documented cross-field rules), and any
traceback in the bridge's log. `make fuzz` runs the same checks for much longer.
"""

from __future__ import annotations

import pytest

from tests.bridge import apifuzz

pytestmark = pytest.mark.integration


def test_schemathesis_finds_nothing(node_stack, tmp_path):
    with apifuzz.stack(tmp_path, node_stack.prometheus.url) as bridge:
        passes = apifuzz.both(bridge.url, tmp_path, seed=20261202, max_examples=25,
                              max_time=25)
        log = bridge.log_path.read_text(errors="replace")
    for result in passes:
        print(result.summary())
        assert result.report, f"{result.name}: no report\n{result.output[-3000:]}"
        assert result.generated > 200, result.summary()  # it really exercised the API
        assert not result.errors, result.output[-6000:]
        assert not result.failures and result.exit_code == 0, result.output[-6000:]
    assert "Traceback" not in log, log[-3000:]
