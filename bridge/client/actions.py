"""Acting on a bridge's alerts from a script or a terminal: `ack()` acknowledges one alert
(POST /api/alerts/{fingerprint}/ack), which the bridge turns into an Alertmanager silence
matching that alert's labels exactly (README "Alerts": acks).

Synchronous (urllib), like `MetricsFetcher`: one request, no event loop. Several bridges
(replicas) may be given: an unreachable one is skipped, but an answer — success or the API's
error — ends the call, since a write must not be repeated on another replica.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from bridge.client.common import auth_headers
from bridge.protocol import ALERTS_PATH


class ActionError(Exception):
    """The bridge refused (`status`, its `error` code and `detail`) or could not be reached
    (`status` None)."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.detail = status, error, detail


def _refusal(exc: urllib.error.HTTPError) -> ActionError:
    """The API's `{"error", "detail"}` body as an ActionError (`404 not_found: ...`)."""
    try:
        body = json.loads(exc.read())
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        error, detail = str(body["error"]), str(body.get("detail", ""))
        return ActionError(f"{exc.code} {error}: {detail}", exc.code, error, detail)
    return ActionError(f"HTTP {exc.code} {exc.reason}", exc.code)


def post_json(bases: Sequence[str], path: str, body: dict[str, Any], token: str | None,
              timeout: float = 10.0) -> dict[str, Any]:
    """POST `body` to the first reachable bridge; its JSON answer, or ActionError."""
    unreachable: list[str] = []
    for base in bases:
        request = urllib.request.Request(
            base.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
            headers=auth_headers(token, {"Content-Type": "application/json"}))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            unreachable.append(f"cannot reach {base}: {getattr(exc, 'reason', exc)}")
            continue
        except ValueError:
            raise ActionError(f"{base}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ActionError(f"{base}: unexpected answer {answer!r:.80}")
        return answer
    raise ActionError("; ".join(unreachable) or "no bridge given")


def ack(bases: str | Sequence[str], fingerprint: str, comment: str, *,
        duration: str | None = None, cluster: str | None = None, token: str | None = None,
        timeout: float = 10.0) -> dict[str, Any]:
    """Acknowledge the alert `fingerprint` (in `cluster`, needed when the fingerprint fires in
    more than one) for `duration` ("1h" by default on the bridge, at most "24h"). Returns the
    ack's silence (`{"cluster", "id", "endsAt", ...}`); ActionError with the API's error."""
    path = f"{ALERTS_PATH}/{quote(fingerprint, safe='')}/ack"
    if cluster:
        path += "?" + urlencode({"cluster": cluster})
    body: dict[str, Any] = {"comment": comment}
    if duration:
        body["duration"] = duration
    answer = post_json([bases] if isinstance(bases, str) else bases, path, body, token, timeout)
    silence = answer.get("silence")
    if not isinstance(silence, dict):
        raise ActionError(f"unexpected answer: {json.dumps(answer)[:120]}")
    return silence
