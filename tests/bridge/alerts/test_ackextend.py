"""Extending acks while their alert fires (kthxbye's rule with a cap): which acks are due and to
when, that a resolved, gone or relabelled alert keeps its ack from growing, and how a pass
treats a refused ack and an unreachable cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.alerts.ackextend import AckExtender, extended_end, fires, plan
from bridge.alerts.model import fingerprint, format_time, parse_time
from bridge.alerts.silences import from_am
from bridge.alerts.silenceview import SilenceView
from bridge.config import AlertsConfig
from bridge.errors import BadRequest, UpstreamUnavailable

NOW = parse_time("2026-06-01T12:00:00Z")
MIN = 60_000
# kthxbye's defaults (5 min, 15 min) and a 24 h cap.
RULE = AlertsConfig(ack_extend_if_expiring_in=300, ack_extend_by=900, ack_max_duration=86_400)


def ack(sid: str = "k", labels: dict[str, str] | None = None, *, cluster: str = "ha",
        starts: int = NOW - 60 * MIN, ends: int = NOW + 4 * MIN,
        comment: str = "ACK! on it") -> dict[str, Any]:
    labels = labels if labels is not None else {"alertname": "A", "instance": "h1"}
    return from_am(cluster, {
        "id": sid, "status": {"state": "active"}, "comment": comment, "createdBy": "ann",
        "startsAt": format_time(starts), "endsAt": format_time(ends),
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                     for k, v in labels.items()]})


def hub(*silences: dict[str, Any], status: str = "firing") -> dict[tuple[str, str], Any]:
    """The hub's firing alerts: the alert each ack names."""
    found = {}
    for s in silences:
        labels = {m["name"]: m["value"] for m in s["matchers"]}
        found[(s["cluster"], fingerprint(labels))] = {
            "cluster": s["cluster"], "fingerprint": fingerprint(labels), "labels": labels,
            "status": status}
    return found


# --- when and to when ----------------------------------------------------------------------

@pytest.mark.parametrize(("starts", "ends", "expected"), [
    (NOW - 60 * MIN, NOW + 4 * MIN, NOW + 15 * MIN),   # due: 15 min from now, kthxbye's count
    (NOW - 60 * MIN, NOW + 5 * MIN, NOW + 15 * MIN),   # the threshold itself is due
    (NOW - 60 * MIN, NOW + 6 * MIN, None),             # not expiring yet
    (NOW - 1430 * MIN, NOW + 2 * MIN, NOW + 10 * MIN),  # the cap: 24 h after the start
    (NOW - 1440 * MIN, NOW, None),                     # ended (expired at its end)
    (NOW - 1439 * MIN, NOW + MIN, None),               # at its cap already: left to end
    (NOW + MIN, NOW + 2 * MIN, None),                  # pending: not acking anything yet
])
def test_an_ack_due_moves_to_extend_by_from_now_never_past_its_cap(starts, ends, expected):
    assert extended_end(ack(starts=starts, ends=ends), NOW, RULE) == expected


def test_an_extension_always_lands_past_the_threshold_until_the_cap():
    """Pass after pass, an extended ack is due again only once it nears its end, and it stops
    exactly at startsAt + max duration."""
    silence, now, ends_seen = ack(starts=NOW, ends=NOW + 60 * MIN), NOW, []
    while now < NOW + 2 * 86_400_000:
        new = extended_end(silence, now, RULE)
        if new is not None:
            assert new - now > RULE.ack_extend_if_expiring_in * 1000 or \
                new == NOW + 86_400_000
            ends_seen.append(new)
            silence = {**silence, "endsAt": format_time(new)}
        now += MIN
    assert ends_seen == sorted(ends_seen) and ends_seen[-1] == NOW + 86_400_000
    assert parse_time(silence["endsAt"]) == NOW + 86_400_000


def test_only_an_ack_whose_exact_alert_fires_in_its_cluster_is_extended():
    mine = ack()
    assert fires(mine, hub(mine))
    assert not fires(mine, {})                                  # gone (or resolved: not firing)
    assert not fires(mine, hub(mine, status="resolved"))
    assert not fires(mine, hub(ack(cluster="other")))           # the same alert elsewhere
    relabelled = hub(mine)
    key = next(iter(relabelled))
    relabelled[key] = {**relabelled[key], "labels": {"alertname": "A"}}
    assert not fires(mine, relabelled)                          # not exactly its labels
    plain = ack(comment="maintenance")                          # not an ack
    assert plain["ack"] is None and not fires(plain, hub(mine))


def test_a_pass_plans_the_due_acks_of_firing_alerts_soonest_first_and_bounded():
    soon = ack("soon", {"alertname": "S"}, ends=NOW + MIN)
    later = ack("later", {"alertname": "L"}, ends=NOW + 3 * MIN)
    far = ack("far", {"alertname": "F"}, ends=NOW + 30 * MIN)
    resolved = ack("resolved", {"alertname": "R"}, ends=NOW + MIN)
    firing = hub(soon, later, far)
    planned = plan([later, far, resolved, soon], firing, NOW, RULE)
    assert [(s["id"], end) for s, end in planned] == [
        ("soon", NOW + 15 * MIN), ("later", NOW + 15 * MIN)]
    assert [s["id"] for s, _ in plan([later, soon], firing, NOW, RULE, limit=1)] == ["soon"]


