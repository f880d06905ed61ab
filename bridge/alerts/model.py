"""The Alert shape and everything that turns outside input into it.

Alertmanager's webhook payload, its `/api/v2/alerts` answer and the manual-alert body all become
`Notice`s: one alert's state as someone reported it, validated and normalised (UTC times truncated
to the millisecond, as Alertmanager's own API prints them, so a webhook's nanosecond `startsAt`
and the API's millisecond one compare equal). The store decides which notices are events.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bridge.alerts import fields
from bridge.config import DEFAULT_CLUSTER
from bridge.errors import BadRequest

SOURCES = ("alertmanager", "manual", "reconcile", "prometheus")  # prometheus: backfilled
EVENT_KINDS = ("firing", "resolved", "refired", "updated", "suppressed", "unsuppressed")
# Alertmanager's status.state of an alert as the bridge keeps it ("unprocessed" is not kept:
# it says nothing yet, so the stored state stays).
STATES = ("active", "suppressed")

_RFC3339 = re.compile(  # ASCII digits only; fullmatch, so no trailing newline either
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII)
# Go's zero time (Alertmanager's "no endsAt") and anything before 1970 mean "not set".
_UNSET_BEFORE_MS = 0
# 9999-12-31T23:59:59.999Z: later instants (e.g. that day with a -23:59 offset) cannot be
# printed back as RFC 3339 with a four-digit year.
MAX_TIME_MS = 253_402_300_799_999
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# Longest time text remembered by parse_time: nanoseconds and an offset take 35 characters; a
# longer fraction is valid but is not kept (4096 of them, each up to a body's size, would be
# memory an outsider chooses).
_CACHED_TIME_MAX = 40


def parse_time(value: str) -> int:
    """RFC 3339 (any fraction length, any offset) to integer milliseconds since the epoch.

    Fractions are truncated to the millisecond, as Alertmanager's API formats them. Every
    notice carries two times, so this is arithmetic on the matched fields; `datetime` only
    checks that they name a real instant (month 1-12, the month's days, no leap second). The
    same texts come again and again (Go's zero time as every firing alert's endsAt, an alert's
    startsAt in each notification of its life): the last few thousand short ones are
    remembered (an error is not).
    """
    if len(value) <= _CACHED_TIME_MAX:
        return _cached_time(value)
    return _parse_time(value)


@functools.lru_cache(maxsize=4096)
def _cached_time(value: str) -> int:
    return _parse_time(value)


def _parse_time(value: str) -> int:
    m = _RFC3339.fullmatch(value)
    if not m:
        raise ValueError(f"expected an RFC 3339 time, got {value!r}")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        days = datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second)).toordinal() - _EPOCH_ORDINAL
    except ValueError as exc:
        raise ValueError(f"invalid time {value!r}: {exc}") from None
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if offset not in ("Z", "z"):
        shift = int(offset[1:3]) * 3600 + int(offset[4:6]) * 60
        if shift >= 86400:
            raise ValueError(f"invalid time {value!r}: offset beyond 23:59")
        seconds -= shift if offset[0] == "+" else -shift
    ms = seconds * 1000 + (int(fraction[:3].ljust(3, "0")) if fraction else 0)
    if ms > MAX_TIME_MS:
        raise ValueError(f"{value!r} is after 9999-12-31T23:59:59.999Z")
    return ms


def ended_ms(body: str) -> int:
    """When the life of a stored resolved alert (its JSON) ended: its endsAt, else its last
    update."""
    alert = json.loads(body)
    return parse_time(alert.get("endsAt") or alert["updatedAt"])


def format_time(ms: int) -> str:
    """Milliseconds to RFC 3339 UTC; the fraction only when there is one."""
    seconds, millis = divmod(ms, 1000)
    text = _second_text(seconds)
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


@functools.lru_cache(maxsize=1024)
def _second_text(seconds: int) -> str:
    """A second's text: the events of one second (and an alert's startsAt, printed in every
    frame of its life) share it."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over sorted name/value pairs, each
    followed by the 0xff separator, printed as 16 hex digits. Manual alerts get the same id
    Alertmanager would give them."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(frozen=True, slots=True)
