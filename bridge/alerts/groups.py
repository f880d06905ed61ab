"""GET /api/alerts/groups: the alert groups as Alertmanager routes them, per cluster.

Each cluster's `GET /api/v2/alerts/groups` is read through its active peer (failover in peer
order, `bridge.upstream.alertmanager.Cluster.get_json`), every cluster at once. Each group is
`{"cluster", "receiver", "labels", "alerts"}`, the alerts in the bridge's Alert shape (with
`cluster`, `state`, `silencedBy`, `inhibitedBy`; `source` "alertmanager").

Filters: `cluster=` (one configured cluster; unknown: 400), `filter=` matchers on the alert's
labels, `state=active|suppressed|all` (default active: what the webhook is told about, as
everywhere else). A group left with no alert is left out.

Partial answers, decided: when some clusters answer and others cannot be read, the answer is 200
with the groups of those that answered and one entry per cluster that did not in `errors`
(`{"cluster", "error", "detail"}`), so one cluster's outage does not blank the others. When no
cluster asked for answers (or none is configured) the answer is 503 `unavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bridge.alerts import historydoc
from bridge.alerts.matchers import Matcher, matches_all, parse_filters
from bridge.alerts.model import format_time, parse_time
from bridge.errors import BadRequest, BridgeError, UpstreamInvalid, UpstreamUnavailable
from bridge.http import json_response, require_read_access
from bridge.keys import CONFIG_KEY
from bridge.openapi import document
from bridge.upstream.alertmanager import CLUSTERS_KEY, GROUPS_ENDPOINT, Cluster

routes = web.RouteTableDef()
PATHS = ("/api/alerts/groups",)

STATES = ("active", "suppressed", "all")


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UpstreamInvalid(f"Alertmanager's groups: {where} is not an object of strings")
    return value


def _time(value: Any, where: str) -> str:
    try:
        if isinstance(value, str):
            return format_time(parse_time(value))
    except ValueError:
        pass
    raise UpstreamInvalid(f"Alertmanager's groups: {where} is not an RFC 3339 time")


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def alert_of(item: Any, cluster: str) -> dict[str, Any]:
    """One of Alertmanager's GettableAlerts as the bridge's Alert (active alerts are firing;
    Alertmanager's `unprocessed` is `active`: nothing suppresses it yet)."""
    if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
        raise UpstreamInvalid("Alertmanager's groups: an alert without a fingerprint")
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    return {
        "fingerprint": item["fingerprint"], "status": "firing",
        "labels": _strings(item.get("labels"), "labels"),
        "annotations": _strings(item.get("annotations") or {}, "annotations"),
        "startsAt": _time(item.get("startsAt"), "startsAt"), "endsAt": None,
        "generatorURL": item.get("generatorURL") or "", "source": "alertmanager",
        "updatedAt": _time(item.get("updatedAt"), "updatedAt"), "cluster": cluster,
        "state": "suppressed" if status.get("state") == "suppressed" else "active",
        "silencedBy": _ids(status.get("silencedBy")),
        "inhibitedBy": _ids(status.get("inhibitedBy")),
    }


def groups_of(data: Any, cluster: str, matchers: tuple[Matcher, ...], state: str
              ) -> list[dict[str, Any]]:
    """Alertmanager's groups answer, converted and filtered; groups left empty are dropped."""
    if not isinstance(data, list):
        raise UpstreamInvalid("Alertmanager's groups answer is not a list")
    groups = []
    for group in data:
        if not isinstance(group, dict) or not isinstance(group.get("alerts"), list):
            raise UpstreamInvalid("Alertmanager's groups: a group without alerts")
        receiver = group.get("receiver")
        name = receiver.get("name") if isinstance(receiver, dict) else None
        alerts = [a for a in (alert_of(item, cluster) for item in group["alerts"])
                  if (state == "all" or a["state"] == state)
                  and matches_all(matchers, a["labels"])]
        if alerts:
            groups.append({"cluster": cluster, "receiver": name if isinstance(name, str) else "",
                           "labels": _strings(group.get("labels") or {}, "group labels"),
                           "alerts": alerts})
    return groups


def _state(query: Mapping[str, str]) -> str:
    state = query.get("state") or "active"
    if state not in STATES:
        raise BadRequest(f"state: expected one of {', '.join(STATES)}, got {state!r:.40}",
                         parameter="state")
    return state


def _clusters(request: web.Request) -> list[Cluster]:
    clusters = request.app[CLUSTERS_KEY]
    name = request.query.get("cluster")
    chosen = [clusters.get(name)] if name else list(clusters)
    if not chosen:
        raise UpstreamUnavailable("no Alertmanager configured")
    return chosen


@routes.get("/api/alerts/groups")
async def alert_groups(request: web.Request) -> web.Response:
    """`{"groups": [...], "errors": [...]}` across the clusters asked for (module docstring)."""
    require_read_access(request)
    matchers = parse_filters(request.query.getall("filter", []),
                             request.app[CONFIG_KEY].alerts.max_matchers)
    state = _state(request.query)
    chosen = _clusters(request)
    answers = await asyncio.gather(*(c.get_json(GROUPS_ENDPOINT, {}) for c in chosen),
                                   return_exceptions=True)
    groups: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for cluster, answer in zip(chosen, answers, strict=True):
        try:
            if isinstance(answer, BaseException):
                raise answer
            groups.extend(groups_of(answer, cluster.name, matchers, state))
        except BridgeError as exc:
            errors.append({"cluster": cluster.name, "error": exc.error, "detail": exc.detail})
    if len(errors) == len(chosen):
        raise UpstreamUnavailable("; ".join(f"{e['cluster']}: {e['detail']}" for e in errors))
    return json_response({"groups": groups, "errors": errors})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    document(app, {path: ops for path, ops in historydoc.paths(app[CONFIG_KEY].alerts).items()
                   if path in PATHS}, historydoc.SCHEMAS)
