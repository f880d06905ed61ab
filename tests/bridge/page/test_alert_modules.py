"""The alert console's modules, imported in a real Chromium from the page's bridge and fed the
issue 13 contract's frames, which today's bridge does not send yet: alerts of several clusters,
`suppressed` events, `silence` events carrying acks, and silences (with `matches` and
`matchesNothing`) as GET /api/silences lists them.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


# The page's modules fed the contract's frames: several clusters, suppressed events, silence
# events carrying acks, and what counts as a new alert for notifications.
STORE_JS = """(async () => {
  const { AlertStore, category } = await import("./static/alerts.js");
  const news = [], silences = [];
  const store = new AlertStore({ onNew: (a) => news.push(`${a.cluster}/${a.labels.alertname}`),
                                 onSilence: (f) => silences.push(f.event) });
  const alert = (name, extra = {}) => ({ fingerprint: `fp-${name}`, status: "firing",
    labels: { alertname: name, severity: "critical" }, ...extra });
  const ev = (seq, event, a, status = "firing") => ({ type: "alert", seq, epoch: "E", event,
    status, alert: a });
  const view = () => [...store.values()].map((a) => [a.cluster, a.fingerprint, category(a),
    a.ack ? `${a.ack.by}:${a.ack.comment}:${a.ack.silenceID}` : null]).sort();
  store.frame({ type: "snapshot", epoch: "E", seq: 1, alerts: [alert("Old"),
    alert("Twin", { cluster: "eu" }), alert("Twin", { cluster: "us", state: "suppressed",
      silencedBy: ["s0"] })] });
  const atLoad = view();
  store.frame(ev(2, "firing", alert("New", { cluster: "eu" })));
  store.frame(ev(2, "firing", alert("New", { cluster: "eu" })));   // a repeat: ignored
  store.frame(ev(3, "updated", alert("Old")));
  store.frame(ev(4, "suppressed", alert("Old", { state: "suppressed", silencedBy: ["s1"] })));
  store.frame(ev(5, "firing", alert("Quiet", { state: "suppressed" })));
  const sil = (seq, event, state) => ({ type: "silence", seq, epoch: "E", event, silence: {
    cluster: "eu", id: "ack1", createdBy: "alice", comment: "ACK! on it", state,
    startsAt: "2026-12-03T10:00:00Z", endsAt: "2026-12-03T11:00:00Z",
    ack: { fingerprint: "fp-New" } } });
  store.frame(sil(6, "created", "active"));
  const acked = view();
  store.frame(ev(7, "refired", alert("Old", { state: "active" })));
  store.frame(sil(8, "expired", "expired"));
  store.frame(ev(9, "resolved", alert("Twin", { cluster: "eu" }), "resolved"));
  const resumeAt = store.resume();
  store.frame({ type: "heartbeat", seq: 12 });
  store.frame({ type: "snapshot", epoch: "F", seq: 3, alerts: [alert("Old"), alert("Later")] });
  return { atLoad, acked, end: view(), news, silences, resumeAt, resume: store.resume(),
           fresh: new AlertStore({}).resume() };
})()"""


def test_alert_store_follows_the_contracts_frames(open_page, bridge):
    page = open_page(bridge.url + "/")
    result = page.evaluate(STORE_JS)
    assert result["atLoad"] == [["default", "fp-Old", "active", None],
                                ["eu", "fp-Twin", "active", None],
                                ["us", "fp-Twin", "suppressed", None]]
    assert ["eu", "fp-New", "acked", "alice:on it:ack1"] in result["acked"]
    assert ["default", "fp-Old", "suppressed", None] in result["acked"]
    assert result["end"] == [["default", "fp-Later", "active", None],
                             ["default", "fp-Old", "active", None]]
    # New: firing and refired events of active alerts, and a later snapshot's newcomers; never
    # the first snapshot, an update, a repeat, or an alert already suppressed.
    assert result["news"] == ["eu/New", "default/Old", "default/Later"]
    assert result["silences"] == ["created", "expired"]
    assert result["resumeAt"] == {"state": "all", "since": 9, "epoch": "E"}
    assert result["resume"] == {"state": "all", "since": 3, "epoch": "F"}
    assert result["fresh"] == {"state": "all"}
    assert page.problems() == []


SILENCES_JS = """(async () => {
  const { Silences, matcherText } = await import("./static/silences.js");
  const { labelMatchers } = await import("./static/actions.js");
  const node = (tag) => document.createElement(tag);
  const parts = { section: node("section"), toggle: node("button"), body: node("div"),
    list: node("ul"), count: node("span"), error: node("p"), state: node("select"),
    refresh: node("button") };
  const view = new Silences(parts);
  const m = (name, value, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });
  view.render([
    { cluster: "eu", id: "s1", state: "active", createdBy: "bob", comment: "deploy",
      matchers: [m("alertname", "A"), m("instance", "web-.*", true)],
      matches: [{ cluster: "eu", fingerprint: "f1" }], matchesNothing: false, ack: null },
    { cluster: "us", id: "s2", state: "active", createdBy: "carol", comment: "old",
      matchers: [m("job", "x", false, false), m("env", "dev|test", true, false)],
      matches: [], matchesNothing: true, ack: null },
  ]);
  return {
    count: parts.count.textContent,
    rows: [...parts.list.children].map((li) => [li.dataset.id, li.dataset.matchesNothing,
      li.querySelector(".matchers").textContent,
      (li.querySelector(".flag") ?? li.querySelector(".matches")).textContent]),
    labels: labelMatchers({ severity: "critical", alertname: 'say "hi"', a: "b\\\\c" }),
  };
})()"""


def test_silences_view_flags_silences_that_match_nothing(open_page, bridge):
    page = open_page(bridge.url + "/")
    result = page.evaluate(SILENCES_JS)
    assert result["count"] == "2 · 1 match nothing"
    assert result["rows"] == [
        ["s1", "false", '{alertname="A", instance=~"web-.*"}', "matches 1 alert"],
        ["s2", "true", '{job!="x", env!~"dev|test"}', "matches nothing"]]
    assert result["labels"] == ['alertname="say \\"hi\\""', 'a="b\\\\c"', 'severity="critical"']
    assert page.problems() == []
