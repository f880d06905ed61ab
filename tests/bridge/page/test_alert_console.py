"""The page's alert console in a real headless Chromium against a real bridge: grouping by
alertname or cluster, the state chips, the token for actions (kept in sessionStorage, never in
the URL or localStorage), the actions' requests and the API's errors shown as the bridge words
them, the silences view, and notifications (off by default, then only for new critical alerts).

The bridge here has no Alertmanager: the actions are tested up to the request the page sends
and the error it shows (the bridge refuses an unknown cluster with 400), compared with what the
same request gets from the bridge directly. Actions that succeed against a real Alertmanager are
the browser test at the end of this module; the contract's frame shapes are fed to the page's
own modules in test_alert_modules.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.bridge.page.helpers import (
    ALERTS_JS,
    GROUPS_JS,
    LAYOUT_JS,
    TOKEN,
    WAIT,
    post_alert,
    wait_live,
)
from tests.browser import Page

pytestmark = pytest.mark.integration

# Each alert row: its cells beyond the first four (meta: cluster, state, ack) and actions.
ROWS_JS = """[...document.querySelectorAll("#alerts-body li.alert")].map((li) => ({
  fingerprint: li.dataset.fingerprint, cluster: li.querySelector(".cluster").textContent,
  state: li.querySelector(".alert-state").textContent, dataState: li.dataset.state,
  group: li.closest(".alert-group").dataset.group,
  actions: [...li.querySelectorAll(".actions button")].map((b) => b.dataset.action),
}))"""
VISIBLE_JS = "((id) => !document.getElementById(id).hidden)"


def rows(page: Page, count: int) -> list[dict[str, Any]]:
    return page.wait_for(f"(() => {{ const r = {ROWS_JS}; return r.length === {count} && r; }})()",
                         WAIT, f"{count} alert rows")


def direct(bridge: servers.Process, method: str, path: str, body: Any = None
           ) -> tuple[int, dict[str, Any] | None]:
    """The bridge's own answer to a request, with the token: what the page must show."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(bridge.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, None


def error_text(status: int, body: dict[str, Any] | None) -> str:
    """How api.js words an error answer."""
    return f"{status} {body['error']}: {body['detail']}" if body and "error" in body \
        else f"HTTP {status}"


def resolve(bridge: servers.Process, *label_sets: dict[str, str]) -> None:
    for labels in label_sets:
        post_alert(bridge, labels, status="resolved")


def test_alerts_group_by_alertname_or_cluster_and_filter_by_state(open_page, bridge):
    disk = {"alertname": "ConsoleDisk", "severity": "warning", "instance": "web-1:9100"}
    load = {"alertname": "ConsoleLoad", "severity": "critical", "instance": "web-2:9100"}
    page = open_page(bridge.url + "/")
    wait_live(page)
    posted = [post_alert(bridge, labels) for labels in (disk, load)]
    try:
        shown = rows(page, 2)
        # Today's bridge sends no cluster or state: shown as cluster "default", "active".
        assert {(r["cluster"], r["state"], r["dataState"]) for r in shown} == {
            ("default", "active", "active")}
        assert all(r["actions"] == [] for r in shown)  # no token entered: no actions
        assert page.evaluate(GROUPS_JS) == [["ConsoleLoad", 1], ["ConsoleDisk", 1]]
        # By cluster: one group, each alert naming its alertname.
        page.click('#alert-grouping [data-group="cluster"]')
        page.wait_for(f"{ROWS_JS}.every((r) => r.group === 'default')", WAIT, "grouped by cluster")
        groups = page.evaluate("""[...document.querySelectorAll("#alerts-body .alert-group")]
            .map((g) => [g.dataset.cluster, g.querySelectorAll("li.alert").length,
                         [...g.querySelectorAll(".meta .name")].map((n) => n.textContent)])""")
        assert groups == [["default", 2, ["ConsoleLoad", "ConsoleDisk"]]]
        # The state chips: active off leaves nothing (both are active), on again brings both.
        page.click('#alert-states [data-state="active"]')
        page.wait_for(f"{ALERTS_JS}.length === 0", WAIT, "active alerts hidden")
        assert page.evaluate("document.getElementById('no-alerts').textContent") == \
            "No firing alert matches the filter."
        assert page.evaluate("document.getElementById('alert-count').textContent") == "0 / 2"
        assert page.evaluate("""document.querySelector('#alert-states [data-state="active"]')
            .getAttribute("aria-pressed")""") == "false"
        page.click('#alert-states [data-state="active"]')
        rows(page, 2)
        # The view is kept: a reload groups by cluster again.
        page.goto(bridge.url + "/")
        page.wait_for(f"""(() => {{ const r = {ROWS_JS};
            return r.length === 2 && r.every((x) => x.group === "default"); }})()""", WAIT,
                      "grouped by cluster after a reload")
        assert page.evaluate("""document.querySelector('#alert-grouping [data-group="cluster"]')
            .getAttribute("aria-pressed")""") == "true"
        assert {r["fingerprint"] for r in page.evaluate(ROWS_JS)} == {
            p["fingerprint"] for p in posted}
        page.click('#alert-grouping [data-group="alertname"]')
        page.wait_for(f"{GROUPS_JS}.length === 2", WAIT, "grouped by alertname again")
        assert page.problems(network=True) == []
    finally:
        resolve(bridge, disk, load)


