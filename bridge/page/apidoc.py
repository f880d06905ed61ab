"""OpenAPI description of the live page's routes (`/`, `/static/{name}`)."""

from __future__ import annotations

from typing import Any

from bridge.apischema import errors, param

PATHS: dict[str, Any] = {
    "/": {"get": {
        "summary": "The live page: hosts, firing alerts and stream states, updated live.",
        "description": "HTML with ES modules from /static/ (no external assets). It reads the "
                       "metric and alert streams (WebSocket, else SSE, else REST polling) and "
                       "the catalog; `?token=` is passed on to them (auth.protect_reads). "
                       "Served without the token, with a strict Content-Security-Policy, an "
                       "ETag and Cache-Control: no-cache.",
        "parameters": [param("token", "The auth token, passed on by the page to the streams "
                                      "and REST endpoints it reads.")],
        "responses": {"200": {"description": "The page.",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "304": {"description": "Not modified (If-None-Match matched the ETag)."}},
    }},
    "/static/{name}": {"get": {
        "summary": "A file of the live page (JavaScript module, style sheet, icon).",
        "parameters": [param("name", "File name, e.g. page.js.", where="path", required=True)],
        "responses": {"200": {"description": "The file, with its content type and ETag.",
                              "content": {"text/javascript": {"schema": {"type": "string"}},
                                          "text/css": {"schema": {"type": "string"}},
                                          "image/svg+xml": {"schema": {"type": "string"}}}},
                      "304": {"description": "Not modified (If-None-Match matched the ETag)."},
                      **errors("404")},
    }},
}
