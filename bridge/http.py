"""HTTP plumbing shared by every route: JSON answers, the error mapping, CORS, auth, Origin.

Auth: `identify` says who a request's token belongs to (a `bridge.tokens.Principal`, kept under
`PRINCIPAL_KEY`), `require_scope` refuses it 401/403 unless it holds the scope an endpoint needs.

`error_middleware` is the single place where exceptions become HTTP answers: a `BridgeError`
becomes its status and `{"error", "detail"}` body, aiohttp's own HTTP exceptions (404, 405, 413)
get the same JSON shape, and anything unexpected is logged and answered 500 without a traceback.
Once a stream's status line is out (a WebSocket's 101, SSE's 200), an error can no longer be an
HTTP answer: it ends that stream instead (a close code on a WebSocket).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bridge.config import BridgeConfig
from bridge.errors import BadRequest, BridgeError, Forbidden
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY
from bridge.protocol import CLOSE_INTERNAL, CLOSE_POLICY
from bridge.streams.connection import close_websocket
from bridge.tokens import READ, TOKENS_KEY, WEBHOOK, Principal, check_scope

log = logging.getLogger("bridge.http")

# The streamed answer (WebSocket, SSE) whose status line `start_stream` has sent.
STREAM_KEY = web.RequestKey("stream", web.StreamResponse)
# Who is acting on the request (its token's Principal), once `identify` found one.
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
# Methods that change nothing: the only ones `auth.read_only` lets through (webhooks aside).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
}


MAX_DETAIL = 200


def one_line(message: str) -> str:
    """aiohttp's error messages on one line, at most MAX_DETAIL characters: its parser puts the
    offending bytes on a second line and a caret under them on a third
    (`Invalid header token: b'Bad Header: 1'`)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and set(lines[-1]) == {"^"}:
        lines.pop()
    return " ".join(lines)[:MAX_DETAIL]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json",
                        headers=headers)


def error_response(exc: BridgeError) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="promwire"'} if exc.status == 401 else None
    return json_response(exc.body(), status=exc.status, headers=headers)


async def start_stream(request: web.Request, resp: web.StreamResponse) -> None:
    """Send `resp`'s status line (101 or 200) and remember it: an error raised after this point
    ends that stream rather than writing a second status line into it (`error_middleware`)."""
    if isinstance(resp, web.WebSocketResponse):
        _check_handshake(request)
    await resp.prepare(request)
    request[STREAM_KEY] = resp


def _check_handshake(request: web.Request) -> None:
    """aiohttp's handshake base64-decodes Sec-WebSocket-Key with a ValueError (a 500) for
    undecodable bytes: refuse them first, as the 400 aiohttp gives for other bad keys. A plain
    GET gets a 400 that says what the endpoint wants, not aiohttp's bare "Bad Request"."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise BadRequest("this is a WebSocket endpoint: the request needs Upgrade: websocket "
                         "and Connection: Upgrade (RFC 6455); for plain HTTP use the SSE "
                         "endpoints under /api/sse/")
    key = request.headers.get("Sec-WebSocket-Key", "")
    if not key.isascii():
        raise BadRequest("Sec-WebSocket-Key: expected 16 bytes in base64 (RFC 6455)")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ConnectionResetError:
        raise
    except Exception as exc:
        if STREAM_KEY in request or request.writer.output_size:
            return await _end_stream(request, exc)
        return _error_answer(request, exc)


def _error_answer(request: web.Request, exc: Exception) -> web.Response:
    """The JSON answer for `exc`, before anything was sent; redirects are re-raised."""
    if isinstance(exc, BridgeError):
        if exc.status >= 500:
            log.warning("%s %s -> %s %s", request.method, request.path, exc.status, exc.detail)
        return error_response(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400 or exc.content_type == "application/json":
            raise exc
        code = HTTP_ERROR_CODES.get(exc.status, "http_error")
        detail = exc.reason
        if exc.status == 404:
            detail = f"no route for {request.method} {request.path}"
        elif exc.status == 413:
            limit = request.app[CONFIG_KEY].http.max_body_bytes
            detail = f"request body larger than {limit} bytes"
        return json_response({"error": code, "detail": detail}, status=exc.status,
                             headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_response({"error": "internal", "detail": "internal server error"}, 500)


async def _end_stream(request: web.Request, exc: Exception) -> web.StreamResponse:
    """An error after a stream started: close a WebSocket with a code (1008 for bad input,
    1011 for our fault), end an SSE body; never a second status line on the wire."""
    status = exc.status if isinstance(exc, BridgeError | web.HTTPException) else 500
    error = exc.error if isinstance(exc, BridgeError) else HTTP_ERROR_CODES.get(status,
                                                                                  "internal")
    if status >= 500:
        log.error("error in the stream %s %s", request.method, request.path, exc_info=exc)
    resp = request.get(STREAM_KEY)
    if isinstance(resp, web.WebSocketResponse) and not resp.closed:
        code = CLOSE_POLICY if status < 500 else CLOSE_INTERNAL
        with contextlib.suppress(Exception):
            await close_websocket(request, resp, code, error)
    if resp is not None:
        return resp
    if request.transport is not None:  # started by hand, not by start_stream: cut it
        request.transport.abort()
    raise ConnectionResetError(f"error after the answer started: {exc!r}") from exc


def origin_allowed(config: BridgeConfig, request: web.Request) -> bool:
    """True for no Origin (non-browser clients), the bridge's own origin, or an allowlisted one."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    allowed = config.http.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    own = f"{request.scheme}://{request.host}"
    return origin == own


