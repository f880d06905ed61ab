// The firing alerts, kept from the alert stream's frames (README "Alerts"): a `snapshot`
// replaces them all, each `alert` event (in `seq` order) adds, updates or removes one, and
// `heartbeat`s move the resume point. `resume()` gives the `since`/`epoch` query parameters a
// reconnect sends so that the bridge replays exactly what was missed.

import { h, setText, toggle } from "./dom.js";
import { since } from "./format.js";

const SEVERITY = { critical: 0, error: 1, warning: 2, info: 3 };

function severityClass(severity) {
  return severity in SEVERITY ? `sev-${severity}` : "sev-other";
}

export class Alerts {
  constructor({ body, count, empty, onError }) {
    this.body = body;
    this.count = count;
    this.empty = empty;
    this.onError = onError;
    this.alerts = new Map(); // fingerprint -> Alert
    this.epoch = null;
    this.seq = null;
    this.sinceCells = [];
  }

  resume() {
    return this.epoch !== null && this.seq !== null ? { since: this.seq, epoch: this.epoch } : {};
  }

  frame(frame) {
    switch (frame.type) {
      case "snapshot":
        this.alerts = new Map(frame.alerts.map((alert) => [alert.fingerprint, alert]));
        this.epoch = frame.epoch;
        this.seq = frame.seq;
        this.render();
        break;
      case "alert":
        if (frame.epoch === this.epoch && this.seq !== null && frame.seq <= this.seq) return;
        this.epoch = frame.epoch;
        this.seq = frame.seq;
        if ((frame.status ?? frame.alert.status) === "firing") this.alerts.set(frame.alert.fingerprint, frame.alert);
        else this.alerts.delete(frame.alert.fingerprint);
        this.render();
        break;
      case "heartbeat":
        if (typeof frame.seq === "number" && (this.seq === null || frame.seq > this.seq)) {
          this.seq = frame.seq;
        }
        break;
      case "error":
        this.onError(`${frame.error}: ${frame.detail}`);
        break;
      default: // "resync": the snapshot that follows replaces everything
        break;
    }
  }

  sorted() {
    const rank = (a) => SEVERITY[a.labels?.severity] ?? 9;
    return [...this.alerts.values()].sort((a, b) => rank(a) - rank(b)
      || String(a.startsAt).localeCompare(String(b.startsAt))
      || String(a.labels?.alertname).localeCompare(String(b.labels?.alertname)));
  }

  render() {
    this.sinceCells = [];
    const rows = this.sorted().map((alert) => {
      const labels = alert.labels || {};
      const annotations = alert.annotations || {};
      const severity = labels.severity ?? "";
      const when = h("td", { class: "since", title: alert.startsAt ?? "" });
      this.sinceCells.push([when, alert.startsAt]);
      return h("tr", { class: severityClass(severity), "data-fingerprint": alert.fingerprint },
        h("td", {}, h("span", { class: "severity", text: severity || "–" })),
        h("td", { class: "alertname", text: labels.alertname ?? "" }),
        h("td", { class: "instance", text: labels.instance ?? "" }),
        h("td", { class: "summary", text: annotations.summary ?? annotations.description ?? "" }),
        when);
    });
    this.body.replaceChildren(...rows);
    setText(this.count, String(rows.length));
    toggle(this.empty, "hidden", rows.length > 0);
    this.tick();
  }

  // Refresh the relative "since" times.
  tick(now = Date.now()) {
    for (const [cell, startsAt] of this.sinceCells) setText(cell, since(startsAt, now));
  }
}
