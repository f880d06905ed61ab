"""Which notices are events: the rules every alert store applies, inside its write transaction.

An alert is identified by (cluster, fingerprint): the same labels in two clusters are two
alerts. Against the stored row of that key:

- never seen: its status is the event (`firing` or `resolved`);
- the same status and startsAt again (group_interval re-sends, both peers of an HA pair): none;
- a webhook's `firing` after a webhook's `resolved`, same startsAt: none either. That is the
  second HA peer's late notification of a change the first already reported; a real re-fire
  has a new startsAt (Prometheus' new ActiveAt). A reconciliation that still finds it firing
  (after the resolution was committed) does refire it: Alertmanager itself says so then;
- firing after resolved, or firing with a newer startsAt: `refired`;
- firing, same startsAt, and Alertmanager's suppression changed (reconciliation only: webhooks
  do not report it): `suppressed` (muted now, or muted by other silences/inhibitors) or
  `unsuppressed`;
- firing, same startsAt, other annotations: `updated`;
- firing -> resolved: `resolved`; a notice older than the stored startsAt: ignored (stale).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from bridge.alerts.model import ACTIVE, Notice, Suppression, parse_time
from bridge.config import DEFAULT_CLUSTER

# Not an event: a webhook reported the alert again unchanged (its seen_ms moves).
SEEN = "seen"

# (status, starts_ms, seen_ms, body) of a stored alert.
Row = tuple[str, int, int, str]

# (fingerprint, seen_ms: when a webhook last reported it) -> may reconciliation resolve it now?
# Asked by one cluster's reconciliation about that cluster's alerts.
MayResolve = Callable[[str, int], bool]


class Verdict(NamedTuple):
    kind: str | None  # the event, SEEN, or None for "nothing changed"
    starts: int  # the startsAt to store
    suppression: Suppression = ACTIVE  # what the stored alert carries from now on


def judge(notice: Notice, row: Row | None, now: int, fetched_ms: int | None) -> Verdict:
    """`decide` in context, for every backend: a reconciliation (`fetched_ms` set) leaves an
    alert a webhook touched after its fetch alone (None), and an unchanged webhook notice is
    SEEN."""
    if fetched_ms is not None and row is not None and row[2] > fetched_ms:
        return Verdict(None, 0)
    verdict = decide(notice, row, now)
    if verdict.kind is None and row is not None and fetched_ms is None:
        return verdict._replace(kind=SEEN)
    return verdict


def decide(notice: Notice, row: Row | None, now: int) -> Verdict:
    """(event kind or None for "nothing changed", the startsAt to store, the suppression)."""
    if row is None:
        starts = notice.starts_ms if notice.starts_ms is not None else now
        return Verdict(notice.status, starts, notice.suppression or ACTIVE)
    status, stored_starts, _seen, body = row
    stored = json.loads(body)
    was = Suppression.of(stored)
    now_is = notice.suppression or was
    starts = notice.starts_ms
    if starts is None:  # a manual notice without startsAt continues or re-opens the alert
        reopen = notice.status == "firing" and status == "resolved"
        starts = now if reopen else stored_starts
    if starts < stored_starts:
        return Verdict(None, starts, was)
    if notice.status == "firing":
        if status == "resolved":
            late = (starts == stored_starts and notice.source == "alertmanager"
                    and stored.get("source") == "alertmanager")
            return Verdict(None if late else "refired", starts, now_is)
        if starts != stored_starts:
            return Verdict("refired", starts, now_is)
        change = suppression_change(was, now_is)
        if change is not None:
            return Verdict(change, starts, now_is)
        if stored.get("annotations") != notice.annotations:
            return Verdict("updated", starts, now_is)
        return Verdict(None, starts, now_is)
    if status == "firing" or starts != stored_starts:
        return Verdict("resolved", starts, ACTIVE)
    return Verdict(None, starts, ACTIVE)


def suppression_change(was: Suppression, now_is: Suppression) -> str | None:
    """`suppressed` when an alert became muted or is muted by other silences or inhibitors
    than before, `unsuppressed` when it is not muted any more, None when nothing changed."""
    if was.state != now_is.state:
        return "suppressed" if now_is.state == "suppressed" else "unsuppressed"
    if now_is.state == "suppressed" and now_is != was:
        return "suppressed"
    return None


def gone_from(firing: Iterable[tuple[str, int, str]], notices: list[Notice], fetched_ms: int,
              may_resolve: MayResolve) -> tuple[list[Notice], dict[str, int]]:
    """Of one cluster's stored firing alerts (fingerprint, seen_ms, body), those missing from
    its Alertmanager's answer: (resolved notices to record, held fingerprint -> seen_ms)."""
    present = {n.fingerprint for n in notices}
    gone, held = [], {}
    for fp, seen_ms, body in firing:
        if fp in present or seen_ms > fetched_ms:
            continue
        alert = json.loads(body)
        if alert.get("source") == "manual":  # not Alertmanager's to resolve
            continue
        if may_resolve(fp, seen_ms):
            gone.append(resolved_by_reconcile(alert))
        else:
            held[fp] = seen_ms
    return gone, held


def resolved_by_reconcile(alert: dict[str, Any]) -> Notice:
    return Notice(fingerprint=alert["fingerprint"], status="resolved", labels=alert["labels"],
                  annotations=alert["annotations"], starts_ms=parse_time(alert["startsAt"]),
                  ends_ms=None, generator_url=alert.get("generatorURL") or "",
                  source="reconcile", cluster=alert.get("cluster") or DEFAULT_CLUSTER)