def leaks(page: Page) -> dict[str, Any]:
    """Where the token could have leaked to: the URL, localStorage, any request URL."""
    return page.evaluate(f"""(() => ({{
        url: location.href.includes({json.dumps(TOKEN)}),
        local: Object.keys(localStorage).some((k) => (k + localStorage.getItem(k))
                                                   .includes({json.dumps(TOKEN)})),
        session: sessionStorage.getItem("promwire-token"),
    }}))()""") | {"requests": [u for u in page.requests() + page.websocket_urls() if TOKEN in u]}


def submit_form(page: Page, values: dict[str, str]) -> None:
    """Fill the action form's fields by name and submit it."""
    page.evaluate(f"""(() => {{ const form = document.querySelector("#alert-action form");
        for (const [name, value] of Object.entries({json.dumps(values)})) {{
            form.elements[name].value = value; }}
        form.requestSubmit(); }})()""", gesture=True)


def shown_outcome(page: Page) -> str:
    return page.wait_for("""(() => { const area = document.getElementById("alert-action");
        const line = area.querySelector(".action-error:not(:empty), .action-result:not(:empty)");
        return line ? line.textContent : null; })()""", WAIT, "the action's outcome")


def test_token_is_kept_for_the_tab_only_and_actions_show_the_apis_answer(open_page, bridge):
    labels = {"alertname": "ConsoleAck", "severity": "warning", "instance": "db-1:9100"}
    page = open_page(bridge.url + "/")
    wait_live(page)
    posted = post_alert(bridge, labels, annotations={"summary": "acked from the page"})
    fingerprint = posted["fingerprint"]
    try:
        assert rows(page, 1)[0]["actions"] == []
        assert page.evaluate(f"{VISIBLE_JS}('token-form') && !{VISIBLE_JS}('token-status')")
        page.evaluate(f"""(() => {{ const input = document.getElementById("token-input");
            input.value = {json.dumps(TOKEN)};
            document.getElementById("token-form").requestSubmit(); }})()""", gesture=True)
        page.wait_for(f"{ROWS_JS}[0]?.actions.join() === 'silence,ack'", WAIT, "the actions")
        assert page.evaluate(f"!{VISIBLE_JS}('token-form') && {VISIBLE_JS}('token-status')")
        assert page.evaluate("document.getElementById('token-input').value") == ""
        assert leaks(page) == {"url": False, "local": False, "session": TOKEN, "requests": []}
        # A reload keeps it for this tab, still out of the URL.
        page.goto(bridge.url + "/")
        wait_live(page)
        page.wait_for(f"{ROWS_JS}[0]?.actions.join() === 'silence,ack'", WAIT, "actions again")

        # Ack: the request carries the token as a header and the alert's cluster; the page shows
        # what the bridge answers (today: no such endpoint).
        page.click("#alerts-body li.alert .actions [data-action='ack']")
        page.wait_for("document.querySelector('#alert-action form') !== null", WAIT, "ack form")
        submit_form(page, {"comment": "on it", "duration": "30m"})
        outcome = shown_outcome(page)
        path = f"/api/alerts/{fingerprint}/ack?cluster=default"
        status, answer = direct(bridge, "POST", path, {"comment": "on it", "duration": "30m"})
        sent = page.sent(path)[-1]
        assert sent["method"] == "POST" and sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert json.loads(sent["postData"]) == {"comment": "on it", "duration": "30m"}
        # This bridge has no Alertmanager: the ack is refused, and the page says why.
        assert status == 400 and "unknown cluster 'default'" in answer["detail"]
        assert outcome == error_text(status, answer)
        assert page.evaluate("document.querySelector('#alert-action .action-error')"
                             ".getAttribute('role')") == "alert"

        # Silence: matchers prefilled from the labels, one per line, alertname first.
        page.click("#alerts-body li.alert .actions [data-action='silence']")
        prefilled = page.wait_for("document.querySelector('#alert-action textarea')?.value",
                                  WAIT, "the silence form")
        assert prefilled.split("\n") == ['alertname="ConsoleAck"', 'instance="db-1:9100"',
                                         'severity="warning"']
        submit_form(page, {"comment": "maintenance", "duration": "2h"})
        outcome = shown_outcome(page)
        body = json.loads(page.sent("/api/silences")[-1]["postData"])
        assert body == {"cluster": "default", "matchers": prefilled.split("\n"),
                        "duration": "2h", "comment": "maintenance"}
        status, answer = direct(bridge, "POST", "/api/silences", body)
        assert status == 400 and "unknown cluster 'default'" in answer["detail"]
        assert outcome == error_text(status, answer)
        assert leaks(page)["url"] is False and leaks(page)["requests"] == []

        # Forgetting the token takes the actions away.
        page.click("#token-forget")
        page.wait_for(f"{ROWS_JS}[0]?.actions.length === 0", WAIT, "no actions")
        assert leaks(page)["session"] is None
        assert page.problems() == []
    finally:
        resolve(bridge, labels)


ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts"


