"""The Silence model: Alertmanager's matcher syntax and API v2 shapes, validation of
POST /api/silences, and the decisions that make each change exactly one event."""

from __future__ import annotations

import pytest

from bridge.alerts.acks import find_alert, parse_ack
from bridge.alerts.model import fingerprint, parse_time
from bridge.alerts.silencerequest import ack_request, parse_matchers, parse_request, postable
from bridge.alerts.silences import (
    Stored,
    ack_of,
    am_matcher,
    compiled,
    content,
    decide,
    from_am,
    matcher_text,
    matching,
    plan,
    state_at,
)
from bridge.alerts.silenceview import SilenceView
from bridge.errors import BadRequest, NotFound

NOW = parse_time("2026-06-01T12:00:00Z")
HOUR = 3_600_000


def am_silence(sid="s1", state="active", comment="c", matchers=None, **extra):
    return {"id": sid, "status": {"state": state}, "updatedAt": "2026-06-01T11:00:00.123Z",
            "comment": comment, "createdBy": "ann", "startsAt": "2026-06-01T11:00:00.123456Z",
            "endsAt": "2026-06-01T13:00:00Z",
            "matchers": matchers or [{"name": "alertname", "value": "X", "isRegex": False,
                                      "isEqual": True}], **extra}


# --- matchers --------------------------------------------------------------------------------

def test_matchers_in_alertmanager_syntax_become_api_matchers():
    parsed = parse_matchers('{alertname="Disk", severity=~"crit.*", env!="dev", job!~"x|y"}')
    assert [matcher_text(m) for m in postable(parse_request(
        {"matchers": [str(m) for m in parsed], "duration": "1h", "comment": "c"}, "default"),
        None, "me", NOW)["matchers"]] == [
        'alertname="Disk"', 'severity=~"crit.*"', 'env!="dev"', 'job!~"x|y"']
    body = postable(parse_request({"matchers": ['a="1"', 'b=~"2"'], "duration": "1h",
                                   "comment": "c"}, "default"), None, "me", NOW)
    assert body["matchers"] == [
        {"name": "a", "value": "1", "isRegex": False, "isEqual": True},
        {"name": "b", "value": "2", "isRegex": True, "isEqual": True}]


@pytest.mark.parametrize(("value", "word"), [
    ('alertname="X', "closing double quote"), ("alertname", "expected NAME=VALUE"),
    ('a=~"(?=x)"', "look-around"), ('a=~"["', "regular expression"),
    ('a=""', "empty string"), ('a=~".*"', "empty string"), ([], "at least one"),
    (3, "list of strings"), (['a="1"'] * 40, "too many"),
])
def test_bad_matchers_are_400s_naming_matchers(value, word):
    with pytest.raises(BadRequest, match=word) as caught:
        parse_matchers(value)
    assert caught.value.detail.startswith("matchers: ")


def test_a_negative_matcher_beside_a_positive_one_is_fine():
    assert len(parse_matchers(['a!=""', 'b="1"'])) == 2


def test_api_matchers_round_trip_through_the_text_syntax():
    for m in ({"name": "a", "value": 'say "hi"\\', "isRegex": False, "isEqual": False},
              {"name": "b", "value": "x|y", "isRegex": True, "isEqual": True},
              {"name": "c", "value": "line\nbreak", "isRegex": True, "isEqual": False}):
        [parsed] = compiled({"matchers": [m]})
        assert am_matcher(parsed) == m


# --- Alertmanager's shape --------------------------------------------------------------------

