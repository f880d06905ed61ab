// The alerts panel: the store's alerts (alerts.js) grouped by alertname or by cluster (the
// toggle), the group with the most severe alert first; filtered by the matcher box
// (matchers.js) and by state chips (active, suppressed, acked: an alert counts as acked when it
// has an ack, else as its Alertmanager state). Each alert shows severity, instance, summary and
// age, then its cluster, state and "acked by X since T: comment"; with a token entered
// (session.js), the buttons of the silence and ack actions (actions.js, whose forms live
// outside the list, so an alert event re-rendering it never loses what is being typed). The view chosen is kept in
// localStorage. Everything from an alert goes in as text.

import { category } from "./alerts.js";
import { h, setText, toggle } from "./dom.js";
import { since } from "./format.js";
import { parseFilter } from "./matchers.js";
import { writeToken } from "./session.js";

const SEVERITY = { critical: 0, error: 1, warning: 2, info: 3 };
const rank = (alert) => SEVERITY[alert.labels?.severity] ?? 9;
export const STATES = ["active", "suppressed", "acked"];
const GROUPINGS = ["alertname", "cluster"];
const KEY = "promwire-alerts-view";
const DEFAULT_VIEW = { group: "alertname", states: ["active", "acked"] };

function severityClass(severity) {
  return severity in SEVERITY ? `sev-${severity}` : "sev-other";
}

function loadView() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
    const group = GROUPINGS.includes(saved?.group) ? saved.group : DEFAULT_VIEW.group;
    const states = Array.isArray(saved?.states) ? saved.states.filter((s) => STATES.includes(s))
      : DEFAULT_VIEW.states;
    return { group, states: new Set(states) };
  } catch {
    return { group: DEFAULT_VIEW.group, states: new Set(DEFAULT_VIEW.states) };
  }
}

// "acked by alice since 14:02: on it" (and until when, in the title).
export function ackText(ack) {
  const when = Date.parse(ack.since ?? "");
  const at = Number.isFinite(when) ? ` since ${new Date(when).toLocaleTimeString()}` : "";
  return `acked by ${ack.by || "someone"}${at}${ack.comment ? `: ${ack.comment}` : ""}`;
}

export class AlertsPanel {
  constructor({ store, actions, body, count, empty, filter, filterError, grouping, chips, onRender }) {
    Object.assign(this, { store, actions, body, count, empty, filterError, grouping, chips, onRender });
    this.sinceCells = [];
    this.filter = parseFilter("");
    this.view = loadView();
    filter.addEventListener("input", () => {
      this.filter = parseFilter(filter.value);
      filter.setAttribute("aria-invalid", this.filter.error ? "true" : "false");
      setText(this.filterError, this.filter.error ?? "");
      this.render();
    });
    for (const button of grouping.querySelectorAll("button[data-group]")) {
      button.addEventListener("click", () => this.setView({ group: button.dataset.group }));
    }
    for (const button of chips.querySelectorAll("button[data-state]")) {
      button.addEventListener("click", () => {
        const states = new Set(this.view.states);
        if (states.has(button.dataset.state)) states.delete(button.dataset.state);
        else states.add(button.dataset.state);
        this.setView({ states });
      });
    }
    document.addEventListener("tokenchange", () => this.render());
    this.showView();
  }

  setView(change) {
    Object.assign(this.view, change);
    try {
      localStorage.setItem(KEY, JSON.stringify({ group: this.view.group,
        states: [...this.view.states] }));
    } catch {
      // private mode: the choice lasts for this page only
    }
    this.showView();
    this.render();
  }

  showView() {
    for (const button of this.grouping.querySelectorAll("button[data-group]")) {
      button.setAttribute("aria-pressed", String(button.dataset.group === this.view.group));
    }
    for (const button of this.chips.querySelectorAll("button[data-state]")) {
      button.setAttribute("aria-pressed", String(this.view.states.has(button.dataset.state)));
    }
  }

  shown(alert) {
    return this.view.states.has(category(alert)) && this.filter.test(alert);
  }

  // [[group name, [alert, ...]], ...]: the filters applied, most severe group first.
  groups() {
    const groups = new Map();
    for (const alert of this.store.values()) {
      if (!this.shown(alert)) continue;
      const name = this.view.group === "cluster" ? alert.cluster : alert.labels?.alertname ?? "";
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
    const state = category(alert);
    const when = h("span", { class: "since", title: alert.startsAt ?? "" });
    this.sinceCells.push([when, alert.startsAt]);
    const meta = h("span", { class: "meta" },
      h("span", { class: "cluster", title: "cluster", text: alert.cluster }),
      h("span", { class: "alert-state", "data-state": state, text: state }),
      this.view.group === "cluster" ? h("span", { class: "name", text: labels.alertname ?? "" }) : null,
      alert.ack ? h("span", { class: "ack", title: alert.ack.until ? `until ${alert.ack.until}` : null,
        text: ackText(alert.ack) }) : null);
    return h("li", { class: `alert ${severityClass(severity)}`, "data-fingerprint": alert.fingerprint,
      "data-cluster": alert.cluster, "data-state": state },
    h("span", { class: "severity", text: severity || "–" }),
    h("span", { class: "instance", title: labels.instance ?? null, text: labels.instance ?? "" }),
    h("span", { class: "summary", text: annotations.summary ?? annotations.description ?? "" }),
    when, meta,
    writeToken() ? this.actions.buttons(alert) : null);
  }

  render() {
    this.sinceCells = [];
    let shown = 0;
    const groups = this.groups().map(([name, list]) => {
      shown += list.length;
      const label = name || (this.view.group === "cluster" ? "(no cluster)" : "(no alertname)");
      return h("section", { class: `alert-group ${severityClass(list[0].labels?.severity ?? "")}`,
        "data-group": name, [`data-${this.view.group}`]: name },
      h("h3", {}, h("span", { class: "alertname", text: label }),
        h("span", { class: "count", text: String(list.length) })),
      h("ul", {}, ...list.map((alert) => this.row(alert))));
    });
    this.body.replaceChildren(...groups);
    const total = this.store.size;
    setText(this.count, shown === total ? String(total) : `${shown} / ${total}`);
    toggle(this.empty, "hidden", shown > 0);
    setText(this.empty, total ? "No firing alert matches the filter." : "No alert is firing.");
    this.tick();
    this.onRender?.(this);
  }

  // Refresh the relative ages.
  tick(now = Date.now()) {
    for (const [cell, startsAt] of this.sinceCells) setText(cell, since(startsAt, now));
  }
}
