"""One small exception hierarchy for everything the bridge can answer with an error.

Handlers and services raise these; `bridge.http.error_middleware` is the one place that turns
them into HTTP answers, and WebSocket code turns them into `error` frames with the same body.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    """Base: an HTTP status, a stable machine-readable `error` code and a human `detail`."""

    status = 500
    error = "internal"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.error)
        self.detail = detail or self.error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body shared by HTTP errors, WebSocket `error` frames and SSE."""
        return {"error": self.error, "detail": self.detail, **self.extra}


class BadRequest(BridgeError):
    status, error = 400, "bad_request"


class Unauthorized(BridgeError):
    status, error = 401, "unauthorized"


class Forbidden(BridgeError):
    status, error = 403, "forbidden"


class NotFound(BridgeError):
    status, error = 404, "not_found"


class RequestTimeout(BridgeError):
    """The request (its body) did not arrive in time."""

    status, error = 408, "request_timeout"


class PayloadTooLarge(BridgeError):
    status, error = 413, "payload_too_large"


class TooManyRequests(BridgeError):
    """One client's share of a bounded resource is used up (the rest stay for others)."""

    status, error = 429, "too_many_requests"


class Unavailable(BridgeError):
    """The bridge cannot serve right now (a store that cannot write, a limit reached)."""

    status, error = 503, "unavailable"


class StorageUnavailable(Unavailable):
    error = "storage_unavailable"


class UpstreamError(BridgeError):
    """Prometheus or Alertmanager answered with an error or not at all."""

    status, error = 502, "bad_upstream"


class UpstreamBadData(UpstreamError):
    """Prometheus `bad_data`: the query the user sent is wrong."""

    status, error = 400, "bad_data"


class UpstreamExecution(UpstreamError):
    """Prometheus `execution`: the query is valid but could not be evaluated."""

    status, error = 422, "execution"


class UpstreamTimeout(UpstreamError):
    """Prometheus `timeout`/`canceled`, or our own deadline passed."""

    status, error = 504, "timeout"


class UpstreamUnavailable(UpstreamError):
    """Prometheus is unreachable or answered `unavailable`."""

    status, error = 503, "unavailable"


class UpstreamInvalid(UpstreamError):
    """The upstream answered something that is not its API (garbage, wrong shape)."""

    status, error = 502, "bad_upstream"
