"""Webhook / manual / Alertmanager-API input to notices: times, fingerprints, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.alerts.model import (
    ACTIVE,
    Suppression,
    _cached_time,
    fingerprint,
    format_time,
    parse_am_alerts,
    parse_manual,
    parse_time,
    parse_webhook,
)
from bridge.errors import BadRequest
from tests.bridge.alerts.helpers import am_alert, payload


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ("2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.123Z"),  # webhook: nanoseconds
    ("2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.123Z"),        # API v2: milliseconds
    ("2026-01-01T02:00:00.5+02:00", "2026-01-01T00:00:00.500Z"),
    ("2025-12-31T23:00:00-01:00", "2026-01-01T00:00:00Z"),
])
def test_times_normalise_to_utc_milliseconds(text, expected):
    assert format_time(parse_time(text)) == expected


@pytest.mark.parametrize("text", ["2026-01-01", "yesterday", "2026-13-01T00:00:00Z",
                                  "2026-01-01T00:00:00", "2026-02-29T00:00:00Z",
                                  "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+24:00"])
def test_bad_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_time(text)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30)),
       st.integers(-23 * 60 - 59, 23 * 60 + 59), st.sampled_from(["", ".5", ".123", ".1234567"]))
def test_parse_time_agrees_with_datetime(when, offset_min, fraction):
    """The arithmetic gives what `datetime` gives for any instant, offset and fraction."""
    sign = "-" if offset_min < 0 else "+"
    zone = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    text = when.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + fraction + zone
    aware = when.replace(microsecond=0, tzinfo=UTC) - timedelta(minutes=offset_min)
    expected = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1) * 1000
    expected += int(fraction[1:4].ljust(3, "0")) if fraction else 0
    assert parse_time(text) == expected
    assert parse_time(text.replace(zone, "Z")) == expected + offset_min * 60_000


def test_only_short_time_texts_are_remembered():
    """A valid time with a fraction as long as a body can be is parsed, not kept: the cache
    holds texts of a real time's length, so an outsider cannot fill memory through it."""
    _cached_time.cache_clear()
    long = "2026-01-01T00:00:00." + "1" * 100_000 + "Z"
    assert parse_time(long) == parse_time("2026-01-01T00:00:00.111Z")
    assert parse_time("2026-01-01T00:00:00.123456789+05:30") == 1767205800123
    assert _cached_time.cache_info().currsize == 2  # the short two, never the long one


def test_fingerprint_is_alertmanagers():
    # Known values from Alertmanager (model.LabelSet.Fingerprint): FNV-1a 64 over sorted pairs.
    assert fingerprint({}) == "cbf29ce484222325"
    labels = {"alertname": "HostDown", "instance": "h1:9100"}
    assert fingerprint(labels) == fingerprint(dict(reversed(list(labels.items()))))
    assert fingerprint(labels) != fingerprint({**labels, "severity": "critical"})
    assert len(fingerprint(labels)) == 16


def test_a_real_payload_parses():
    body = payload(am_alert(starts="2026-01-01T00:00:00.123456789Z"),
                   am_alert("DiskFull", status="resolved", mountpoint="/"))
    parsed = parse_webhook(body)
    first, second = parsed.notices
    assert (first.status, first.ends_ms, first.source) == ("firing", None, "alertmanager")
    assert format_time(first.starts_ms) == "2026-01-01T00:00:00.123Z"
    assert second.status == "resolved" and second.ends_ms is not None
    assert second.labels["mountpoint"] == "/"
    assert parsed.receiver == "promwire-bridge" and parsed.truncated == 0