def _listed(config: BridgeConfig, origin: str | None) -> bool:
    allowed = config.http.allowed_origins
    return bool(origin) and ("*" in allowed or origin in allowed)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS preflights, answered from the allowlist (empty = same origin only). The headers of
    every other answer are added by `cors_headers`."""
    origin = request.headers.get("Origin")
    if (request.method != "OPTIONS" or not origin
            or "Access-Control-Request-Method" not in request.headers):
        return await handler(request)
    if not _listed(request.app[CONFIG_KEY], origin):
        return error_response(Forbidden(f"origin {origin} is not allowed"))
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: allow an allowlisted Origin to read the answer. Added as the
    headers go out, so streamed answers (SSE), which a middleware sees only once they are
    sent, get them too."""
    origin = request.headers.get("Origin")
    if _listed(request.app[CONFIG_KEY], origin):
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Vary"] = "Origin"


def request_token(request: web.Request) -> str | None:
    """The token a request carries: Bearer header, Basic password, or `?token=` (for browsers'
    WebSocket and EventSource, which cannot set headers)."""
    header = request.headers.get("Authorization", "")
    if not header.isascii():  # aiohttp keeps undecodable bytes as surrogates: not a token
        raise BadRequest("Authorization: the header must be ASCII (Bearer <token>)")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            _user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password
    token = request.query.get("token")
    if token is not None and not token.isascii():
        raise BadRequest("token: must be ASCII")
    return token


def identify(request: web.Request) -> Principal | None:
    """Who the request's token belongs to (None: no token, or not one of ours). Looked up once
    per request and kept under PRINCIPAL_KEY, where handlers read who is acting."""
    if PRINCIPAL_KEY in request:
        return request[PRINCIPAL_KEY]
    principal = request.app[TOKENS_KEY].lookup(request_token(request))
    if principal is not None:
        request[PRINCIPAL_KEY] = principal
    return principal


def require_scope(request: web.Request, scope: str) -> Principal:
    """The acting Principal if its token holds `scope`: else 401 (no or unknown token) or 403
    naming the scope. With `auth.read_only`, every write (a method other than GET/HEAD) but a
    webhook is 403 whatever the token: Alertmanager's deliveries keep the alerts current.

    With no token configured nothing matches: writes are never open by accident.
    """
    if (request.app[CONFIG_KEY].auth.read_only and scope != WEBHOOK
            and request.method not in SAFE_METHODS):
        raise Forbidden(f"read-only mode: this bridge refuses {request.method} "
                        f"{request.path} (auth.read_only)")
    return check_scope(identify(request), scope)


def require_read_access(request: web.Request) -> None:
    """Reads are open unless `auth.protect_reads` is set; then they need the `read` scope."""
    if request.app[CONFIG_KEY].auth.protect_reads:
        require_scope(request, READ)


def check_origin(request: web.Request) -> None:
    """Refuse WebSocket upgrades and SSE from a foreign Origin (cross-site WebSocket hijacking)."""
    if not origin_allowed(request.app[CONFIG_KEY], request):
        raise Forbidden(f"origin {request.headers.get('Origin')} is not allowed")