def test_phone_width_fits_the_actions_and_the_open_form(open_page, bridge):
    labels = {"alertname": "ConsolePhoneFilesystemAlmostFull", "severity": "critical",
              "instance": "db-primary-01.internal:9100", "mountpoint": "/var/lib/postgresql"}
    page = open_page("about:blank")
    page.viewport(360, 740, mobile=True)
    page.goto(bridge.url + "/")
    wait_live(page)
    post_alert(bridge, labels, annotations={"summary": "Filesystem is 93.5% full."})
    try:
        page.evaluate(f"""sessionStorage.setItem("promwire-token", {json.dumps(TOKEN)})""")
        page.goto(bridge.url + "/")
        page.wait_for(f"{ROWS_JS}[0]?.actions.length === 2", WAIT, "the actions")
        page.click("#alerts-body li.alert .actions [data-action='silence']")
        page.click("#silences-toggle")
        page.wait_for("document.querySelector('#alert-action textarea') && (document"
                      ".getElementById('silences-error').textContent || document"
                      ".getElementById('silence-list').children.length)", WAIT, "form and view")
        layout = page.evaluate(LAYOUT_JS)
        assert layout["scrollWidth"] <= 360 and layout["wide"] == [], layout
        assert layout["broken"] == []
        page.screenshot(ARTIFACTS / "page-console-phone.png")
        assert page.problems() == []
    finally:
        resolve(bridge, labels)


def test_silences_view_loads_when_opened_and_shows_the_answer(open_page, bridge):
    page = open_page(bridge.url + "/")
    wait_live(page)
    assert page.sent("/api/silences") == []  # closed: no request
    page.click("#silences-toggle")
    status, answer = direct(bridge, "GET", "/api/silences?state=active")
    assert status == 200 and answer["silences"] == []  # no Alertmanager: none
    page.wait_for("document.getElementById('silence-count').textContent === '0'", WAIT,
                  "the silences view's count")
    assert page.evaluate("document.querySelectorAll('#silence-list li.silence').length") == 0
    assert page.evaluate("document.getElementById('silences-error').textContent") == ""
    assert page.sent("/api/silences")[0]["url"].endswith("/api/silences?state=active")
    assert page.problems() == []


# Before the page's scripts: a Notification that records what it is asked to show (headless
# Chromium shows none), granting permission when asked and, as a browser does, remembering it
# across reloads; the real AudioContext, its oscillators counted.
NOTIFY_STUB = """
window.__notes = [];
window.__asked = 0;
window.__beeps = 0;
class RecordingNotification {
  static permission = sessionStorage.getItem("test-permission") ?? "default";
  static async requestPermission() {
    window.__asked += 1;
    sessionStorage.setItem("test-permission", "granted");
    RecordingNotification.permission = "granted";
    return "granted";
  }
  constructor(title, options) { window.__notes.push({ title, body: options?.body ?? "" }); }
}
window.Notification = RecordingNotification;
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__beeps += 1;
  return createOscillator.call(this);
};
"""
NOTES_JS = "({notes: window.__notes, beeps: window.__beeps, asked: window.__asked})"


