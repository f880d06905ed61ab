"""`decide`/`judge`: which notices are events, for every backend (HA duplicates, suppression)."""

from __future__ import annotations

import json

from bridge.alerts.decide import SEEN, decide, judge, suppression_change
from bridge.alerts.model import ACTIVE, Suppression, parse_time
from bridge.jsonenc import dumps
from tests.bridge.alerts.helpers import notice, silenced

NOW = parse_time("2026-01-02T00:00:00Z")


def row(n, at=NOW - 1000, suppression=ACTIVE, body=None):
    """The stored row `n` would leave (its alert as the stores write it)."""
    alert = n.alert(n.starts_ms, at, suppression)
    return (n.status, n.starts_ms, at, body if body is not None else dumps(alert))


def test_a_new_alert_is_its_status_and_keeps_the_reported_suppression():
    assert decide(notice(), None, NOW) == ("firing", notice().starts_ms, ACTIVE)
    hushed = notice(source="reconcile", suppression=silenced("s1"))
    assert decide(hushed, None, NOW) == ("firing", hushed.starts_ms, silenced("s1"))


def test_the_second_peers_late_firing_after_a_resolved_is_a_duplicate():
    resolved = row(notice(status="resolved"))
    late = judge(notice(), resolved, NOW, None)
    assert late.kind == SEEN  # no event: the webhook was seen, nothing changed
    # A real re-fire has a new startsAt.
    assert decide(notice(starts="2026-01-01T05:00:00Z"), resolved, NOW).kind == "refired"


def test_a_firing_after_a_resolution_nobody_reported_from_alertmanager_refires():
    # Reconciliation resolved it (missing for the resend interval): a webhook says it fires.
    by_reconcile = row(notice(status="resolved", source="reconcile"))
    assert decide(notice(), by_reconcile, NOW).kind == "refired"
    # Alertmanager's own list still has it firing after the resolution was committed.
    resolved = row(notice(status="resolved"))
    assert judge(notice(source="reconcile"), resolved, NOW, NOW).kind == "refired"


def test_suppression_changes_are_events_and_webhooks_never_change_it():
    firing = row(notice())
    hushed = notice(source="reconcile", suppression=silenced("s1"))
    assert decide(hushed, firing, NOW) == ("suppressed", hushed.starts_ms, silenced("s1"))
    stored = row(notice(), suppression=silenced("s1"))
    # Another silence replaces the first: still suppressed, by something else: an event.
    other = notice(source="reconcile", suppression=silenced("s2"))
    assert decide(other, stored, NOW).kind == "suppressed"
    assert decide(hushed, stored, NOW).kind is None
    # A webhook does not report suppression: the stored one stays, no event.
    verdict = judge(notice(), stored, NOW, None)
    assert verdict.kind == SEEN and verdict.suppression == silenced("s1")
    back = notice(source="reconcile", suppression=ACTIVE)
    assert decide(back, stored, NOW) == ("unsuppressed", back.starts_ms, ACTIVE)


def test_a_resolved_alert_is_never_suppressed():
    stored = row(notice(), suppression=silenced("s1"))
    verdict = decide(notice(status="resolved"), stored, NOW)
    assert verdict.kind == "resolved" and verdict.suppression == ACTIVE
    alert = notice(status="resolved").alert(verdict.starts, NOW, silenced("s1"))
    assert (alert["state"], alert["silencedBy"]) == ("active", [])


def test_inhibition_is_suppression_too_and_order_of_ids_does_not_matter():
    inhibited = Suppression("suppressed", (), ("f1", "f2"))
    assert suppression_change(ACTIVE, inhibited) == "suppressed"
    assert suppression_change(inhibited, Suppression("suppressed", (), ("f1", "f2"))) is None
    assert suppression_change(inhibited, ACTIVE) == "unsuppressed"
    assert suppression_change(ACTIVE, ACTIVE) is None


def test_rows_stored_before_clusters_read_as_active():
    n = notice()
    old = json.loads(row(n)[3])
    for key in ("cluster", "state", "silencedBy", "inhibitedBy"):
        del old[key]
    stored = row(n, body=dumps(old))
    assert decide(n, stored, NOW).kind is None
    assert decide(notice(source="reconcile", suppression=silenced("s")), stored,
                  NOW).kind == "suppressed"


def test_reconciliation_leaves_an_alert_a_webhook_touched_after_its_fetch_alone():
    stored = row(notice(), at=NOW)
    hushed = notice(source="reconcile", suppression=silenced("s1"))
    assert judge(hushed, stored, NOW, NOW - 1).kind is None
    assert judge(hushed, stored, NOW, NOW + 1).kind == "suppressed"
