"""OpenAPI description of the live page's routes (`/`, `/static/{name}`)."""

from __future__ import annotations

from typing import Any

from bridge.apischema import errors, param

PATHS: dict[str, Any] = {
    "/": {"get": {
        "summary": "The live page: hosts overview, per-host charts, firing alerts, live.",
        "description": "HTML with ES modules and the vendored uPlot from /static/ (no external "
                       "assets). It reads the catalog, /api/instances, the history endpoint "
                       "and the metric and alert streams (WebSocket, else SSE, else REST "
                       "polling); `?token=` is passed on to them (auth.protect_reads). The "
                       "view is in the URL's hash (`#host=NAME&range=1h`). Served without the "
                       "token, with a strict Content-Security-Policy, an ETag, "
                       "Cache-Control: no-cache, gzipped when accepted.",
        "parameters": [param("token", "The auth token, passed on by the page to the streams "
                                      "and REST endpoints it reads.")],
        "responses": {"200": {"description": "The page.",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "304": {"description": "Not modified (If-None-Match matched the ETag)."}},
    }},
    "/static/{name}": {"get": {
        "summary": ("A file of the live page (JavaScript module, style sheet, icon, "
                    "vendored uPlot)."),
        "parameters": [param("name", "File path, e.g. page.js or vendor/uplot/uPlot.min.css.",
                             where="path", required=True)],
        "responses": {"200": {"description": "The file, with its content type and ETag.",
                              "content": {"text/javascript": {"schema": {"type": "string"}},
                                          "text/css": {"schema": {"type": "string"}},
                                          "image/svg+xml": {"schema": {"type": "string"}}}},
                      "304": {"description": "Not modified (If-None-Match matched the ETag)."},
                      **errors("404")},
    }},
}
