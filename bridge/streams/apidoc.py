"""OpenAPI descriptions of the metric stream endpoints (`/api/ws/ws`, `/api/sse/metrics`).

OpenAPI cannot describe a WebSocket conversation; the upgrade, its parameters and refusals are
here, the frames are in the README "Streams" section.
"""

from __future__ import annotations

from typing import Any

from bridge.apischema import PROMQL, errors, param

NON_EMPTY = {"type": "string", "minLength": 1, "pattern": r"[^,\s]"}

TOKEN = param("token", "The auth token, for clients that cannot set Authorization (needed "
              "with auth.protect_reads: the `read` scope; raw query subscriptions need "
              "`admin`). ASCII only.",
              {"type": "string", "pattern": "^[\\u0000-\\u007f]*$"})

PATHS: dict[str, Any] = {
    "/api/ws/ws": {"get": {
        "summary": "Live metric stream (WebSocket upgrade).",
        "description": "Without a word from the client: a `metrics` frame (the Snapshot shape "
                       "plus `type` and `id`: \"default\") at once and every streams.interval. "
                       "JSON text frames `subscribe`/`unsubscribe` change what is streamed; "
                       "see the README \"Streams\" section for every frame. Subprotocol "
                       "`promwire.msgpack` or `?format=msgpack` selects msgpack binary frames.",
        "parameters": [param("format", "Frame encoding.", {"type": "string",
                                                            "enum": ["json", "msgpack"]}),
                       TOKEN],
        "responses": {"101": {"description": "Switching to WebSocket. Beyond "
                                             "streams.max_connections it is then closed with "
                                             "1013."},
                      **errors("400", "401", "403")}}},
    "/api/sse/metrics": {"get": {
        "summary": "Live metric stream as server-sent events.",
        "description": "One subscription chosen by the parameters (none = every catalog "
                       "metric at streams.interval). Events are named by frame type "
                       "(`subscribed`, `metrics`, `status`, `error`, `heartbeat`) and carry the "
                       "same JSON as WebSocket frames.",
        "parameters": [
            param("metrics", "Catalog names, comma-separated or repeated (default: all).",
                  NON_EMPTY),
            param("instances", "Only these instances, comma-separated or repeated.", NON_EMPTY),
            param("interval", "Seconds between frames, an ASCII decimal (from "
                  "streams.min_interval to 86400).", {"type": "number", "maximum": 86400}),
            param("delta", "Only changed samples after the first frame.", {"type": "boolean"}),
            param("query", "Raw PromQL instead of catalog metrics (metrics.raw_queries and a "
                           "token with the `admin` scope).", PROMQL),
            TOKEN],
        "responses": {"200": {"description": "An endless text/event-stream.",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      **errors("400", "401", "403", "404", "429", "503")}}},
}