def test_acks_refused_before_take_their_turn_after_all_the_others():
    """Acks Alertmanager refuses pass after pass, ending soonest, must not hold the bounded
    pass for good: the others go first."""
    soon = ack("soon", {"alertname": "S"}, ends=NOW + MIN)
    later = ack("later", {"alertname": "L"}, ends=NOW + 3 * MIN)
    firing = hub(soon, later)
    assert [s["id"] for s, _ in plan([soon, later], firing, NOW, RULE, limit=1,
                                     refused={"soon"})] == ["later"]
    assert [s["id"] for s, _ in plan([soon, later], firing, NOW, RULE,
                                     refused={"soon"})] == ["later", "soon"]


# --- passes (the view tells active acks by the real clock: times around it) ---------------

T = 1_780_000_000_000  # a fixed instant: nothing may depend on when the tests run


class _Leader:
    """What the extender asks of the store: whether this replica leads."""

    leader = True


async def _settle(extender: AckExtender) -> None:
    for _ in range(3000):  # at most 30 s, however loaded the machine
        if not extender.in_flight:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the pass did not end")


def _view(*silences: dict[str, Any]) -> SilenceView:
    view = SilenceView()
    view.load([(i + 1, s) for i, s in enumerate(silences)])
    return view


async def test_a_pass_skips_a_refused_ack_and_backs_off_an_unreachable_cluster():
    first = ack("a", {"alertname": "A"}, starts=T - 60 * MIN, ends=T + MIN)
    second = ack("b", {"alertname": "B"}, starts=T - 60 * MIN, ends=T + 2 * MIN)
    elsewhere = ack("c", {"alertname": "C"}, cluster="other", starts=T - 60 * MIN, ends=T + MIN)
    calls: list[str] = []
    fault: list[Exception] = [BadRequest("id: no such silence")]

    async def extend(cluster: str, sid: str) -> Any:
        calls.append(sid)
        if fault and sid == ("b" if isinstance(fault[0], BadRequest) else "a"):
            raise fault[0]
        return {"endsAt": "later"}

    now = [T]
    extender = AckExtender(_view(first, second, elsewhere), _Leader(), RULE, extend,
                           clock=lambda: now[0])
    firing = hub(first, second, elsewhere)
    assert extender.sweep(firing, "ha") == 2
    await _settle(extender)
    assert calls == ["a", "b"] and extender.extended == 1  # a extended, b refused

    fault[0] = UpstreamUnavailable("cluster 'ha': no peer accepted the write")
    calls.clear()
    assert extender.sweep(firing, "ha") == 2
    await _settle(extender)
    assert calls == ["a"]  # the cluster is down: the rest of the pass waits
    assert extender.sweep(firing, "ha") == 0 and calls == ["a"]  # within its backoff
    assert extender.sweep(firing, "other") == 1  # another cluster is not held back
    await _settle(extender)
    assert calls == ["a", "c"] and extender.extended == 2
    now[0] += 1000  # the first backoff is at most 1 s: the cluster is tried again
    calls.clear()
    assert extender.sweep(firing, "ha") == 2
    await _settle(extender)
    assert calls == ["a"]  # still down


async def test_a_refused_ack_is_logged_once_until_it_is_extended_or_gone(caplog):
    refused = ack("a", {"alertname": "A"}, starts=T - 60 * MIN, ends=T + MIN)
    refusing = [True]

    async def extend(cluster: str, sid: str) -> Any:
        if refusing[0]:
            raise BadRequest("matchers: refused")
        return {"endsAt": "later"}

    now = [T]
    extender = AckExtender(_view(refused), _Leader(), RULE, extend, clock=lambda: now[0])
    firing = hub(refused)

    async def passes(count: int) -> int:
        """Run `count` passes; the warnings they logged about ack a."""
        caplog.clear()
        for _ in range(count):
            assert extender.sweep(firing, "ha") == 1
            await _settle(extender)
        return sum(1 for r in caplog.records
                   if r.levelname == "WARNING" and "could not extend ack a" in r.message)

    assert await passes(3) == 1  # tried each pass, logged once
    refusing[0] = False
    assert await passes(1) == 0 and extender.extended == 1  # extended: the note is dropped
    refusing[0] = True
    assert await passes(2) == 1  # refused anew: logged anew
    now[0] = T + 2 * MIN  # the ack has ended: no longer active, nothing to remember
    assert extender.sweep(firing, "ha") == 0 and extender.refused == set()


@pytest.mark.parametrize("why", ["off", "follower", "not loaded"])
async def test_no_pass_when_off_on_a_follower_or_before_the_view_loads(why):
    due = ack(starts=T - 60 * MIN, ends=T + MIN)
    view = _view(due) if why != "not loaded" else SilenceView()
    store = _Leader() if why != "follower" else type("F", (), {"leader": False})()
    rule = AlertsConfig(ack_extend=why != "off", ack_extend_if_expiring_in=300,
                        ack_extend_by=900)

    async def extend(cluster: str, sid: str) -> Any:
        raise AssertionError("no extension expected")

    extender = AckExtender(view, store, rule, extend, clock=lambda: T)
    assert extender.sweep(hub(due), "ha") == 0


async def test_a_replica_that_stops_leading_stops_its_pass():
    first = ack("a", {"alertname": "A"}, starts=T - 60 * MIN, ends=T + MIN)
    second = ack("b", {"alertname": "B"}, starts=T - 60 * MIN, ends=T + 2 * MIN)
    store, calls = _Leader(), []

    async def extend(cluster: str, sid: str) -> Any:
        calls.append(sid)
        store.leader = False  # leadership moved while this write was on its way
        return {"endsAt": "later"}

    extender = AckExtender(_view(first, second), store, RULE, extend, clock=lambda: T)
    assert extender.sweep(hub(first, second), "ha") == 2
    await _settle(extender)
    assert calls == ["a"] and extender.extended == 1
