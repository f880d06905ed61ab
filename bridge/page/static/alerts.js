// The firing alerts, kept from the alert stream's frames (README "Alerts"): a `snapshot`
// replaces them all, each `alert` event (in `seq` order) adds, updates or removes one, and
// `heartbeat`s move the resume point. `resume()` gives the `since`/`epoch` query parameters a
// reconnect sends so that the bridge replays exactly what was missed.
//
// Shown grouped by alertname (the group with the most severe alert first), each alert with its
// severity, instance, summary and age, filtered by the matcher box (matchers.js). Everything
// from an alert goes in as text.

import { h, setText, toggle } from "./dom.js";
import { since } from "./format.js";
import { parseFilter } from "./matchers.js";

const SEVERITY = { critical: 0, error: 1, warning: 2, info: 3 };
const rank = (alert) => SEVERITY[alert.labels?.severity] ?? 9;

function severityClass(severity) {
  return severity in SEVERITY ? `sev-${severity}` : "sev-other";
}

export class Alerts {
  constructor({ body, count, empty, filter, filterError, onError, onChange }) {
    this.body = body;
    this.count = count;
    this.empty = empty;
    this.filterError = filterError;
    this.onError = onError;
    this.onChange = onChange;
    this.alerts = new Map(); // fingerprint -> Alert
    this.epoch = null;
    this.seq = null;
    this.sinceCells = [];
    this.filter = parseFilter("");
    filter.addEventListener("input", () => {
      this.filter = parseFilter(filter.value);
      filter.setAttribute("aria-invalid", this.filter.error ? "true" : "false");
      setText(this.filterError, this.filter.error ?? "");
      this.render();
    });
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
      case "silence": // an event of the same log: a resume point, nothing to show here
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

  // Firing alerts per instance label.
  perInstance() {
    const counts = new Map();
    for (const alert of this.alerts.values()) {
      const instance = alert.labels?.instance;
      if (instance) counts.set(instance, (counts.get(instance) ?? 0) + 1);
    }
    return counts;
  }

  // [[alertname, [alert, ...]], ...]: the filter applied, most severe group first.
  groups() {
    const groups = new Map();
    for (const alert of this.alerts.values()) {
      if (!this.filter.test(alert)) continue;
      const name = alert.labels?.alertname ?? "";
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(alert);
    }
    for (const list of groups.values()) {
      list.sort((a, b) => rank(a) - rank(b) || String(a.startsAt).localeCompare(String(b.startsAt))
        || String(a.labels?.instance).localeCompare(String(b.labels?.instance)));
    }
    return [...groups].sort(([an, a], [bn, bl]) => rank(a[0]) - rank(bl[0]) || an.localeCompare(bn));
  }

  row(alert) {
    const labels = alert.labels || {};
    const annotations = alert.annotations || {};
    const severity = labels.severity ?? "";
    const when = h("span", { class: "since", title: alert.startsAt ?? "" });
    this.sinceCells.push([when, alert.startsAt]);
    return h("li", { class: `alert ${severityClass(severity)}`, "data-fingerprint": alert.fingerprint },
      h("span", { class: "severity", text: severity || "–" }),
      h("span", { class: "instance", title: labels.instance ?? null, text: labels.instance ?? "" }),
      h("span", { class: "summary", text: annotations.summary ?? annotations.description ?? "" }),
      when);
  }

  render() {
    this.sinceCells = [];
    let shown = 0;
    const groups = this.groups().map(([name, list]) => {
      shown += list.length;
      return h("section", { class: `alert-group ${severityClass(list[0].labels?.severity ?? "")}`,
        "data-alertname": name },
      h("h3", {}, h("span", { class: "alertname", text: name || "(no alertname)" }),
        h("span", { class: "count", text: String(list.length) })),
      h("ul", {}, ...list.map((alert) => this.row(alert))));
    });
    this.body.replaceChildren(...groups);
    const total = this.alerts.size;
    setText(this.count, shown === total ? String(total) : `${shown} / ${total}`);
    toggle(this.empty, "hidden", shown > 0);
    setText(this.empty, total ? "No firing alert matches the filter." : "No alert is firing.");
    this.tick();
    this.onChange?.(this);
  }

  // Refresh the relative ages.
  tick(now = Date.now()) {
    for (const [cell, startsAt] of this.sinceCells) setText(cell, since(startsAt, now));
  }
}