class Suppression:
    """Whether Alertmanager mutes an alert, and by what: silence ids, inhibiting fingerprints."""

    state: str = "active"
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    @classmethod
    def of(cls, alert: Mapping[str, Any]) -> Suppression:
        """The suppression a stored alert carries (rows from before clusters: active)."""
        return cls(alert.get("state") or "active", tuple(alert.get("silencedBy") or ()),
                   tuple(alert.get("inhibitedBy") or ()))


ACTIVE = Suppression()


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert's state as reported by a source; `starts_ms` None = "keep the stored one",
    `suppression` None = "not reported" (webhooks and manual alerts: keep the stored one)."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_ms: int | None
    ends_ms: int | None
    generator_url: str
    source: str
    cluster: str = DEFAULT_CLUSTER
    suppression: Suppression | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the alert: (cluster, fingerprint)."""
        return self.cluster, self.fingerprint

    def alert(self, starts_ms: int, updated_ms: int,
              suppression: Suppression = ACTIVE) -> dict[str, Any]:
        """The README's Alert shape for this notice as stored at `updated_ms`. A resolved
        alert is never suppressed. The keys added with clusters come last, where the schema
        migration appends them to older rows, so every stored alert has one key order."""
        ends: str | None = None
        if self.status == "resolved":
            ends = format_time(self.ends_ms if self.ends_ms is not None else updated_ms)
            suppression = ACTIVE
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": format_time(starts_ms),
            "endsAt": ends,
            "generatorURL": self.generator_url,
            "source": self.source,
            "updatedAt": format_time(updated_ms),
            "cluster": self.cluster,
            "state": suppression.state,
            "silencedBy": list(suppression.silenced_by),
            "inhibitedBy": list(suppression.inhibited_by),
        }


@dataclass(frozen=True, slots=True)
class WebhookPayload:
    receiver: str
    status: str
    group_key: str
    truncated: int
    notices: list[Notice]
    external_url: str = ""


def _time(value: Any, where: str, name: str) -> int | None:
    """A time field; Go's zero time and null mean unset."""
    if value is None:
        return None
    try:
        ms = parse_time(fields.string(value, where, name))
    except ValueError as exc:
        raise BadRequest(f"{fields.path(where, name)}: {exc}") from None
    return ms if ms > _UNSET_BEFORE_MS else None


def _notice(item: Any, where: str, source: str, cluster: str = DEFAULT_CLUSTER) -> Notice:
    if not isinstance(item, dict):
        raise BadRequest(f"{where}: expected an object, got {fields.kind(item)}")
    labels = fields.labels(fields.require(item, where, "labels"), where, "labels")
    if not labels:
        raise BadRequest(f"{where}.labels: must not be empty")
    starts = _time(fields.require(item, where, "startsAt"), where, "startsAt")
    if starts is None:
        raise BadRequest(f"{where}.startsAt: must be set")
    fp = item.get("fingerprint")
    fp = (fingerprint(labels) if fp is None
          else fields.string(fp, where, "fingerprint", empty=False))
    return Notice(
        fingerprint=fp,
        status=fields.status(fields.require(item, where, "status"), where),
        labels=labels,
        annotations=fields.labels(fields.absent_empty(item.get("annotations")), where,
                                  "annotations", names=False),
        starts_ms=starts,
        ends_ms=_time(item.get("endsAt"), where, "endsAt"),
        generator_url=fields.optional_string(item.get("generatorURL"), where, "generatorURL"),
        source=source,
        cluster=cluster,
    )