def test_missing_fingerprint_is_computed_from_labels():
    alert = am_alert()
    expected = alert.pop("fingerprint")
    assert parse_webhook(payload(alert)).notices[0].fingerprint == expected


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b.update(version="3"), 'version: expected "4"'),
    (lambda b: b.pop("version"), "version: missing"),
    (lambda b: b.pop("alerts"), "alerts: missing"),
    (lambda b: b.update(alerts={}), "alerts: expected a list"),
    (lambda b: b.pop("receiver"), "receiver: missing"),
    (lambda b: b.update(status="bad"), 'status: expected "firing" or "resolved"'),
    (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
    (lambda b: b.update(commonLabels=[]), "commonLabels: expected an object"),
    (lambda b: b["alerts"][0].pop("labels"), "alerts[0].labels: missing"),
    (lambda b: b["alerts"][0].update(labels={}), "alerts[0].labels: must not be empty"),
    (lambda b: b["alerts"][0].update(labels={"a": 1}), "alerts[0].labels.a: expected a string"),
    (lambda b: b["alerts"][0].update(labels={"bad-name": "x"}), "invalid label name"),
    (lambda b: b["alerts"][0].pop("startsAt"), "alerts[0].startsAt: missing"),
    (lambda b: b["alerts"][0].update(startsAt="soon"), "alerts[0].startsAt: expected an RFC"),
    (lambda b: b["alerts"][0].update(status="pending"), "alerts[0].status"),
    (lambda b: b["alerts"][0].update(annotations=[1]), "alerts[0].annotations"),
    (lambda b: b["alerts"][0].update(fingerprint=7), "alerts[0].fingerprint"),
])
def test_bad_payloads_name_the_problem(mutate, message):
    body = payload(am_alert())
    mutate(body)
    with pytest.raises(BadRequest) as info:
        parse_webhook(body)
    assert message in info.value.detail


def test_not_an_object_is_refused():
    with pytest.raises(BadRequest, match="expected a JSON object"):
        parse_webhook([1, 2])


def test_manual_alert_defaults_and_validation():
    n = parse_manual({"labels": {"alertname": "Deploy", "env": "prod"}})
    assert n.status == "firing" and n.starts_ms is None and n.source == "manual"
    assert n.fingerprint == fingerprint({"alertname": "Deploy", "env": "prod"})
    for body, message in [({"labels": {"env": "x"}}, "labels.alertname: missing"),
                          ({}, "labels: missing"),
                          ({"labels": {"alertname": "A"}, "status": "up"}, "status"),
                          ({"labels": {"alertname": "A"}, "colour": 1}, "colour: unknown field")]:
        with pytest.raises(BadRequest, match=message):
            parse_manual(body)


def test_alertmanager_api_alerts_become_firing_notices():
    api = [{"labels": {"alertname": "A"}, "annotations": {}, "startsAt": "2026-01-01T00:00:00.1Z",
            "endsAt": "2026-01-01T00:05:00.000Z", "fingerprint": "f1", "generatorURL": "",
            "status": {"state": "active"}, "receivers": [{"name": "r"}],
            "updatedAt": "2026-01-01T00:01:00.000Z"}]
    (n,) = parse_am_alerts(api)
    assert (n.fingerprint, n.status, n.source) == ("f1", "firing", "reconcile")
    with pytest.raises(ValueError):
        parse_am_alerts({"not": "a list"})
    with pytest.raises(ValueError):
        parse_am_alerts([{"labels": "x"}])


def test_alertmanager_api_status_is_the_alerts_suppression():
    def listed(status):
        return {"labels": {"alertname": "A"}, "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "f1", "status": status}
    (n,) = parse_am_alerts([listed({"state": "suppressed", "silencedBy": ["s2", "s1"],
                                    "inhibitedBy": []})], "prod")
    assert n.cluster == "prod" and n.key == ("prod", "f1")
    assert n.suppression == Suppression("suppressed", ("s1", "s2"), ())
    (n,) = parse_am_alerts([listed({"state": "active", "silencedBy": [], "inhibitedBy": []})])
    assert n.suppression == ACTIVE and n.cluster == "default"
    # Not processed yet (or an older Alertmanager saying nothing): the stored state stays.
    assert parse_am_alerts([listed({"state": "unprocessed"})])[0].suppression is None
    assert parse_am_alerts([listed(None)])[0].suppression is None
    for bad, message in [("firing", "expected an object"), ({"state": "muted"}, "state"),
                         ({"state": "suppressed", "silencedBy": "s1"}, "silencedBy"),
                         ({"state": "suppressed", "inhibitedBy": [1]}, "inhibitedBy")]:
        with pytest.raises(ValueError, match=message):
            parse_am_alerts([listed(bad)])
