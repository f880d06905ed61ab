"""The silence endpoints' OpenAPI schemas agree with the server's parsing."""

from __future__ import annotations

import jsonschema
import pytest

from bridge.alerts.acks import parse_ack
from bridge.alerts.silencerequest import parse_request
from bridge.app import create_app
from bridge.config import BridgeConfig
from bridge.errors import BadRequest


@pytest.fixture
async def doc(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(BridgeConfig(data_dir=str(tmp_path))))
    return await (await client.get("/api/openapi.json")).json()


def check(doc, path):
    schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


async def test_silence_bodies_the_schema_allows_parse(doc):
    valid = check(doc, "/api/silences")
    for body in ({"matchers": ['alertname="X"'], "duration": "2h", "comment": "c"},
                 {"cluster": "default", "matchers": '{alertname="X",severity=~"crit.*"}',
                  "endsAt": "2030-01-01T00:00:00Z", "comment": "c"},
                 {"id": "0f-aa", "comment": "longer"}):
        valid.validate(body)
        parse_request(body, "default")
    for body in ({"matchers": "x", "duration": "1h", "comment": "c"},
                 {"matchers": ['a="1"'], "duration": "1h", "comment": ""},
                 {"matchers": ['a="1"'], "duration": "1h", "comment": "c", "who": 1},
                 {"matchers": ['a="1"'], "duration": "0h", "comment": "c"},
                 {"matchers": [], "duration": "1h", "comment": "c"}):
        assert not valid.is_valid(body), body
        with pytest.raises(BadRequest):
            parse_request(body, "default")


async def test_ack_bodies_the_schema_allows_parse(doc):
    valid = check(doc, "/api/alerts/{fingerprint}/ack")
    for body in ({"comment": "c"}, {"comment": "c", "duration": "24h"},
                 {"comment": "c", "duration": "1440m"}):
        valid.validate(body)
        parse_ack(body)
    for body in ({"comment": "c", "duration": "25h"}, {"comment": " "}, {}):
        assert not valid.is_valid(body), body
        with pytest.raises(BadRequest):
            parse_ack(body)