def test_from_alertmanager_normalises_times_and_finds_acks():
    s = from_am("ha", am_silence())
    assert s == {"cluster": "ha", "id": "s1", "matchers": [
        {"name": "alertname", "value": "X", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-06-01T11:00:00.123Z", "endsAt": "2026-06-01T13:00:00Z",
        "createdBy": "ann", "comment": "c", "state": "active", "ack": None}
    labels = {"alertname": "X", "instance": "h1"}
    ack = from_am("ha", am_silence(comment="ACK! mine", matchers=[
        {"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in labels.items()]))
    assert ack["ack"] == {"fingerprint": fingerprint(labels)}
    with pytest.raises(ValueError):
        from_am("ha", {"id": "x"})


def test_only_exact_label_sets_with_the_prefix_are_acks():
    eq = {"name": "a", "value": "1", "isRegex": False, "isEqual": True}
    assert ack_of([eq], "ACK! x") == {"fingerprint": fingerprint({"a": "1"})}
    assert ack_of([eq], "ack! x") is None and ack_of([eq], "x") is None
    assert ack_of([{**eq, "isRegex": True}], "ACK! x") is None
    assert ack_of([{**eq, "isEqual": False}], "ACK! x") is None
    assert ack_of([eq, {**eq, "value": "2"}], "ACK! x") is None


def test_state_follows_the_times():
    s = from_am("ha", am_silence())
    assert state_at(s, NOW) == "active"
    assert state_at(s, parse_time("2026-06-01T10:00:00Z")) == "pending"
    assert state_at(s, parse_time("2026-06-01T13:00:00Z")) == "expired"


def test_matching_alerts_of_the_silences_cluster():
    s = from_am("ha", am_silence(matchers=[{"name": "severity", "value": "crit.*",
                                            "isRegex": True, "isEqual": True}]))
    alerts = [{"fingerprint": "f1", "labels": {"severity": "critical"}},
              {"fingerprint": "f2", "labels": {"severity": "info"}},
              {"fingerprint": "f3", "labels": {"severity": "critical"}, "cluster": "other"}]
    assert matching(s, alerts) == [{"cluster": "ha", "fingerprint": "f1"}]


# --- validation ------------------------------------------------------------------------------

def req(**body):
    return parse_request({"matchers": ['a="1"'], "comment": "why", **body}, "default")


def test_a_duration_counts_from_the_start_or_now():
    body = postable(req(duration="2h"), None, "me", NOW)
    assert (body["startsAt"], body["endsAt"]) == ("2026-06-01T12:00:00Z", "2026-06-01T14:00:00Z")
    later = postable(req(startsAt="2026-06-02T00:00:00Z", duration="90m"), None, "me", NOW)
    assert later["endsAt"] == "2026-06-02T01:30:00Z"
    assert body["createdBy"] == "me" and body["comment"] == "why" and "id" not in body


@pytest.mark.parametrize(("body", "word"), [
    ({"duration": "0s"}, "duration: must be > 0"),
    ({"duration": "367d"}, "duration: at most"),
    ({"duration": True}, "duration"),
    ({"duration": "1h", "endsAt": "2027-01-01T00:00:00Z"}, "give one of them"),
    ({}, "endsAt or duration"),
    ({"endsAt": "2026-06-01T11:00:00Z"}, "endsAt: must be in the future"),
    ({"startsAt": "2026-06-03T00:00:00Z", "endsAt": "2026-06-02T00:00:00Z"},
     "endsAt: must be after startsAt"),
    ({"endsAt": "2028-06-01T00:00:00Z"}, "days from now"),
    ({"endsAt": "tomorrow"}, "endsAt"),
    ({"duration": "1h", "comment": ""}, "comment: required"),
    ({"duration": "1h", "comment": 5}, "comment: required"),
    ({"duration": "1h", "comment": "x" * 2001}, "comment: longer"),
    ({"duration": "1h", "cluster": ""}, "cluster: required"),
    ({"duration": "1h", "id": ""}, "id:"),
    ({"duration": "1h", "who": "me"}, "who: unknown field"),
])
def test_bad_requests_name_the_field(body, word):
    with pytest.raises(BadRequest, match=word):
        postable(req(**body), None, "me", NOW)


def test_an_update_keeps_what_it_does_not_change():
    base = from_am("ha", am_silence())
    update = parse_request({"id": "s1", "comment": "longer", "duration": "3h"}, "ha")
    body = postable(update, base, "bob", NOW)
    assert body["id"] == "s1" and body["matchers"] == base["matchers"]
    assert body["startsAt"] == base["startsAt"]  # active: its start stays (update in place)
    assert body["endsAt"] == "2026-06-01T15:00:00Z" and body["createdBy"] == "bob"
    same_end = postable(parse_request({"id": "s1", "comment": "x"}, "ha"), base, "bob", NOW)
    assert same_end["endsAt"] == base["endsAt"]
    with pytest.raises(BadRequest, match="matchers: required"):
        parse_request({"comment": "x", "duration": "1h"}, "ha")


def test_an_ack_silences_exactly_the_alerts_labels():
    alert = {"fingerprint": "f", "labels": {"alertname": "A", "instance": "h"}}
    body = postable(ack_request("ha", alert, "on it", HOUR, None), None, "me", NOW)
    assert body["comment"] == "ACK! on it"
    assert body["matchers"] == [
        {"name": "alertname", "value": "A", "isRegex": False, "isEqual": True},
        {"name": "instance", "value": "h", "isRegex": False, "isEqual": True}]
    assert ack_of(body["matchers"], body["comment"]) == {
        "fingerprint": fingerprint(alert["labels"])}
    assert postable(ack_request("ha", alert, "ACK! twice", HOUR, None), None, "me",
                    NOW)["comment"] == "ACK! twice"
    assert ack_request("ha", alert, "x", HOUR, "s9").id == "s9"


def test_ack_bodies_and_alert_lookup():
    assert parse_ack({"comment": "c"}) == ("c", HOUR)
    assert parse_ack({"comment": "c", "duration": "24h"}) == ("c", 24 * HOUR)
    for bad in ({"comment": "c", "duration": "25h"}, {"comment": ""}, {"comment": "c",
                "why": 1}, []):
        with pytest.raises(BadRequest):
            parse_ack(bad)
    firing = {"a": {"fingerprint": "f1", "cluster": "x"}, "b": {"fingerprint": "f1",
                                                              "cluster": "y"}}
    assert find_alert(firing, "f1", "y")["cluster"] == "y"
    with pytest.raises(BadRequest, match="x, y"):
        find_alert(firing, "f1", None)
    with pytest.raises(NotFound):
        find_alert(firing, "f2", None)


# --- decisions -------------------------------------------------------------------------------

def row(silence, updated_ms=NOW - HOUR):
    return Stored(silence["state"], content(silence), updated_ms)


def test_decide_one_event_per_change():
    s = from_am("ha", am_silence())
    assert decide(None, s, own=False) == "created"
    assert decide(row(s), s, own=False) is None
    assert decide(row(s), {**s, "comment": "other"}, own=True) == "updated"
    assert decide(row(s), {**s, "state": "expired"}, own=False) == "expired"
    expired = {**s, "state": "expired"}
    assert decide(row(expired), {**expired, "endsAt": "2026-06-01T12:00:00Z"}, False) is None
    assert decide(None, expired, own=False) is None
    assert decide(None, expired, own=True) == "expired"


def test_plan_diffs_a_complete_list():
    a, b, c = (from_am("ha", am_silence(sid)) for sid in "abc")
    gone = {**from_am("ha", am_silence("d")), "state": "expired"}
    rows = {"a": row(a), "b": row(b), "c": row(c, updated_ms=NOW + 5), "d": row(gone)}
    changes = plan(rows, [{**a, "comment": "new"}, from_am("ha", am_silence("e"))], False,
                   NOW, {"b": b})
    kinds = {ch.id: (ch.kind, ch.silence and ch.silence["state"]) for ch in changes}
    assert kinds == {"a": ("updated", "active"), "e": ("created", "active"),
                     "d": (None, None)}  # vanished when expired: forgotten
    # b vanished before its end from a first read: not evidence yet; c was written after the
    # list was fetched: both left alone.
    assert "b" not in kinds and "c" not in kinds
    # The previous read of the same peer lacked b too: it vanished, expired.
    [change] = [ch for ch in plan(rows, [a], False, NOW, {"b": b}, previous={"a"})
                if ch.id == "b"]
    assert (change.kind, change.silence["state"]) == ("expired", "expired")
    # Seen in the previous read: one read without it is not enough.
    assert [ch.id for ch in plan(rows, [a, c], False, NOW, {"b": b},
                                 previous={"a", "b", "c"})] == ["d"]


def _apply(rows, changes, at):
    """What a store does with a plan (its rows), so plans can follow one another."""
    for ch in changes:
        if ch.silence is None:
            rows.pop(ch.id, None)
        else:
            rows[ch.id] = Stored(ch.silence["state"], content(ch.silence), at)
    return [ch.kind for ch in changes if ch.kind is not None]


def test_a_silence_missing_from_one_read_is_not_expired_and_comes_back_quietly():
    s = from_am("ha", am_silence())
    rows: dict = {}
    assert _apply(rows, plan(rows, [s], False, NOW, {}), NOW) == ["created"]
    # A failover peer that has not caught up on gossip lacks it (no previous read of it).
    assert _apply(rows, plan(rows, [], False, NOW + 1, {"s1": s}, previous=None), NOW + 1) == []
    # It shows up again: nothing happened, no event.
    assert _apply(rows, plan(rows, [s], False, NOW + 2, {"s1": s}, previous=set()),
                  NOW + 2) == []
    assert rows["s1"].state == "active"


def test_a_silence_called_expired_then_seen_again_is_updated_back_to_active():
    s = from_am("ha", am_silence())
    rows = {"s1": row(s)}
    # Missing from two reads of the same peer: expired (its end, 13:00, still ahead).
    assert _apply(rows, plan(rows, [], False, NOW, {"s1": s}, previous=set()), NOW) == [
        "expired"]
    assert rows["s1"].state == "expired"
    # It reappears, unchanged: the row was wrong, an `updated` event corrects the view.
    changes = plan(rows, [s], False, NOW + 1, {}, previous=set())
    assert [(ch.kind, ch.silence["state"]) for ch in changes] == [("updated", "active")]
    assert decide(rows["s1"], s, own=False) == "updated"


def test_a_silence_missing_after_its_end_is_expired_at_once():
    s = from_am("ha", am_silence())  # ends 13:00
    rows = {"s1": row(s)}
    later = parse_time("2026-06-01T13:00:01Z")
    [change] = plan(rows, [], False, later, {"s1": s}, previous=None)
    assert change.kind == "expired"


def test_a_lagging_peer_does_not_revive_a_silence_expired_for_real():
    active = from_am("ha", am_silence())
    # Expired through Alertmanager at 12:30: its end moved there, recorded just after.
    expired = {**active, "endsAt": "2026-06-01T12:30:00Z", "state": "expired"}
    rows = {"s1": row(expired, updated_ms=parse_time("2026-06-01T12:30:01Z"))}
    # A peer not yet told shows the old, active version: older news, left alone.
    assert plan(rows, [active], False, parse_time("2026-06-01T12:31:00Z"), {}) == []


def test_plan_keeps_a_state_change_without_an_event():
    s = from_am("ha", am_silence(state="pending"))
    [change] = plan({"s1": row(s)}, [{**s, "state": "active"}], False, None, {})
    assert change.kind is None and change.silence["state"] == "active"


# --- the view --------------------------------------------------------------------------------

def test_the_view_keeps_the_newest_and_indexes_acks():
    labels = {"alertname": "A"}
    ack = from_am("ha", am_silence("k", comment="ACK! mine", endsAt="2099-01-01T00:00:00Z",
                                   matchers=[{"name": "alertname", "value": "A",
                                              "isRegex": False, "isEqual": True}]))
    view = SilenceView()
    view.load([(5, ack)])
    view.load([(3, {**ack, "comment": "ACK! stale"})])  # an older row never wins
    fp = fingerprint(labels)
    assert [s["comment"] for s in view.active_acks(fp, "ha")] == ["ACK! mine"]
    assert view.active_acks(fp, "other") == []
    [decorated] = view.decorate([{"fingerprint": fp, "labels": labels}])
    assert decorated["ack"]["comment"] == "mine" and decorated["ack"]["silenceID"] == "k"
    view.reset("new")
    assert view.active_acks(fp, None) == [] and len(view) == 0