def test_notifications_are_off_until_turned_on_then_only_for_new_critical_alerts(
        open_page, bridge):
    before = {"alertname": "ConsoleBeforeLoad", "severity": "critical", "instance": "a:9100"}
    quiet = {"alertname": "ConsoleWhileOff", "severity": "critical", "instance": "b:9100"}
    warning = {"alertname": "ConsoleWarning", "severity": "warning", "instance": "c:9100"}
    critical = {"alertname": "ConsoleCritical", "severity": "critical", "instance": "d:9100"}
    post_alert(bridge, before)
    page = open_page("about:blank")
    page.before_scripts(NOTIFY_STUB)
    try:
        page.goto(bridge.url + "/")
        wait_live(page)
        rows(page, 1)
        button = "document.getElementById('notify')"
        assert page.evaluate(f"[{button}.textContent, {button}.getAttribute('aria-pressed')]") \
            == ["notify: off", "false"]
        assert page.evaluate("localStorage.getItem('promwire-notify')") is None
        post_alert(bridge, quiet)  # new and critical, but notifications are off
        rows(page, 2)
        page.click("#notify")
        page.wait_for(f"{button}.textContent === 'notify: on'", WAIT, "notifications on")
        assert page.evaluate("localStorage.getItem('promwire-notify')") == "on"
        post_alert(bridge, warning)
        rows(page, 3)
        post_alert(bridge, critical, annotations={"summary": "page someone"})
        page.wait_for("window.__notes.length >= 1", WAIT, "a notification")
        post_alert(bridge, critical, annotations={"summary": "changed"})  # an update: not new
        page.wait_for(f"{ALERTS_JS}.some((r) => r.cells[2] === 'changed')", WAIT, "the update")
        assert page.evaluate(NOTES_JS) == {
            "notes": [{"title": "ConsoleCritical firing (d:9100)", "body": "page someone"}],
            "beeps": 1, "asked": 1}
        # A reload keeps the choice, and the critical alerts of its snapshot are not news.
        page.goto(bridge.url + "/")
        rows(page, 4)
        assert page.evaluate(f"[{button}.textContent, Notification.permission]") == [
            "notify: on", "granted"]
        assert page.evaluate(NOTES_JS)["notes"] == []
        assert page.problems() == []
    finally:
        resolve(bridge, before, quiet, warning, critical)


def test_page_silences_an_alert_which_turns_suppressed_and_is_listed(open_page, node_stack,
                                                                     tmp_path):
    from tests.bridge.alerts.test_integration import TOKEN as AM_TOKEN
    from tests.bridge.alerts.test_integration import start_am_and_bridge

    am, am_bridge = start_am_and_bridge(tmp_path, node_stack.prometheus.url, resend_interval=60)
    labels = {"alertname": "ConsoleSilenced", "severity": "warning", "instance": "db-2:9100"}
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    try:
        urllib.request.urlopen(urllib.request.Request(
            am.url + "/api/v2/alerts", data=json.dumps([{"labels": labels, "endsAt": ends}])
            .encode(), headers={"Content-Type": "application/json"}), timeout=10).close()
        page = open_page("about:blank")
        page.before_scripts(f"sessionStorage.setItem('promwire-token', {json.dumps(AM_TOKEN)})")
        page.goto(am_bridge.url + "/")
        wait_live(page)
        page.click('#alert-states [data-state="suppressed"]')  # show suppressed ones too
        page.wait_for(f"{ROWS_JS}.length === 1", 60, "the alert from Alertmanager")
        page.click("#alerts-body li.alert .actions [data-action='silence']")
        page.wait_for("!!document.querySelector('#alert-action textarea')", WAIT, "the form")
        submit_form(page, {"comment": "maintenance window", "duration": "1h"})
        assert shown_outcome(page).startswith("Silence ")
        page.wait_for(f"{ROWS_JS}[0]?.dataState === 'suppressed'", 60, "the alert suppressed")
        page.click("#silences-toggle")
        listed = page.wait_for("""(() => { const li = document.querySelector(
            "#silence-list li.silence"); return li && {matchers: li.querySelector(".matchers")
            .textContent, nothing: li.dataset.matchesNothing,
            comment: li.querySelector(".comment").textContent}; })()""", WAIT, "the silence")
        assert listed == {"matchers": '{alertname="ConsoleSilenced", instance="db-2:9100", '
                                      'severity="warning"}', "nothing": "false",
                          "comment": "default: maintenance window"}
        assert page.problems() == []
    finally:
        am_bridge.stop()
        am.stop()