def parse_webhook(data: Any, sender: Callable[[str], str] | None = None) -> WebhookPayload:
    """Alertmanager's webhook body (version "4") to notices, or BadRequest naming the field.

    `sender(externalURL)` names the cluster that sent it (default: `default`); it is asked
    before the notices are made, so each is made once, in its cluster."""
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object, got {fields.kind(data)}")
    version = fields.require(data, "", "version")
    if version != "4":
        raise BadRequest(f"version: expected \"4\", got {version!r}")
    alerts = fields.require(data, "", "alerts")
    if not isinstance(alerts, list):
        raise BadRequest(f"alerts: expected a list, got {fields.kind(alerts)}")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        if data.get(key) is not None:
            fields.labels(data[key], "", key, names=key != "commonAnnotations")
    for key in ("externalURL", "groupKey"):
        if data.get(key) is not None:
            fields.string(data[key], "", key)
    truncated = fields.count(data.get("truncatedAlerts", 0), "", "truncatedAlerts")
    receiver = fields.string(fields.require(data, "", "receiver"), "", "receiver")
    status = fields.status(fields.require(data, "", "status"), "")
    external_url = data.get("externalURL") or ""
    cluster = DEFAULT_CLUSTER if sender is None else sender(external_url)
    return WebhookPayload(
        receiver=receiver,
        status=status,
        group_key=fields.optional_string(data.get("groupKey"), "", "groupKey"),
        truncated=truncated,
        notices=[_notice(item, f"alerts[{i}]", "alertmanager", cluster)
                 for i, item in enumerate(alerts)],
        external_url=external_url,
    )


def parse_manual(data: Any) -> Notice:
    """The body of POST /api/ws/broadcast/alert: labels (with alertname), optional annotations,
    status (default firing), startsAt/endsAt, generatorURL."""
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object, got {fields.kind(data)}")
    known = {"labels", "annotations", "status", "startsAt", "endsAt", "generatorURL", "cluster"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (valid: {', '.join(sorted(known))})")
    labels = fields.labels(fields.require(data, "", "labels"), "", "labels")
    if not labels.get("alertname"):
        raise BadRequest("labels.alertname: missing")
    return Notice(
        fingerprint=fingerprint(labels),
        status=fields.status(data.get("status", "firing"), ""),
        labels=labels,
        annotations=fields.labels(fields.absent_empty(data.get("annotations")), "",
                                  "annotations", names=False),
        starts_ms=_time(data.get("startsAt"), "", "startsAt"),
        ends_ms=_time(data.get("endsAt"), "", "endsAt"),
        generator_url=fields.optional_string(data.get("generatorURL"), "", "generatorURL"),
        source="manual",
        cluster=fields.string(data.get("cluster", DEFAULT_CLUSTER), "", "cluster", empty=False),
    )


def parse_am_alerts(data: Any, cluster: str = DEFAULT_CLUSTER) -> list[Notice]:
    """Alertmanager's GET /api/v2/alerts answer (every alert it holds, silenced and inhibited
    included) as firing notices of `cluster`, each with its `status` (state, silencedBy,
    inhibitedBy). An "unprocessed" alert reports no suppression (the stored one stays).

    Raises ValueError when the answer is not that API's shape.
    """
    if not isinstance(data, list):
        raise ValueError(f"expected a list of alerts, got {fields.kind(data)}")
    notices = []
    for i, item in enumerate(data):
        try:
            body = dict(item) if isinstance(item, dict) else item
            if isinstance(body, dict):
                body["status"] = "firing"
                body.setdefault("startsAt", None)
            notice = _notice(body, f"[{i}]", "reconcile")
            suppression = _am_status(item.get("status"), f"[{i}].status")
        except BadRequest as exc:
            raise ValueError(str(exc.detail)) from None
        notices.append(replace(notice, cluster=cluster, suppression=suppression))
    return notices


def _am_status(value: Any, field: str) -> Suppression | None:
    """`{"state", "silencedBy", "inhibitedBy"}` of the API's alert; absent = not reported."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{field}: expected an object, got {fields.kind(value)}")
    state = value.get("state")
    if state == "unprocessed":
        return None
    if state not in STATES:
        raise BadRequest(f"{field}.state: expected active, suppressed or unprocessed, "
                         f"got {state!r:.40}")
    ids = [fields.id_list(value.get(key), field, key) for key in ("silencedBy", "inhibitedBy")]
    return Suppression(state, *ids)
